"""Run SIPp scenarios from ``sipp/`` on 127.0.0.1 (UDP), each with its own artifacts.

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
uas_reinvite.xml          180, 200 after ``answer_ms``, ACK, after
                          ``reinvite_ms`` a re-INVITE to the caller (From: the
                          phone's tag, CSeq 1), 200, ACK; then the caller's BYE.
uac_reinvited.xml         INVITE, 200, ACK, answer the agent's re-INVITE, talk
                          ``hold_ms``, BYE.  Pairs with uas_reinvite.xml.
register.xml              REGISTER sip:<field0>@proxy with Contact
                          sip:<field1>@<its own address>, ``expires`` seconds
                          (0 unbinds); expects 200.  See :func:`register_phone`.
========================  =====================================================

UAS scenarios write the SIPp service (``-s``) as their Contact user: a phone whose
Contact is not its extension is ``service="sipp"`` (or a MAC-like id).

UACs read the extension and caller number from an injection file
(``field0;field1`` per call); delays are SIPp globals set with ``-set``.

Pitfalls
--------
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
import os
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from tests.integration.bench.processes import (
    INTEGRATION_DIR,
    LOCALHOST,
    free_rtp_base,
    free_udp_port,
    new_run_dir,
    pdeathsig_preexec,
    require_executable,
    udp_port_bound,
)

SIPP_DIR = INTEGRATION_DIR / "sipp"

#: every SIPp started and not yet reaped; this module alone adds and removes
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
    run_dir = new_run_dir(label)
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
        # SIPp always binds RTP sockets (audio at mp, video at mp+2), retries only the
        # audio one and gives up on a busy video port: each SIPp needs its own free pair
        "-mp",
        str(free_rtp_base()),
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
            preexec_fn=pdeathsig_preexec(),
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


async def register_phone(
    registrar: str,
    extension: int | str,
    *,
    contact_user: str,
    local_port: int,
    expires: int = 3600,
    timeout_s: float = 10.0,
) -> SippResult:
    """REGISTER ``extension`` (the address-of-record's user) at ``registrar`` (host:port)
    with the Contact ``sip:<contact_user>@127.0.0.1:<local_port>``, sent from that port:
    start the phone's UAS on ``local_port`` afterwards.  ``expires=0`` unbinds it."""
    return await run_sipp(
        "register.xml",
        remote=registrar,
        local_port=local_port,
        variables={"expires": expires},
        inject=[(extension, contact_user)],
        timeout_s=timeout_s,
        label=f"register-{extension}-{contact_user}-{expires}",
    )


def kill_leftover_processes() -> list[str]:
    """Kill every SIPp still running; returns their scenario names."""
    killed = []
    for sp in list(_live_sipp):
        if sp.proc.returncode is None:
            killed.append(sp.scenario)
        sp.kill()
    return killed
