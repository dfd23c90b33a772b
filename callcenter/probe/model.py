"""The line probe's rules (拨测), pure: what one probe call's SIP responses say about the
hotline, and when the line is down (线路不通) or up again.

The hotline must be reachable 24 hours (004 服务标准 1). A probe call passes when the line
shows life (180/183, or an answer) within the ring limit and is answered (2xx) within the
answer limit, both timed from the probe's INVITE. `down_after` failed probes in a row take
the line down (one `line_down` alert); the next passing probe brings it up (`line_up`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

# answered: rang (or answered) in time and answered in time; no_ring: only "100 Trying" by
# the ring limit; no_answer: rang but no answer by the answer limit; refused: a final 3xx-6xx
# (486 busy, 480/408 rang out at the PBX, 5xx); no_response: not a single response to the
# INVITE; not_registered: the PBX did not accept the probe's REGISTER, no call was placed.
Outcome = Literal["answered", "no_ring", "no_answer", "refused", "no_response", "not_registered"]
LineState = Literal["unknown", "up", "down"]
AlertKind = Literal["line_down", "line_up"]


@dataclass(frozen=True, slots=True)
class Heard:
    """What the probe's phone heard of one call, in seconds after its INVITE went out."""

    sip_call_id: str | None = None
    first_response: float | None = None  # any response to the INVITE ("100 Trying")
    ring: float | None = None  # the first 180 or 183
    answer: float | None = None  # the 2xx
    final_status: int | None = None  # the INVITE's final response (200, 486, 487 …)
    cancelled: bool = False  # the probe gave up and sent CANCEL
    bye_status: int | None = None  # the response to the probe's BYE
    registered: bool = True
    problem: str = ""  # why no call was placed, or what went wrong on the way

    @property
    def alive_at(self) -> float | None:
        """When the line first showed life: ringing, or answered without ringing."""
        times = [t for t in (self.ring, self.answer) if t is not None]
        return min(times) if times else None


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == "answered"


def _s(seconds: float) -> str:
    return f"{seconds:.3f} s"


def judge(heard: Heard, ring_limit: float, answer_limit: float) -> Verdict:
    """The verdict on one probe call."""
    if not heard.registered:
        return Verdict("not_registered", heard.problem or "the PBX did not accept REGISTER")
    alive = heard.alive_at
    if heard.answer is not None and heard.answer <= answer_limit:
        if alive is not None and alive <= ring_limit:
            return Verdict("answered", f"rang after {_s(alive)}, answered after {_s(heard.answer)}")
    if heard.final_status is not None and heard.final_status >= 300 and not heard.cancelled:
        when = f" after ringing {_s(heard.ring)}" if heard.ring is not None else ""
        return Verdict("refused", f"the PBX answered {heard.final_status}{when}")
    if alive is None or alive > ring_limit:
        if heard.first_response is None:
            return Verdict(
                "no_response", heard.problem or f"no response to INVITE within {ring_limit:g} s"
            )
        return Verdict("no_ring", f"no 180/183 within {ring_limit:g} s")
    return Verdict("no_answer", f"rang after {_s(alive)}, no answer within {answer_limit:g} s")


@dataclass(frozen=True, slots=True)
class Line:
    """The hotline as the probe last saw it."""

    state: LineState = "unknown"
    failures: int = 0  # failed probes in a row
    since: datetime | None = None  # when this state began (down: the first failed probe)
    failing_since: datetime | None = None  # the first of the failures in a row


def after(line: Line, ok: bool, at: datetime, down_after: int) -> tuple[Line, AlertKind | None]:
    """The line after a probe at `at`, and the alert it raises, if any."""
    if ok:
        alert: AlertKind | None = "line_up" if line.state == "down" else None
        since = line.since if line.state == "up" else at
        return Line("up", 0, since, None), alert
    failures = line.failures + 1
    failing_since = line.failing_since or at
    if line.state != "down" and failures >= down_after:
        return Line("down", failures, failing_since, failing_since), "line_down"
    return replace(line, failures=failures, failing_since=failing_since), None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe call, as recorded."""

    id: int
    started_at: datetime
    number: str
    outcome: Outcome
    sip_status: int | None
    ring_seconds: float | None
    answer_seconds: float | None
    detail: str
    sip_call_id: str | None
    line: Line
    alert: AlertKind | None

    @property
    def ok(self) -> bool:
        return self.outcome == "answered"


@dataclass(frozen=True, slots=True)
class LineAlerted:
    """The hotline stopped passing the probe (line_down) or passes again (line_up)."""

    kind: AlertKind
    result: ProbeResult
    since: datetime  # line_down: the first failed probe; line_up: when the line went down
    raised_at: datetime
