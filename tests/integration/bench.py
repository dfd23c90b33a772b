"""Telephony test bench: real Kamailio, SIPp, Mosquitto and PostgreSQL for integration tests.

Nothing here imports ``callcenter``; the fixtures that wrap these helpers live in
``tests/integration/conftest.py``.  Everything binds to 127.0.0.1 only.

Ports
-----
``free_udp_port()`` / ``free_tcp_port()`` ask the kernel for an unused port on
127.0.0.1 (ephemeral range, 32768-60999 on this machine).

Kamailio (``KamailioFactory`` / ``KamailioProxy``)
------------------------------------------------
``factory(hep_port, *, fr_inv_timeout_ms=4000, fr_timeout_ms=2000) -> KamailioProxy``
renders ``kamailio/kamailio.cfg.tmpl`` and starts ``kamailio -f CFG -DD -E``
(foreground, log to stderr, captured in ``proxy.log_path``).  The same arguments
return the same running proxy for the whole session.  The proxy is a stateful
(tm) proxy on ``udp:127.0.0.1:<proxy.port>`` that

* mirrors every SIP datagram it receives *and* sends - requests, relayed and
  locally generated replies (100 Trying, 480/408), proxy-generated CANCEL and
  hop-by-hop ACK - as HEPv3 to ``127.0.0.1:<hep_port>`` (siptrace
  ``trace_mode=1``: core network in/out events; each message that crosses the
  proxy is therefore seen twice, once in and once out);
* routes ``INVITE sip:<ext>@127.0.0.1:<proxy.port>`` for extensions 2000..2999 to
  the agent phone at ``udp:127.0.0.1:<proxy.agent_port(ext)>`` where
  ``agent_port(ext) = proxy.agent_port_base + (ext - 2000)``.  The base is 20000
  (ext 2001 -> port 20001) unless that block of 1000 ports is busy (e.g. another
  test session on the machine), then 21000, 22000, ... - always use
  ``proxy.agent_port(ext)``.  Other users get 404;
* cancels an agent branch that rings longer than ``fr_inv_timeout_ms`` and
  answers the caller 480 Temporarily Unavailable ("rang out"); a phone that
  never sends any reply is given up after ``fr_timeout_ms`` with 408;
* record-routes the INVITE, so ACK/BYE of both parties cross (and are mirrored
  by) the proxy.

SIPp
----
``start_sipp(...) -> SippProcess`` / ``await run_sipp(...) -> SippResult`` run one
SIPp instance (``-nostdin``, ``-trace_err``, ``-trace_logs``, ``-trace_msg``
into a fresh directory under the artifacts dir) with a hard timeout after which
it is killed.  Every SIPp started here is registered and killed at test teardown
(``kill_leftover_processes()``).  SIPp exit codes: 0 all calls succeeded,
1 some call failed, 97 stopped by command, 99 no call processed, 255 fatal
error or ``-timeout_error``, 254 could not bind its port.

Scenarios in ``sipp/`` (all log ``<call-id> START/FINAL <code>/END`` lines):

========================  =====================================================
uac_caller_hangup.xml     INVITE, on 200: ACK, talk ``hold_ms``, BYE (caller
                          hangs up).  Negative finals are ACKed and logged.
uac_agent_hangup.xml      INVITE, on 200: ACK, wait for the agent's BYE, 200.
uac_cancel.xml            INVITE, after 180 wait ``cancel_ms``, CANCEL, expect
                          200 + 487, ACK (abandoned call).
uac_not_answered.xml      INVITE, expect a negative final (408/480 rang out,
                          486/603/... rejected), ACK.  A 200 fails the call.
uas_answer.xml            180 at once, 200 after ``answer_ms``, ACK, wait for
                          the caller's BYE, 200.
uas_agent_hangup.xml      180, 200 after ``answer_ms``, ACK, talk ``hold_ms``,
                          BYE via the record-route, expect 200.
uas_no_answer.xml         180 and keep ringing; CANCEL -> 200 + 487, ACK.
                          Serves both the abandon and the rang-out case.
uas_reject.xml            optional 180 + ``reject_after_ms``, then
                          ``reject_code`` (403 404 480 486 488 500 503 600 603).
========================  =====================================================

UACs read the extension and caller number from an injection file
(``field0;field1`` per call); delays are SIPp globals set with ``-set``.

``await place_call(proxy, extension, ...) -> CallResult`` is the one-call helper:
it starts the agent UAS on ``proxy.agent_port(extension)``, waits until it is
bound, runs the caller UAC and waits for both.  ``await place_calls(proxy,
extensions, ...)`` does the same for many simultaneous calls (one UAC with
``-m N -l N -r rate``, one UAS per distinct extension).

Mosquitto (``MosquittoBroker``) and PostgreSQL (``PostgresCluster``) are
documented on their classes.

Pitfalls
--------
* HEP copies are sent by several Kamailio worker processes, so their arrival
  order is not guaranteed to be causal (once seen: the outgoing copy of a
  relayed BYE arrived after the 200 answering it).  Order by the HEP timestamp
  (chunks 9/10) or by SIP semantics rather than by arrival.
* Relayed replies are forwarded as received, minus the proxy's Via: a UAS
  reply must carry *all* Via headers of the INVITE.  ``uas_no_answer.xml``
  therefore builds its 487 from the saved INVITE headers, not from the CANCEL
  (which only has the proxy's Via) - otherwise the caller gets a Via-less 487.
* SIPp cannot take a status code from a variable, so ``uas_reject.xml`` has one
  reply block per supported code.
* Every SIPp binds RTP sockets (``-mp``, default 6000 and 6002, retrying +2 up to
  ~100 times) and a control socket (``-cp`` 8888, on 0.0.0.0 unless ``-ci``):
  ``start_sipp`` gives each instance its own free ports, bound to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SIPP_DIR = HERE / "sipp"
KAMAILIO_TEMPLATE = HERE / "kamailio" / "kamailio.cfg.tmpl"
KAMAILIO_MODULE_PATH = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
KAMAILIO_MODULES = ("tm", "sl", "rr", "maxfwd", "textops", "pv", "xlog", "siptrace")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
LOCALHOST = "127.0.0.1"

EXTENSION_MIN = 2000
EXTENSION_MAX = 2999
DEFAULT_AGENT_PORT_BASE = 20000
DEFAULT_CALLER = "13800000001"

INSTALL_HINT = "run scripts/test, which apt-get installs the integration test servers"

#: status codes uas_reject.xml can send
REJECT_REASONS = {
    403: "Forbidden",
    404: "Not Found",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
}
#: what the caller gets when the proxy gives up on a ringing phone (480) or a silent one (408)
RANG_OUT_STATUSES = frozenset({480, 408})


# --------------------------------------------------------------------------- ports / misc


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


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _wait_until(predicate, timeout_s: float, interval_s: float = 0.02) -> bool:
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


def _new_run_dir(label: str) -> Path:
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


def _preexec():
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
                preexec_fn=_preexec(),
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
                f"{what} exited (code {code}) - log {self.log_path}:\n{_tail(self.log_path)}",
                pytrace=False,
            )


# --------------------------------------------------------------------------- Kamailio


@dataclasses.dataclass
class KamailioProxy:
    """A running bench proxy (see the module docstring for its routing)."""

    host: str
    port: int
    hep_port: int
    fr_inv_timeout_ms: int
    fr_timeout_ms: int
    agent_port_base: int
    cfg_path: Path
    log_path: Path
    process: ManagedProcess = dataclasses.field(repr=False)

    @property
    def address(self) -> str:
        """``host:port`` as SIPp wants the remote party."""
        return f"{self.host}:{self.port}"

    def agent_port(self, extension: int | str) -> int:
        """UDP port on 127.0.0.1 where the agent phone for ``extension`` must listen."""
        ext = int(extension)
        if not EXTENSION_MIN <= ext <= EXTENSION_MAX:
            raise ValueError(f"extension {ext} outside {EXTENSION_MIN}..{EXTENSION_MAX}")
        return self.agent_port_base + ext - EXTENSION_MIN

    def uri(self, extension: int | str) -> str:
        """Request-URI a caller dials to reach ``extension`` through this proxy."""
        return f"sip:{extension}@{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self) -> None:
        self.process.stop()


def _agent_port_block_free(base: int) -> bool:
    socks: list[socket.socket] = []
    try:
        for port in range(base, base + EXTENSION_MAX - EXTENSION_MIN + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind((LOCALHOST, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def pick_agent_port_base() -> int:
    for base in range(DEFAULT_AGENT_PORT_BASE, 30000, 1000):
        if _agent_port_block_free(base):
            return base
    raise RuntimeError("no free block of 1000 UDP ports in 20000-29999 for agent phones")


def render_kamailio_cfg(
    *,
    sip_port: int,
    hep_port: int,
    fr_inv_timeout_ms: int,
    fr_timeout_ms: int,
    agent_port_base: int,
    hep_capture_id: int = 2001,
    debug_level: int = 2,
) -> str:
    values = {
        "SIP_PORT": sip_port,
        "HEP_PORT": hep_port,
        "FR_INV_TIMEOUT_MS": fr_inv_timeout_ms,
        "FR_TIMEOUT_MS": fr_timeout_ms,
        "AGENT_PORT_BASE": agent_port_base,
        "AGENT_PORT_OFFSET": agent_port_base - EXTENSION_MIN,
        "HEP_CAPTURE_ID": hep_capture_id,
        "DEBUG_LEVEL": debug_level,
        "MODULE_PATH": str(KAMAILIO_MODULE_PATH),
    }
    text = KAMAILIO_TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", str(value))
    if "@@" in text:
        raise RuntimeError(f"unrendered placeholder left in {KAMAILIO_TEMPLATE}")
    return text


def check_kamailio_installed() -> str:
    exe = require_executable("kamailio", "kamailio")
    missing = [m for m in KAMAILIO_MODULES if not (KAMAILIO_MODULE_PATH / f"{m}.so").exists()]
    if missing:
        pytest.fail(
            f"kamailio modules missing from {KAMAILIO_MODULE_PATH}: {', '.join(missing)}: "
            f"{INSTALL_HINT}",
            pytrace=False,
        )
    return exe


class KamailioFactory:
    """``factory(hep_port, ...) -> KamailioProxy``; one proxy per distinct argument set."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self._proxies: dict[tuple[int, int, int], KamailioProxy] = {}

    def __call__(
        self, hep_port: int, *, fr_inv_timeout_ms: int = 4000, fr_timeout_ms: int = 2000
    ) -> KamailioProxy:
        key = (hep_port, fr_inv_timeout_ms, fr_timeout_ms)
        proxy = self._proxies.get(key)
        if proxy is not None and proxy.alive():
            return proxy
        proxy = self._start(hep_port, fr_inv_timeout_ms, fr_timeout_ms)
        self._proxies[key] = proxy
        return proxy

    def _start(self, hep_port: int, fr_inv_timeout_ms: int, fr_timeout_ms: int) -> KamailioProxy:
        exe = check_kamailio_installed()
        agent_port_base = pick_agent_port_base()
        last_error = ""
        for _attempt in range(3):
            sip_port = free_udp_port()
            run_dir = self.base_dir / f"kamailio-{sip_port}"
            run_dir.mkdir(parents=True, exist_ok=True)
            cfg = run_dir / "kamailio.cfg"
            cfg.write_text(
                render_kamailio_cfg(
                    sip_port=sip_port,
                    hep_port=hep_port,
                    fr_inv_timeout_ms=fr_inv_timeout_ms,
                    fr_timeout_ms=fr_timeout_ms,
                    agent_port_base=agent_port_base,
                )
            )
            log_path = run_dir / "kamailio.log"
            argv = [exe, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(run_dir)]
            process = ManagedProcess("kamailio", argv, log_path, cwd=run_dir)
            process.start()
            ok = _wait_until(
                lambda p=process, port=sip_port: not p.alive() or udp_port_bound(port), 10.0
            )
            if ok and process.alive():
                # the main process binds before forking its workers; give them a moment
                _wait_until(lambda p=log_path: "processes (at least)" in p.read_text(), 2.0)
                time.sleep(0.1)
                if process.alive():
                    return KamailioProxy(
                        host=LOCALHOST,
                        port=sip_port,
                        hep_port=hep_port,
                        fr_inv_timeout_ms=fr_inv_timeout_ms,
                        fr_timeout_ms=fr_timeout_ms,
                        agent_port_base=agent_port_base,
                        cfg_path=cfg,
                        log_path=log_path,
                        process=process,
                    )
            last_error = _tail(log_path)
            process.stop()
        pytest.fail(f"kamailio did not start; last log:\n{last_error}", pytrace=False)

    def stop_all(self) -> None:
        for proxy in self._proxies.values():
            proxy.stop()
        self._proxies.clear()


# --------------------------------------------------------------------------- HEP3


@dataclasses.dataclass(frozen=True)
class HepPacket:
    """The interesting chunks of one HEPv3 datagram."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    timestamp: float
    capture_id: int | None
    payload: bytes

    @property
    def start_line(self) -> bytes:
        return self.payload.split(b"\r\n", 1)[0]


def parse_hep3(datagram: bytes) -> HepPacket:
    """Decode a HEPv3 datagram (raises ValueError if it is not one)."""
    if len(datagram) < 6 or datagram[:4] != b"HEP3":
        raise ValueError("not a HEP3 datagram")
    total = struct.unpack("!H", datagram[4:6])[0]
    chunks: dict[int, bytes] = {}
    offset = 6
    end = min(total, len(datagram))
    while offset + 6 <= end:
        _vendor, ctype, clen = struct.unpack("!HHH", datagram[offset : offset + 6])
        if clen < 6:
            raise ValueError("bad HEP3 chunk length")
        chunks[ctype] = datagram[offset + 6 : offset + clen]
        offset += clen

    def ip(ctype: int) -> str:
        raw = chunks.get(ctype, b"")
        return socket.inet_ntoa(raw) if len(raw) == 4 else ""

    def num(ctype: int) -> int | None:
        raw = chunks.get(ctype)
        return int.from_bytes(raw, "big") if raw else None

    return HepPacket(
        src_ip=ip(3),
        dst_ip=ip(4),
        src_port=num(7) or 0,
        dst_port=num(8) or 0,
        timestamp=(num(9) or 0) + (num(10) or 0) / 1e6,
        capture_id=num(12),
        payload=chunks.get(15, b""),
    )


# --------------------------------------------------------------------------- SIPp


_live_sipp: set[SippProcess] = set()


@dataclasses.dataclass
class SippResult:
    """Outcome of one SIPp run; ``log_lines`` are the scenario's <log> lines."""

    scenario: str
    returncode: int | None
    timed_out: bool
    run_dir: Path
    log_path: Path
    error_path: Path
    message_path: Path
    output_path: Path
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return [
            ln.strip()
            for ln in self.log_path.read_text(errors="replace").splitlines()
            if ln.strip()
        ]

    def errors(self) -> str:
        return self.error_path.read_text(errors="replace") if self.error_path.exists() else ""

    def call_ids(self) -> list[str]:
        return [ln.split()[0] for ln in self.log_lines if " START " in f"{ln} "]

    def finals(self) -> dict[str, int]:
        """Call-ID -> final status code of the INVITE, as logged by the UAC scenarios."""
        out: dict[str, int] = {}
        for ln in self.log_lines:
            parts = ln.split()
            if len(parts) >= 3 and parts[1] == "FINAL" and parts[2].isdigit():
                out[parts[0]] = int(parts[2])
        return out

    def describe(self) -> str:
        state = "timed out (killed)" if self.timed_out else f"exit code {self.returncode}"
        return (
            f"sipp {self.scenario}: {state} after {self.duration_s:.1f}s, "
            f"artifacts {self.run_dir}\n"
            f"  log: {self.log_lines[-8:]}\n"
            f"  errors: {self.errors()[-1500:]!r}"
        )


class SippProcess:
    """A SIPp started with :func:`start_sipp`; always ``await wait()`` or ``kill()`` it."""

    def __init__(
        self, scenario: str, run_dir: Path, proc: asyncio.subprocess.Process, local_port: int
    ):
        self.scenario = scenario
        self.run_dir = run_dir
        self.proc = proc
        self.local_port = local_port
        self.started = time.monotonic()
        self.timed_out = False

    def _result(self) -> SippResult:
        return SippResult(
            scenario=self.scenario,
            returncode=self.proc.returncode,
            timed_out=self.timed_out,
            run_dir=self.run_dir,
            log_path=self.run_dir / "log.txt",
            error_path=self.run_dir / "errors.txt",
            message_path=self.run_dir / "messages.txt",
            output_path=self.run_dir / "stdout.txt",
            duration_s=time.monotonic() - self.started,
        )

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        _live_sipp.discard(self)

    async def wait_bound(self, timeout_s: float = 5.0) -> None:
        """Wait until SIPp listens on its local port (UAS must be ready before the UAC)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                break
            if udp_port_bound(self.local_port):
                return
            await asyncio.sleep(0.01)
        result = await self.wait(0.5)
        raise RuntimeError(f"SIPp did not bind 127.0.0.1:{self.local_port}\n{result.describe()}")

    async def wait(self, timeout_s: float) -> SippResult:
        try:
            await asyncio.wait_for(self.proc.wait(), timeout_s)
        except TimeoutError:
            self.timed_out = True
            self.kill()
            await self.proc.wait()
        finally:
            if self.proc.returncode is None:  # cancelled
                self.kill()
        _live_sipp.discard(self)
        return self._result()


def _prepare_sipp_run(
    scenario: str, label: str, inject: Sequence[Sequence[object]] | None
) -> tuple[Path, Path, Path | None]:
    path = Path(scenario)
    if not path.is_absolute():
        path = SIPP_DIR / scenario
    if not path.exists():
        raise FileNotFoundError(path)
    run_dir = _new_run_dir(label)
    inject_path = None
    if inject is not None:
        inject_path = run_dir / "inject.csv"
        lines = ["SEQUENTIAL"] + [";".join(str(f) for f in row) for row in inject]
        inject_path.write_text("\n".join(lines) + "\n")
    return path, run_dir, inject_path


async def start_sipp(
    scenario: str | Path,
    *,
    remote: str | None = None,
    local_port: int | None = None,
    service: str | int | None = None,
    calls: int = 1,
    limit: int | None = None,
    rate: float | None = None,
    rate_period_ms: int = 1000,
    variables: Mapping[str, object] | None = None,
    inject: Sequence[Sequence[object]] | None = None,
    timeout_s: float = 30.0,
    label: str | None = None,
    extra_args: Iterable[str] = (),
) -> SippProcess:
    """Start SIPp on 127.0.0.1 (UDP).  ``remote`` set = UAC towards it; unset = UAS.

    ``variables`` become ``-set name value`` (scenario globals), ``inject`` rows the
    ``-inf`` file ([field0], [field1], ...), ``calls`` is ``-m``, ``limit`` ``-l``,
    ``rate``/``rate_period_ms`` ``-r``/``-rp``.  SIPp stops itself after ``timeout_s``
    (``-timeout``); :meth:`SippProcess.wait` kills it if it does not.
    """
    exe = require_executable("sipp", "sipp (sip-tester)")
    scenario = str(scenario)
    name = Path(scenario).stem
    path, run_dir, inject_path = _prepare_sipp_run(scenario, label or name, inject)
    port = local_port or free_udp_port()
    argv = [
        exe,
        "-sf",
        str(path),
        "-i",
        LOCALHOST,
        "-p",
        str(port),
        "-cp",
        str(free_udp_port()),
        "-ci",
        LOCALHOST,
        # SIPp always binds RTP sockets (audio at mp, video at mp+2) and gives up after
        # ~100 busy attempts from its default 6000: many parallel SIPps need their own
        "-mp",
        str(free_udp_port()),
        "-m",
        str(calls),
        "-nostdin",
        "-timeout",
        f"{max(1, int(timeout_s + 0.999))}s",
        "-timeout_error",
        "-trace_err",
        "-error_file",
        str(run_dir / "errors.txt"),
        "-trace_logs",
        "-log_file",
        str(run_dir / "log.txt"),
        "-trace_msg",
        "-message_file",
        str(run_dir / "messages.txt"),
    ]
    if service is not None:
        argv += ["-s", str(service)]
    if limit is not None:
        argv += ["-l", str(limit)]
    if rate is not None:
        argv += ["-r", str(rate), "-rp", str(rate_period_ms)]
    if inject_path is not None:
        argv += ["-inf", str(inject_path)]
    for key, value in (variables or {}).items():
        argv += ["-set", key, str(value)]
    argv += list(extra_args)
    if remote is not None:
        argv.append(remote)
    (run_dir / "argv.txt").write_text(" ".join(argv) + "\n")
    out = (run_dir / "stdout.txt").open("wb")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            cwd=run_dir,
            start_new_session=True,
            preexec_fn=_preexec(),
        )
    finally:
        out.close()
    sp = SippProcess(name, run_dir, proc, port)
    _live_sipp.add(sp)
    return sp


async def run_sipp(scenario: str | Path, *, timeout_s: float = 30.0, **kwargs) -> SippResult:
    """:func:`start_sipp` and wait for it (killed after ``timeout_s`` + 5 s)."""
    sp = await start_sipp(scenario, timeout_s=timeout_s, **kwargs)
    return await sp.wait(timeout_s + 5.0)


def kill_leftover_processes() -> list[str]:
    """Kill every SIPp still running; returns their scenario names."""
    killed = []
    for sp in list(_live_sipp):
        if sp.proc.returncode is None:
            killed.append(sp.scenario)
        sp.kill()
    return killed


# --------------------------------------------------------------------------- calls


@dataclasses.dataclass(frozen=True)
class _Plan:
    uac: str
    uas: str
    uac_vars: dict[str, object]
    uas_vars: dict[str, object]
    expected: frozenset[int]
    duration_ms: int


def _plan(
    proxy: KamailioProxy,
    *,
    answer_after_ms: int | None,
    caller_hangs_up_after_ms: int,
    agent_hangs_up_after_ms: int | None,
    cancel_after_ms: int | None,
    reject: int | bool | None,
    reject_after_ms: int,
) -> _Plan:
    if reject is True:
        reject = 486
    if reject is not None and reject is not False:
        if reject not in REJECT_REASONS:
            raise ValueError(f"reject={reject}: uas_reject.xml supports {sorted(REJECT_REASONS)}")
        if cancel_after_ms is not None or answer_after_ms is not None:
            raise ValueError("reject cannot be combined with answer_after_ms / cancel_after_ms")
        return _Plan(
            "uac_not_answered.xml",
            "uas_reject.xml",
            {},
            {"reject_code": reject, "reject_after_ms": reject_after_ms},
            frozenset({reject}),
            reject_after_ms,
        )
    if cancel_after_ms is not None:
        if answer_after_ms is not None and answer_after_ms <= cancel_after_ms:
            raise ValueError("answer_after_ms <= cancel_after_ms: the agent would answer first")
        if cancel_after_ms >= proxy.fr_inv_timeout_ms:
            raise ValueError("cancel_after_ms >= fr_inv_timeout_ms: the proxy would ring out first")
        return _Plan(
            "uac_cancel.xml",
            "uas_no_answer.xml",
            {"cancel_ms": cancel_after_ms},
            {},
            frozenset({487}),
            cancel_after_ms,
        )
    if answer_after_ms is None:
        return _Plan(
            "uac_not_answered.xml",
            "uas_no_answer.xml",
            {},
            {},
            RANG_OUT_STATUSES,
            proxy.fr_inv_timeout_ms,
        )
    if answer_after_ms >= proxy.fr_inv_timeout_ms - 200:
        raise ValueError(
            f"answer_after_ms={answer_after_ms} too close to the proxy's fr_inv_timeout_ms="
            f"{proxy.fr_inv_timeout_ms} (leave >= 200 ms); omit answer_after_ms to ring out"
        )
    if agent_hangs_up_after_ms is not None:
        return _Plan(
            "uac_agent_hangup.xml",
            "uas_agent_hangup.xml",
            {},
            {"answer_ms": answer_after_ms, "hold_ms": agent_hangs_up_after_ms},
            frozenset({200}),
            answer_after_ms + agent_hangs_up_after_ms,
        )
    return _Plan(
        "uac_caller_hangup.xml",
        "uas_answer.xml",
        {"hold_ms": caller_hangs_up_after_ms},
        {"answer_ms": answer_after_ms},
        frozenset({200}),
        answer_after_ms + caller_hangs_up_after_ms,
    )


@dataclasses.dataclass
class CallResult:
    """One call placed by :func:`place_call` (or one UAC run of :func:`place_calls`)."""

    extensions: list[int]
    callers: list[str]
    uac: SippResult
    uas: list[SippResult]
    expected_statuses: frozenset[int]
    kamailio_log: Path

    @property
    def extension(self) -> int:
        return self.extensions[0]

    @property
    def caller(self) -> str:
        return self.callers[0]

    @property
    def uac_rc(self) -> int | None:
        return self.uac.returncode

    @property
    def uas_rc(self) -> int | None:
        return self.uas[0].returncode if self.uas else None

    @property
    def call_ids(self) -> list[str]:
        return self.uac.call_ids()

    @property
    def call_id(self) -> str | None:
        ids = self.call_ids
        return ids[0] if ids else None

    @property
    def finals(self) -> dict[str, int]:
        return self.uac.finals()

    @property
    def final_status(self) -> int | None:
        """Final INVITE status the caller got (200, 487, 480/408, 486, ...)."""
        finals = self.finals
        if self.call_id in finals:
            return finals[self.call_id]
        return next(iter(finals.values()), None)

    @property
    def ok(self) -> bool:
        finals = self.finals
        return (
            self.uac.ok
            and all(u.ok for u in self.uas)
            and len(finals) == len(self.extensions)
            and all(code in self.expected_statuses for code in finals.values())
        )

    def describe(self) -> str:
        parts = [
            f"calls to {sorted(set(self.extensions))}: finals {sorted(self.finals.values())} "
            f"(expected one of {sorted(self.expected_statuses)})",
            self.uac.describe(),
            *(u.describe() for u in self.uas),
            f"kamailio log tail ({self.kamailio_log}):\n{_tail(self.kamailio_log, 15)}",
        ]
        return "\n".join(parts)

    def check(self) -> CallResult:
        if not self.ok:
            raise AssertionError("bench call did not go as planned:\n" + self.describe())
        return self


async def place_call(
    kamailio: KamailioProxy,
    extension: int,
    answer_after_ms: int | None = None,
    caller_hangs_up_after_ms: int = 500,
    agent_hangs_up_after_ms: int | None = None,
    cancel_after_ms: int | None = None,
    reject: int | bool | None = None,
    caller: str = DEFAULT_CALLER,
    *,
    reject_after_ms: int = 0,
    check: bool = True,
    timeout_s: float | None = None,
) -> CallResult:
    """Place one call from ``caller`` to ``extension`` through ``kamailio``.

    The agent phone (SIPp UAS on ``kamailio.agent_port(extension)``) always rings
    (180) at once, except ``reject`` without ``reject_after_ms``.  Behaviour:

    * ``answer_after_ms=N``: the agent answers N ms after the INVITE (must stay
      below ``kamailio.fr_inv_timeout_ms``), then the caller hangs up after
      ``caller_hangs_up_after_ms`` - or, with ``agent_hangs_up_after_ms=M``, the
      agent sends BYE M ms after the ACK.  Final 200.
    * ``cancel_after_ms=N``: the caller CANCELs N ms after the 180 (abandon);
      the agent never answers.  Final 487.
    * ``reject=486`` / ``True`` (or 403/404/480/488/500/503/600/603): the agent rejects,
      immediately or after ringing ``reject_after_ms``.  Final = that code.
    * nothing of the above: the agent never answers, the proxy CANCELs it after
      ``fr_inv_timeout_ms`` and the caller gets 480 (408 if the phone was silent).

    Returns a :class:`CallResult`; with ``check=True`` (default) an unexpected
    outcome raises AssertionError with the SIPp / Kamailio diagnostics.
    Do not place two simultaneous calls to the same extension with this helper
    (they would share one UAS port) - use :func:`place_calls`.
    """
    return await place_calls(
        kamailio,
        [extension],
        callers=[caller],
        answer_after_ms=answer_after_ms,
        caller_hangs_up_after_ms=caller_hangs_up_after_ms,
        agent_hangs_up_after_ms=agent_hangs_up_after_ms,
        cancel_after_ms=cancel_after_ms,
        reject=reject,
        reject_after_ms=reject_after_ms,
        check=check,
        timeout_s=timeout_s,
    )


async def place_calls(
    kamailio: KamailioProxy,
    extensions: Sequence[int],
    *,
    callers: Sequence[str] | None = None,
    answer_after_ms: int | None = None,
    caller_hangs_up_after_ms: int = 500,
    agent_hangs_up_after_ms: int | None = None,
    cancel_after_ms: int | None = None,
    reject: int | bool | None = None,
    reject_after_ms: int = 0,
    rate_per_s: float = 50.0,
    concurrent: int | None = None,
    check: bool = True,
    timeout_s: float | None = None,
) -> CallResult:
    """Place ``len(extensions)`` calls at once, all with the same behaviour.

    One UAS per distinct extension (``-m`` = its number of calls) and ONE UAC
    run (``-m N -l concurrent -r rate_per_s``) whose call ``i`` dials
    ``extensions[i]`` from ``callers[i]`` (default 13800000001, 13800000002, ...).
    E.g. ``place_calls(k, [2001] * 50, answer_after_ms=300)`` = 50 simultaneous
    calls to one agent; ``place_calls(k, range(2001, 2051), ...)`` = 50 agents.
    Each call has its own Call-ID (``CallResult.call_ids``).
    """
    require_executable("sipp", "sipp (sip-tester)")
    exts = [int(e) for e in extensions]
    if not exts:
        raise ValueError("no extensions")
    if callers is None:
        callers = [str(int(DEFAULT_CALLER) + i) for i in range(len(exts))]
    if len(callers) != len(exts):
        raise ValueError("callers and extensions differ in length")
    plan = _plan(
        kamailio,
        answer_after_ms=answer_after_ms,
        caller_hangs_up_after_ms=caller_hangs_up_after_ms,
        agent_hangs_up_after_ms=agent_hangs_up_after_ms,
        cancel_after_ms=cancel_after_ms,
        reject=reject,
        reject_after_ms=reject_after_ms,
    )
    n = len(exts)
    spread_s = n / rate_per_s if n > 1 else 0.0
    if timeout_s is None:
        timeout_s = 10.0 + spread_s + (plan.duration_ms + kamailio.fr_inv_timeout_ms) / 1000
    per_ext: dict[int, int] = {}
    for e in exts:
        per_ext[e] = per_ext.get(e, 0) + 1

    uas_procs: list[SippProcess] = []
    uac_proc: SippProcess | None = None
    try:
        for ext, count in per_ext.items():
            port = kamailio.agent_port(ext)
            if udp_port_bound(port):
                raise RuntimeError(
                    f"agent port {port} for extension {ext} is already in use "
                    "(another call to this extension still running?)"
                )
            uas_procs.append(
                await start_sipp(
                    plan.uas,
                    local_port=port,
                    service=ext,
                    calls=count,
                    variables=plan.uas_vars,
                    timeout_s=timeout_s + 2,
                    label=f"{Path(plan.uas).stem}-{ext}",
                )
            )
        await asyncio.gather(*(sp.wait_bound() for sp in uas_procs))
        uac_proc = await start_sipp(
            plan.uac,
            remote=kamailio.address,
            calls=n,
            limit=concurrent or n,
            rate=rate_per_s if n > 1 else None,
            variables=plan.uac_vars,
            inject=list(zip(exts, callers, strict=True)),
            timeout_s=timeout_s,
            label=Path(plan.uac).stem,
        )
        uac = await uac_proc.wait(timeout_s + 5)
        uas = list(await asyncio.gather(*(sp.wait(5.0 if uac.ok else 2.0) for sp in uas_procs)))
    finally:
        for sp in [*uas_procs, *([uac_proc] if uac_proc else [])]:
            sp.kill()
    result = CallResult(
        extensions=exts,
        callers=list(callers),
        uac=uac,
        uas=uas,
        expected_statuses=plan.expected,
        kamailio_log=kamailio.log_path,
    )
    if check:
        result.check()
    return result


# --------------------------------------------------------------------------- Mosquitto


class MosquittoBroker:
    """``mosquitto -c <conf>`` on 127.0.0.1:``port`` with anonymous access.

    Persistence is on (``data_dir``, autosave every second), so ``restart()``
    keeps retained messages and persistent sessions - a broker-restart test can
    ``stop()``, assert the service notices, then ``start()`` again on the same port.
    """

    def __init__(self, base_dir: Path, port: int | None = None):
        self.host = LOCALHOST
        self.port = port or free_tcp_port()
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.conf_path = base_dir / "mosquitto.conf"
        self.log_path = base_dir / "mosquitto.log"
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def write_conf(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(
            "\n".join(
                [
                    "# callcenter integration test broker (tests/integration/bench.py)",
                    "per_listener_settings false",
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.data_dir}/",
                    "autosave_interval 1",
                    # started as root: stay root instead of switching to user mosquitto,
                    # which could not write the pytest tmp dir
                    "user root",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                    "connection_messages true",
                    "",
                ]
            )
        )

    def start(self) -> None:
        exe = require_executable("mosquitto", "mosquitto")
        if self._process is not None and self._process.alive():
            return
        self.write_conf()
        self._process = ManagedProcess("mosquitto", [exe, "-c", str(self.conf_path)], self.log_path)
        self._process.start()
        ok = _wait_until(lambda: not self._process.alive() or tcp_port_accepts(self.port), 10.0)
        if not ok or not self._process.alive():
            self._process.stop()
            pytest.fail(
                f"mosquitto did not start on {self.port}:\n{_tail(self.log_path)}", pytrace=False
            )

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()


# --------------------------------------------------------------------------- PostgreSQL


class PostgresCluster:
    """Throw-away PostgreSQL 15 cluster owned by user ``postgres`` (it refuses root).

    ``start()`` runs initdb (trust auth) in a fresh ``/tmp/callcenter-pg-*`` dir
    owned by postgres and ``pg_ctl start`` on 127.0.0.1:``port`` (socket in the
    same dir, fsync off); ``stop()`` stops it and deletes the directory.
    """

    def __init__(self, port: int | None = None):
        self.host = LOCALHOST
        self.port = port or free_tcp_port()
        self.base_dir: Path | None = None

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy async URL."""
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq / asyncpg DSN."""
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _as_postgres(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        runuser = require_executable("runuser", "runuser (util-linux)")
        return subprocess.run(
            [runuser, "-u", "postgres", "--", *argv],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
            cwd="/",
        )

    def start(self) -> None:
        for tool in ("initdb", "pg_ctl", "psql"):
            if not (PG_BIN / tool).exists():
                pytest.fail(
                    f"PostgreSQL 15 not installed ({PG_BIN / tool} missing): {INSTALL_HINT}",
                    pytrace=False,
                )
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                f"PostgreSQL not installed (no 'postgres' user): {INSTALL_HINT}", pytrace=False
            )
        self.base_dir = Path(tempfile.mkdtemp(prefix="callcenter-pg-", dir="/tmp"))
        os.chown(self.base_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base_dir, 0o700)
        try:
            self._as_postgres(
                str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
                "-E", "UTF8", "--locale=C", "-N",
            )  # fmt: skip
            opts = (
                f"-p {self.port} -k {self.base_dir} -c listen_addresses={self.host} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            self._as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                "-o", opts, "-w", "-t", "30", "start",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            log = _tail(self.log_path) if self.base_dir else ""
            self.stop()
            pytest.fail(
                f"PostgreSQL did not start: {exc.stderr}\n{exc.stdout}\n{log}", pytrace=False
            )

    def psql(self, sql: str, database: str = "postgres") -> str:
        res = self._as_postgres(
            str(PG_BIN / "psql"), "-h", self.host, "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql,
        )  # fmt: skip
        return res.stdout

    def create_database(self, name: str | None = None) -> str:
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.base_dir is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            self._as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop",
                check=False,
            )  # fmt: skip
        shutil.rmtree(self.base_dir, ignore_errors=True)
        self.base_dir = None
