"""A private Docker engine for the compose stack test: a dockerd of our own (config file,
data root, exec root, pidfile and socket), never the host's one, stopped and cleaned away.

It runs without iptables and without the default ``docker0`` bridge: containers reach each
other by name on the compose network's bridge, the host reaches published ports through
``docker-proxy`` on 127.0.0.1, and nothing reaches out. So a Docker engine already on the
host keeps its own ``DOCKER*`` chains and bridges untouched, and the cleanup checks that no
chain, bridge or mount of ours is left (it removes any that appeared, only those).

The data root is the cache: ``~/.cache/callcenter/docker/data-root`` keeps the stand-in base
images and the build layers between runs on the same machine, held by one run at a time
(a lock); a second run at once gets a throw-away data root.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pytest

from tests.integration.bench.processes import pdeathsig_preexec

INSTALL_HINT = "run scripts/test, which apt-get installs docker.io, docker-compose and debootstrap"
#: Debian package -> the program the test needs from it
TOOLS = {
    "dockerd": "docker.io",
    "containerd": "containerd",
    "runc": "runc",
    "docker-compose": "docker-compose",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
}


#: made by any dockerd whatever its exec root (plugin sockets, containerd shims' sockets)
RUN_DIRS = (Path("/run/docker"), Path("/run/containerd"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callcenter" / "docker"


def docker_client() -> str:
    # docker.io's own client matches the engine it installs; another one on PATH may not.
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else _which("docker")


def _which(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if not found:
        pytest.fail(f"{name} not found: {INSTALL_HINT}", pytrace=False)
    return found


def check_tools() -> None:
    missing = [pkg for tool, pkg in TOOLS.items() if not _found(tool)]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: {INSTALL_HINT}", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("the compose stack test starts its own dockerd: run it as root", pytrace=False)


def _found(tool: str) -> bool:
    return bool(shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin"))


class HostState:
    """What the host had before our engine started: bridges, DOCKER* chains, mounts."""

    def __init__(self) -> None:
        self.bridges = _bridges()
        self.chains = _docker_chains()
        self.run_dirs = {d for d in RUN_DIRS if d.exists()}

    def _remove_run_dirs(self) -> bool:
        """Remove the empty run directories a dockerd made; True while one remains."""
        remaining = False
        for run_dir in RUN_DIRS:
            if run_dir.exists() and run_dir not in self.run_dirs:
                # only while empty: a socket in it would be another engine's
                for sub in sorted(run_dir.rglob("*"), reverse=True):
                    with contextlib.suppress(OSError):
                        sub.rmdir()
                with contextlib.suppress(OSError):
                    run_dir.rmdir()
                remaining = remaining or run_dir.exists()
        return remaining

    def leftovers(self, roots: Sequence[Path]) -> list[str]:
        left = [f"bridge {b}" for b in sorted(_bridges() - self.bridges)]
        left += [f"iptables chain {t}/{c}" for t, c in sorted(_docker_chains() - self.chains)]
        left += [f"mount {m}" for m in _mounts_under(roots)]
        left += [f"directory {d}" for d in RUN_DIRS if d.exists() and d not in self.run_dirs]
        return left

    def clean(self, roots: Sequence[Path]) -> None:
        # A shim's socket may still be going away: look again for a few seconds.
        deadline = time.monotonic() + 5
        while self._remove_run_dirs() and time.monotonic() < deadline:
            time.sleep(0.2)
        for mount in reversed(_mounts_under(roots)):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        for bridge in _bridges() - self.bridges:
            subprocess.run(["ip", "link", "delete", bridge], check=False, capture_output=True)
        for table, chain in _docker_chains() - self.chains:
            for action in ("-F", "-X"):
                subprocess.run(["iptables", "-t", table, action, chain], capture_output=True)


def _bridges() -> set[str]:
    out = subprocess.run(
        ["ip", "-o", "link", "show", "type", "bridge"], capture_output=True, text=True
    ).stdout
    return {line.split(":")[1].strip() for line in out.splitlines() if ":" in line}


def _docker_chains() -> set[tuple[str, str]]:
    if not shutil.which("iptables"):
        return set()
    chains = set()
    for table in ("filter", "nat"):
        out = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "-N" and parts[1].startswith("DOCKER"):
                chains.add((table, parts[1]))
    return chains


def _mounts_under(roots: Sequence[Path]) -> list[str]:
    prefixes = [str(r.resolve()) for r in roots]
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if any(target == p or target.startswith(p + "/") for p in prefixes):
            found.append(target)
    return found


def free_address_pool() -> str:
    """A /16 for the compose networks that no route or address of the host uses."""
    out = subprocess.run(["ip", "-o", "route"], capture_output=True, text=True).stdout
    out += subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    used = []
    for word in out.split():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(word, strict=False))
    for second in range(213, 250):
        pool = ipaddress.ip_network(f"10.{second}.0.0/16")
        if not any(pool.overlaps(net) for net in used if net.version == 4):
            return str(pool)
    raise RuntimeError("no free 10.x.0.0/16 for the test's compose networks")


class PrivateDocker:
    """``docker(...)`` / ``compose(...)`` against our own dockerd; ``stop()`` cleans up."""

    def __init__(self, run_dir: Path):
        check_tools()
        self.run_dir = run_dir
        # Short paths: containerd's sockets live under the exec root (108-byte limit).
        self.exec_root = Path(tempfile.mkdtemp(prefix="ccdk-", dir="/tmp"))
        self.socket = self.exec_root / "docker.sock"
        self.env = {
            **os.environ,
            "DOCKER_HOST": f"unix://{self.socket}",
            # the client's own config (credentials, contexts) stays out of ~/.docker
            "DOCKER_CONFIG": str(run_dir / "client"),
        }
        self.log_path = run_dir / "dockerd.log"
        self.host = HostState()
        self._lock: IO[str] | None = None
        self.data_root = self._take_cache() or run_dir / "data-root"
        self.cached = self._lock is not None
        self.process: subprocess.Popen[bytes] | None = None

    def _take_cache(self) -> Path | None:
        root = cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        lock = (root / "lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return None
        self._lock = lock
        return root / "data-root"

    def start(self) -> None:
        _remove_dead_exec_roots(self.exec_root)
        try:
            self._start()
        except RuntimeError:
            if not self.cached:
                raise
            # A cache left broken by a killed run: start over from nothing.
            self._stop_daemon()
            self.host.clean([self.exec_root, self.data_root])
            shutil.rmtree(self.data_root, ignore_errors=True)
            self._start()
        # A run killed half-way leaves its containers, networks and volumes in the cached
        # data root: every one of them is this test's (the engine is ours), none is kept.
        ids = self.docker("ps", "-aq").stdout.split()
        if ids:
            self.docker("rm", "-f", "-v", *ids, timeout=120)
        self.docker("network", "prune", "-f", timeout=120)
        self.docker("volume", "prune", "-f", timeout=120)

    def _start(self) -> None:
        config = self.run_dir / "daemon.json"
        config.write_text(
            json.dumps(
                {
                    "iptables": False,
                    "ip-masq": False,
                    "bridge": "none",
                    "default-address-pools": [{"base": free_address_pool(), "size": 24}],
                    # else dockerd writes /etc/docker/key.json
                    "deprecated-key-path": str(self.run_dir / "key.json"),
                    "log-level": "warn",
                }
            )
        )
        argv = [
            _which("dockerd"),
            "--config-file", str(config),
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.exec_root / "docker.pid"),
            "-H", f"unix://{self.socket}",
        ]  # fmt: skip
        self.data_root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=pdeathsig_preexec(),
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.docker("version", check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"dockerd did not start; its log ({self.log_path}):\n{self._log()}")

    def _log(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def docker(
        self, *args: str, check: bool = True, timeout: float = 600, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self._run([docker_client(), *args], check, timeout, input)

    def _run(
        self, argv: list[str], check: bool, timeout: float, input: str | None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, input=input
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {done.returncode}\n"
                f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
            )
        return done

    def compose(
        self,
        base: Sequence[str],
        *args: str,
        check: bool = True,
        timeout: float = 600,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return self._run([_which("docker-compose"), *base, *args], check, timeout, input)

    def stop(self) -> tuple[list[str], list[str]]:
        """Stop everything of ours: (what dockerd left behind and we removed, what remains)."""
        if self.process is not None and self.process.poll() is None:
            ids = self.docker("ps", "-aq", check=False, timeout=60).stdout.split()
            if ids:
                self.docker("rm", "-f", "-v", *ids, check=False, timeout=120)
            for prune in (["network", "prune"], ["volume", "prune"], ["image", "prune"]):
                self.docker(*prune, "-f", check=False, timeout=120)
        self._stop_daemon()
        roots = [self.exec_root, self.data_root, self.run_dir]
        left = self.host.leftovers(roots)
        self.host.clean(roots)
        remains = self.host.leftovers(roots)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        if not self.cached:
            shutil.rmtree(self.data_root, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        return left, remains

    def _stop_daemon(self) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        # dockerd stops its containers and its containerd itself when asked politely.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        # containerd's shims run in sessions of their own; ours name our exec root. A killed
        # shim removes its socket under /run/containerd as it exits: wait for that.
        for pid in _processes_naming(str(self.exec_root)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _processes_naming(str(self.exec_root)) and time.monotonic() < deadline:
            time.sleep(0.1)


def _remove_dead_exec_roots(ours: Path) -> None:
    """Exec roots of earlier runs whose dockerd is gone (killed with pytest): their network
    namespace mount and files. A live dockerd's, or one just made, is left alone."""
    for root in Path("/tmp").glob("ccdk-*"):
        if root == ours or time.time() - root.stat().st_mtime < 600:
            continue
        with contextlib.suppress(OSError, ValueError):
            if Path(f"/proc/{int((root / 'docker.pid').read_text())}").exists():
                continue
        for mount in reversed(_mounts_under([root])):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _processes_naming(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids
