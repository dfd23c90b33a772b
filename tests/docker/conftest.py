"""Fixtures of the compose stack test (module scope: one engine, one stack for the module).

``engine``  our own dockerd (``engine.py``), stopped at the end; a chain, bridge or mount
            of ours still on the host after the cleanup fails the run.
``built``   the stand-in base images and the project's images (``images.py``) -> figures
``stack``   docker/compose.yaml up (profile kamailio) with a throw-away env file and
            config dir: an agent li.na on extension 2001 and a team lead's API token.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.docker import images
from tests.docker.engine import PrivateDocker
from tests.integration import bench
from tests.integration.bench.processes import udp_port_bound, wait_until

REPO = images.REPO
PROJECT = "cctest"
#: the test's ring cadence: limit 3 → the alert falls 3 s after the first ring
CYCLE_SECONDS = 1.0
#: the example Kamailio rings a phone this long before it gives up (past the limit)
RING_TIMEOUT_MS = 5000
AGENT, EXTENSION, HOTLINE = "li.na", 2001, "96069"


@dataclass
class Stack:
    engine: PrivateDocker
    base: list[str]
    http_port: int
    hep_port: int
    mqtt_port: int
    kamailio_port: int
    mqtt_password: str
    backups: Path
    token: str = ""
    figures: dict[str, float] = field(default_factory=dict)

    def compose(self, *args: str, **kwargs: Any) -> Any:
        return self.engine.compose(self.base, *args, **kwargs)

    def ops(self, *args: str, **kwargs: Any) -> Any:
        """`callcenter ARGS` in a throw-away container of the ops image, as docker/README.md."""
        run = ("--profile", "ops", "run", "--rm", "-T", "ops", *args)
        return self.engine.compose(self.base, *run, **kwargs)

    def get(self, path: str) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def container(self, service: str) -> dict[str, Any]:
        cid = self.compose("ps", "-q", service).stdout.strip()
        inspected: list[dict[str, Any]] = json.loads(self.engine.docker("inspect", cid).stdout)
        return inspected[0]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateDocker]:
    engine = PrivateDocker(tmp_path_factory.mktemp("docker"))
    engine.start()
    try:
        yield engine
    finally:
        cleaned, remains = engine.stop()
        print(f"\ndocker: removed after dockerd stopped: {cleaned or 'nothing'}")
        assert not remains, f"left on the host after the cleanup: {remains}"


@pytest.fixture(scope="module")
def built(engine: PrivateDocker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    figures = images.ensure_standins(engine, tmp_path_factory.mktemp("standins"))
    figures |= images.build_project_images(engine)
    for tag in (images.SERVICE_IMAGE, images.KAMAILIO_IMAGE):
        figures[f"{tag} MB"] = images.image_size(engine, tag) / 1e6
    return figures


@pytest.fixture(scope="module")
def stack(
    engine: PrivateDocker, built: dict[str, float], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stack")
    config = work / "config"
    shutil.copytree(REPO / "docker/config", config)
    with (config / "callcenter.toml").open("a") as toml:
        toml.write(f"\n[rings]\ncycle_seconds = {CYCLE_SECONDS}\n")
    for path in (work, config, config / "callcenter.toml"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # read by the container's own user
    passwords = {"POSTGRES_PASSWORD": secrets.token_hex(16), "MQTT_PASSWORD": secrets.token_hex(16)}
    ports = {
        "CALLCENTER_HTTP_PORT": bench.free_tcp_port(),
        "CALLCENTER_HEP_PORT": bench.free_udp_port(),
        "MQTT_PORT": bench.free_tcp_port(),
    }
    kamailio_port = bench.free_udp_port()
    backups = work / "backups"
    backups.mkdir()
    os.chown(backups, 10001, 10001)  # the containers' user, as docker/env.example says
    env = {
        **passwords,
        **{k: str(v) for k, v in ports.items()},
        "CALLCENTER_BIND": "127.0.0.1",
        "CALLCENTER_CONFIG_DIR": str(config),
        "CALLCENTER_BACKUP_DIR": str(backups),
        "KAMAILIO_LISTEN": f"udp:127.0.0.1:{kamailio_port}",
        "HOTLINE": HOTLINE,
        "HOTLINE_EXTENSION": str(EXTENSION),
        "RING_TIMEOUT_MS": str(RING_TIMEOUT_MS),
    }
    env_file = work / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    base = ["--env-file", str(env_file), "-f", str(REPO / "docker/compose.yaml"), "-p", PROJECT,
            "--profile", "kamailio"]  # fmt: skip
    stack = Stack(
        engine, base, ports["CALLCENTER_HTTP_PORT"], ports["CALLCENTER_HEP_PORT"],
        ports["MQTT_PORT"], kamailio_port, passwords["MQTT_PASSWORD"], backups,
    )  # fmt: skip
    started = time.monotonic()
    try:
        # The first users, as docker/README.md says; `run` waits for the migration first.
        run = ("run", "--rm", "-T", "callcenter")
        agent = ("user", "add", AGENT, "--role", "agent", "--extension", str(EXTENSION))
        stack.compose(*run, *agent, input="password1\n")
        stack.compose(*run, "user", "add", "lead", "--role", "team_lead", input="password1\n")
        token = stack.compose(*run, "token", "create", "lead", input="")
        stack.token = token.stdout.strip().splitlines()[-1]
        stack.compose("up", "-d")
        wait_healthy(stack)
        if not wait_until(lambda: udp_port_bound(kamailio_port), 30):
            raise AssertionError("the Kamailio container never listened:\n" + _logs(stack))
        stack.figures = {**built, "stack up": time.monotonic() - started}
        print("\ndocker figures (seconds, MB):", json.dumps(stack.figures, indent=1))
        yield stack
    except BaseException:
        print(_logs(stack))
        raise
    finally:
        stack.compose("down", "-v", "--remove-orphans", check=False, timeout=180)


def wait_healthy(stack: Stack) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if stack.get("/api/health")["status"] == "ok":
                return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError("the service never answered /api/health with ok:\n" + _logs(stack))


def _logs(stack: Stack) -> str:
    done = stack.compose("logs", "--no-color", "--tail", "60", check=False, timeout=60)
    return f"{done.stdout[-12000:]}{done.stderr[-2000:]}"
