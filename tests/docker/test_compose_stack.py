"""docker/compose.yaml as an operator runs it: the service image on PostgreSQL and Mosquitto
(local stand-ins for the official images), the example Kamailio in front. A real call from
SIPp on this host rings the agent's phone through the Kamailio container past the ring limit;
the service, fed by Kamailio's HEP mirror, shows the call and its violation on its API and
alerts over the stack's own broker. Figures (build and start-up seconds, image size) are
printed; run with -s to see them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomqtt
import pytest

from tests.docker import images
from tests.docker.conftest import (
    AGENT,
    EXTENSION,
    HOTLINE,
    REPO,
    RING_TIMEOUT_MS,
    Stack,
    wait_healthy,
)  # fmt: skip
from tests.docker.engine import PrivateDocker
from tests.integration import bench
from tests.integration.bench.sipp import register_phone

# One worker holds the whole module (scripts/test runs xdist with --dist loadgroup); the
# first test also waits for the images, which a fresh machine builds from nothing.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("docker"),
    pytest.mark.timeout(1200),
]
CALLER = "13800000001"


@dataclass
class RungOut:
    """One call to the hotline that rang the agent's phone until Kamailio gave up."""

    sip_call_id: str
    final_status: int | None
    alerts: list[dict[str, Any]]


@pytest.fixture(scope="module")
def rung_out(stack: Stack) -> RungOut:
    return asyncio.run(_ring_out(stack))


async def _ring_out(stack: Stack) -> RungOut:
    registrar = f"127.0.0.1:{stack.kamailio_port}"
    phone_port = bench.free_udp_port()
    registered = await register_phone(
        registrar, EXTENSION, contact_user="desk-phone", local_port=phone_port
    )
    assert registered.ok, registered.describe()
    alerts: list[dict[str, Any]] = []
    async with aiomqtt.Client(
        "127.0.0.1", stack.mqtt_port, username="callcenter", password=stack.mqtt_password
    ) as mqtt:
        await mqtt.subscribe("callcenter/alerts/ring-limit", qos=1)
        phone = await bench.start_sipp(
            "uas_no_answer.xml", local_port=phone_port, service=EXTENSION, timeout_s=30
        )
        await phone.wait_bound()
        caller = await bench.start_sipp(
            "uac_not_answered.xml", remote=registrar, inject=[(HOTLINE, CALLER)], timeout_s=30
        )
        try:
            async with asyncio.timeout(30):
                async for message in mqtt.messages:
                    assert isinstance(message.payload, bytes)
                    alerts.append(json.loads(message.payload))
                    break
        finally:
            uac = await caller.wait(RING_TIMEOUT_MS / 1000 + 15)
            uas = await phone.wait(5)
    assert uac.ok and uas.ok, f"{uac.describe()}\n{uas.describe()}"
    (call_id,) = uac.call_ids()
    return RungOut(call_id, uac.finals().get(call_id), alerts)


def _poll(check: Any, within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_migrations_run_once_and_before_the_service(stack: Stack) -> None:
    migrate = stack.compose("ps", "-a", "-q", "migrate").stdout.split()
    assert len(migrate) == 1
    (state,) = json.loads(stack.engine.docker("inspect", migrate[0]).stdout)
    assert state["State"]["Status"] == "exited" and state["State"]["ExitCode"] == 0
    service = stack.container("callcenter")
    assert _time(state["State"]["FinishedAt"]) <= _time(service["State"]["StartedAt"])
    assert stack.get("/api/health")["database"] == "ok"


def test_a_call_ringing_past_the_limit_is_on_the_api(stack: Stack, rung_out: RungOut) -> None:
    assert rung_out.final_status == 480  # Kamailio gave up on the phone: rang out

    def closed() -> dict[str, Any] | None:
        calls = [c for c in stack.get("/api/calls") if c["sip_call_id"] == rung_out.sip_call_id]
        return calls[0] if calls and calls[0]["ended_at"] else None

    call = _poll(closed)
    assert call, f"call {rung_out.sip_call_id} not closed on /api/calls"
    assert call["caller"] == CALLER and call["extension"] == str(EXTENSION)
    assert call["agent"] == AGENT and call["outcome"] == "unanswered"
    assert call["within_ring_limit"] is False


def test_its_ring_limit_violation_is_on_the_api(stack: Stack, rung_out: RungOut) -> None:
    def settled() -> list[dict[str, Any]]:
        # raised at the deadline; how the leg ended is filled in when it ends
        found = [v for v in stack.get("/api/violations") if v["kind"] == "ring_limit"]
        return found if found and all(v["leg_outcome"] for v in found) else []

    (violation,) = _poll(settled)
    assert violation["agent"] == AGENT and violation["leg_outcome"] == "unanswered"


def test_its_alert_reaches_a_subscriber_of_the_stack_broker(
    stack: Stack, rung_out: RungOut
) -> None:
    (alert,) = rung_out.alerts
    assert alert["type"] == "ring_limit" and alert["sip_call_id"] == rung_out.sip_call_id
    assert alert["extension"] == str(EXTENSION) and alert["agent"] == AGENT
    assert alert["caller"] == "138****0001" and alert["limit"] == 3
    (violation,) = [v for v in stack.get("/api/violations") if v["kind"] == "ring_limit"]
    assert alert["violation_id"] == violation["id"]


def test_the_service_container_turns_healthy(stack: Stack) -> None:
    def healthy() -> bool:
        return bool(stack.container("callcenter")["State"]["Health"]["Status"] == "healthy")

    assert _poll(healthy, within=60)


def test_the_service_runs_unprivileged_with_its_secrets_in_memory_only(stack: Stack) -> None:
    script = (
        "id -u; stat -c %a /run/callcenter/callcenter.toml;"
        " grep -c PASSWORD /etc/callcenter/callcenter.toml"
    )
    out = stack.compose("exec", "-T", "callcenter", "sh", "-c", script).stdout.split()
    assert out == ["10001", "600", "2"]  # the mounted config keeps ${…} placeholders
    mounts = stack.container("callcenter")["HostConfig"]["Tmpfs"]
    assert "/run/callcenter" in mounts


def test_a_backup_made_while_it_runs_restores_the_call_and_its_recording(
    stack: Stack, rung_out: RungOut
) -> None:
    # A recording of the call, stored as Asterisk's MixMonitor would store it.
    store = (
        "ffmpeg -loglevel error -f lavfi -i sine=d=1 -ar 8000 /tmp/r.wav"
        f" && callcenter recording add --call {rung_out.sip_call_id} /tmp/r.wav"
    )
    stack.compose("exec", "-T", "callcenter", "sh", "-c", store)
    count = "find /var/lib/callcenter/recordings -type f -name '*.wav' | wc -l"
    assert stack.compose("exec", "-T", "callcenter", "sh", "-c", count).stdout.strip() == "1"

    made = stack.ops("backup", "--to", "/backups/night.tar.gz", check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert (stack.backups / "night.tar.gz").stat().st_size > 0

    # Lost: the database and the store emptied behind the stopped service's back.
    stack.compose("stop", "callcenter")
    wipe = (
        "psql -q -v ON_ERROR_STOP=1 -U callcenter -d callcenter"
        " -c 'DROP SCHEMA public CASCADE' -c 'CREATE SCHEMA public'"
    )
    stack.compose("exec", "-T", "postgres", "sh", "-c", wipe)
    stack.ops("backup", "--help")  # the ops image's own environment works
    empty = "rm -rf /var/lib/callcenter/recordings/* && ls /var/lib/callcenter/recordings | wc -l"
    cleared = stack.compose(
        "--profile", "ops", "run", "--rm", "-T", "--entrypoint", "sh", "ops", "-c", empty
    )
    assert cleared.stdout.strip() == "0"

    restored = stack.ops("restore", "--from", "/backups/night.tar.gz", check=False)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    stack.compose("start", "callcenter")
    wait_healthy(stack)
    calls = [c for c in stack.get("/api/calls") if c["sip_call_id"] == rung_out.sip_call_id]
    assert calls, "the restored database lacks the call"
    assert stack.compose("exec", "-T", "callcenter", "sh", "-c", count).stdout.strip() == "1"


def test_the_licence_list_names_everything_the_image_ships(
    engine: PrivateDocker, built: dict[str, float]
) -> None:
    listed = engine.docker(
        "run", "--rm", "--entrypoint", "python3", images.SERVICE_IMAGE,
        "/usr/local/lib/callcenter/third_party.py",
    ).stdout  # fmt: skip
    committed = (REPO / "docker/THIRD_PARTY.md").read_text()
    missing = sorted(_names(listed) - _names(committed))
    assert not missing, (
        f"docker/THIRD_PARTY.md lacks {missing}: regenerate it (docker/README.md, Licences)"
    )


def _names(markdown: str) -> set[tuple[str, str]]:
    """(section, name) of every table row: versions may move, the names must all be there."""
    names, section = set(), ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            section = line.split()[1]
        match = re.match(r"\| ([^ |]+) \| [^|]+ \| ", line)
        if match and match.group(1) not in {"---", "distribution", "package"}:
            names.add((section, match.group(1)))
    return names


def _time(iso: str) -> float:
    # Docker writes nanoseconds; Python parses microseconds.
    trimmed = re.sub(r"(\.\d{6})\d*", r"\1", iso).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed).timestamp()
