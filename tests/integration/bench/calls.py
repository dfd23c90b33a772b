"""Place calls through the bench proxy: an agent phone (SIPp UAS) and a caller (SIPp UAC).

``await place_call(proxy, extension, ...) -> CallResult`` is the one-call helper:
it starts the agent UAS on ``proxy.agent_port(extension)``, waits until it is
bound, runs the caller UAC and waits for both.  ``await place_calls(proxy,
extensions, ...)`` does the same for many simultaneous calls (one UAC with
``-m N -l N -r rate``, one UAS per distinct extension).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from tests.integration.bench.kamailio import KamailioProxy
from tests.integration.bench.processes import log_tail, require_executable, udp_port_bound
from tests.integration.bench.sipp import SippProcess, SippResult, start_sipp

DEFAULT_CALLER = "13800000001"

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
            f"kamailio log tail ({self.kamailio_log}):\n{log_tail(self.kamailio_log, 15)}",
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
