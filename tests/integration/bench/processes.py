"""Shared bench plumbing: free ports, server processes, the artifacts directory.

``free_udp_port()`` / ``free_tcp_port()`` ask the kernel for an unused port on
127.0.0.1 (ephemeral range, 32768-60999 on this machine).  Servers run as
``ManagedProcess`` in their own session and die with pytest.  The artifacts
directory (where SIPp runs keep their logs) is owned here: other modules reach it
through ``artifacts_dir()`` / ``new_run_dir()``, never through a copied global.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

#: ``tests/integration``: the Kamailio template and SIPp scenarios live below it
INTEGRATION_DIR = Path(__file__).resolve().parent.parent
LOCALHOST = "127.0.0.1"
INSTALL_HINT = "run scripts/test, which apt-get installs the integration test servers"


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


_RTP_FIRST, _RTP_LAST = 10000, 19998
_rtp_next: list[int] = []


def free_rtp_base() -> int:
    """An even port p on 127.0.0.1 with p and p + 2 free, for SIPp's audio and video RTP.

    Taken below the kernel's ephemeral range (32768+) and below the agents' blocks
    (20000+), so no socket bound to port 0 meanwhile takes p + 2, which SIPp does not
    retry. Each xdist worker walks its own slice so parallel workers never race.
    """
    index, count = xdist_worker()
    span = (_RTP_LAST - _RTP_FIRST) // count
    first = _RTP_FIRST + span * index
    if not _rtp_next:
        _rtp_next.append(first + (os.getpid() % 500) * 2)
    for _ in range(span // 4):
        base = _rtp_next[0]
        _rtp_next[0] = base + 4 if base + 4 < first + span - 4 else first
        if _udp_port_free(base) and _udp_port_free(base + 2):
            return base
    raise RuntimeError(f"no free RTP port pair in {first}-{first + span}")


def xdist_worker() -> tuple[int, int]:
    """(this worker's index, how many workers) under pytest-xdist; (0, 1) without it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return int(worker.removeprefix("gw") or 0), max(count, 1)


def udp_port_bound(port: int, host: str = LOCALHOST) -> bool:
    """True if some local socket is bound to UDP host:port (or the wildcard)."""
    wanted = {f"{_hex_ip(host)}:{port:04X}", f"00000000:{port:04X}"}
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:  # pragma: no cover - no procfs: fall back to a bind probe
        return not _udp_port_free(port, host)
    return any(line.split()[1] in wanted for line in lines if len(line.split()) > 1)


def _hex_ip(host: str) -> str:
    return "".join(f"{b:02X}" for b in reversed(socket.inet_aton(host)))


def _udp_port_free(port: int, host: str = LOCALHOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def tcp_port_accepts(port: int, host: str = LOCALHOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def require_executable(name: str, what: str | None = None) -> str:
    """Path of ``name``; a missing component FAILS the test run (never skips)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        pytest.fail(
            f"{what or name} not installed ({name} not on PATH): {INSTALL_HINT}", pytrace=False
        )
    return path


def log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def wait_until(predicate, timeout_s: float, interval_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


_artifacts_dir: Path | None = None


def set_artifacts_dir(path: Path) -> None:
    """Where SIPp runs keep their logs (conftest points this at a pytest tmp dir)."""
    global _artifacts_dir
    path.mkdir(parents=True, exist_ok=True)
    _artifacts_dir = path


def artifacts_dir() -> Path:
    global _artifacts_dir
    if _artifacts_dir is None:
        _artifacts_dir = Path(tempfile.mkdtemp(prefix="callcenter-bench-"))
    return _artifacts_dir


_run_counter = itertools.count(1)


def new_run_dir(label: str) -> Path:
    d = artifacts_dir() / f"{next(_run_counter):04d}-{label}"
    d.mkdir(parents=True, exist_ok=True)
    return d


# --------------------------------------------------------------------------- process control


def _die_with_pytest() -> None:
    """preexec_fn: SIGTERM the child if pytest dies (even by SIGKILL) - no orphan servers."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - best effort only
        pass


def pdeathsig_preexec():
    # PDEATHSIG fires when the *thread* that forked exits: only use it from the main
    # thread, so e.g. ``await asyncio.to_thread(broker.restart)`` cannot kill the broker
    # when the executor thread goes away.
    return _die_with_pytest if threading.current_thread() is threading.main_thread() else None


class ManagedProcess:
    """A long-running server in its own session; stdout+stderr go to ``log_path``."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, cwd: Path | None = None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=pdeathsig_preexec(),
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        pgid = proc.pid  # start_new_session: the pgid is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout_s)

    def fail_unless_running(self, what: str) -> None:
        if not self.alive():
            code = self.proc.returncode if self.proc else None
            pytest.fail(
                f"{what} exited (code {code}) - log {self.log_path}:\n{log_tail(self.log_path)}",
                pytrace=False,
            )
