"""Call and leg state (来电 / 振铃) and the rules applied to them, pure.

`apply(call, event, rule, agents)` takes a normalized telephony event and returns the domain
events it causes; `deadline_due` is what the ring-limit timer calls. No I/O, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from callcenter import signals as t
from callcenter.calls.rings import RingRule
from callcenter.events import (
    CallClosed,
    CallOutcome,
    LegOutcome,
    PhoneRang,
    PhoneStopped,
    RingLimitReached,
    ViolationKind,
    ViolationRecorded,
)


@dataclass(frozen=True, slots=True)
class AgentRef:
    id: int
    name: str


AgentLookup = Callable[[str], AgentRef | None]


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class LegState:
    """One phone rung for a call (a leg)."""

    id: str
    call_pk: str
    leg_ref: str
    extension: str
    agent: AgentRef | None
    queue: str | None = None
    ring_started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: LegOutcome | None = None
    end_cause: str | None = None
    ring_limit_recorded: bool = False
    # Set when the service restarted while this phone rang: whether it still rings is not
    # known until a later message about it arrives (HEP has no resync).
    unknown_since: datetime | None = None
    dirty: bool = True
    persisted: bool = False

    @property
    def ringing(self) -> bool:
        return (
            self.ring_started_at is not None and self.answered_at is None and self.ended_at is None
        )

    def stopped_at(self) -> datetime | None:
        return self.answered_at or self.ended_at


@dataclass(slots=True)
class CallState:
    """A resident's call to the hotline, keyed by (source, call_id, call_tag)."""

    id: str
    source: str
    call_id: str
    call_tag: str
    caller: str
    dialed: str
    offered_at: datetime
    monitored: bool = True
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    final: CallOutcome | None = None
    hung_up_by: t.HungUpBy | None = None
    answered_leg: str | None = None
    legs: dict[str, LegState] = field(default_factory=dict)
    dirty: bool = True
    persisted: bool = False

    @property
    def closed(self) -> bool:
        return self.final is not None

    @property
    def outcome(self) -> CallOutcome:
        if self.final is not None:
            return self.final
        if self.answered_at is not None:
            return "answered"
        if any(leg.ringing for leg in self.legs.values()):
            return "ringing"
        return "in_progress"

    def primary_leg(self) -> LegState | None:
        """The leg the call is reported by: the one that answered, else the latest rung."""
        if self.answered_leg is not None:
            return self.legs.get(self.answered_leg)
        rung = [leg for leg in self.legs.values() if leg.ring_started_at is not None]
        if rung:
            return max(rung, key=lambda leg: leg.ring_started_at or self.offered_at)
        return next(reversed(self.legs.values()), None) if self.legs else None


def offer(
    event: t.CallOffered, agents: AgentLookup, probes: frozenset[str] = frozenset()
) -> CallState:
    """A new call. One placed *from* an agent's phone is outbound: no ring rule applies; nor
    to one from the line probe (`probes`: its caller numbers), which tests the line and is
    no resident's call: never in the statistics or violations."""
    return CallState(
        id=new_id(),
        source=event.source,
        call_id=event.call_id,
        call_tag=event.call_tag,
        caller=event.caller,
        dialed=event.dialed,
        offered_at=event.at,
        monitored=agents(event.caller) is None and event.caller not in probes,
    )


def _leg(call: CallState, leg_ref: str, extension: str, agents: AgentLookup) -> LegState:
    leg = call.legs.get(leg_ref)
    if leg is None:
        leg = LegState(
            id=new_id(),
            call_pk=call.id,
            leg_ref=leg_ref,
            extension=extension,
            agent=agents(extension),
        )
        call.legs[leg_ref] = leg
    return leg


def _violation(
    kind: ViolationKind,
    call: CallState,
    leg: LegState | None,
    at: datetime,
    rule: RingRule,
    detail: str,
) -> ViolationRecorded:
    rings = ring_seconds = None
    if leg is not None and leg.ring_started_at is not None:
        stop = leg.stopped_at() or at
        ring_seconds = max(0.0, (stop - leg.ring_started_at).total_seconds())
        rings = rule.rings_between(leg.ring_started_at, stop)
    return ViolationRecorded(
        id=new_id(),
        kind=kind,
        occurred_at=at,
        call_pk=call.id,
        leg_pk=leg.id if leg else None,
        extension=leg.extension if leg else None,
        agent_id=leg.agent.id if leg and leg.agent else None,
        agent=leg.agent.name if leg and leg.agent else None,
        caller=call.caller,
        rings=rings,
        ring_seconds=ring_seconds,
        detail=detail,
    )


def _stop(leg: LegState, outcome: LegOutcome, at: datetime, rule: RingRule) -> PhoneStopped:
    leg.outcome = outcome
    leg.dirty = True
    start = leg.ring_started_at or at
    return PhoneStopped(
        call_pk=leg.call_pk,
        leg_pk=leg.id,
        extension=leg.extension,
        agent=leg.agent.name if leg.agent else None,
        outcome=outcome,
        at=at,
        rings=rule.rings_between(start, at) if leg.ring_started_at else 0,
    )


def _close(call: CallState, outcome: CallOutcome, at: datetime) -> CallClosed:
    call.final = outcome
    call.ended_at = call.ended_at or at
    call.dirty = True
    return CallClosed(call_pk=call.id, outcome=outcome, at=at)


def _end_ringing_legs(
    call: CallState, outcome: LegOutcome, at: datetime, cause: str, rule: RingRule
) -> list[object]:
    out: list[object] = []
    for leg in call.legs.values():
        if leg.ringing:
            leg.ended_at = at
            leg.end_cause = cause
            out.append(_stop(leg, outcome, at, rule))
            if outcome == "unanswered" and call.monitored and not leg.ring_limit_recorded:
                out.append(_violation("rang_out", call, leg, at, rule, cause))
    return out


def _heard_ringing_since(call: CallState, answering: LegState, at: datetime) -> datetime:
    """Ring start of a leg answered without an 18x of its own. A B2BUA or SBC may answer with
    another To tag than its 180 carried: the caller heard ringing from the legs still ringing
    (the earliest of them). With none ringing (e.g. a hunt moved on), it rang unseen: 0 s."""
    starts = [
        leg.ring_started_at
        for leg in call.legs.values()
        if leg is not answering and leg.ringing and leg.ring_started_at is not None
    ]
    return min(starts, default=at)


def apply(
    call: CallState, event: t.TelephonyEvent, rule: RingRule, agents: AgentLookup
) -> list[object]:
    """Apply one telephony event to its call; return the domain events it causes."""
    leg_ref = getattr(event, "leg_id", None)
    if leg_ref is not None and leg_ref in call.legs:
        call.legs[leg_ref].unknown_since = None  # a message about it: known again
    if isinstance(event, t.CallOffered):
        return []  # the call was created by offer(); a repeated offer changes nothing
    if isinstance(event, t.LegRinging):
        if call.closed or call.answered_at is not None:
            return []
        leg = _leg(call, event.leg_id, event.extension, agents)
        if leg.ring_started_at is not None or leg.ended_at is not None:
            return []
        leg.ring_started_at = event.at
        leg.queue = event.queue
        leg.dirty = True
        call.dirty = True
        return [
            PhoneRang(
                call_pk=call.id,
                leg_pk=leg.id,
                extension=leg.extension,
                agent=leg.agent.name if leg.agent else None,
                caller=call.caller,
                ring_started_at=event.at,
                monitored=call.monitored,
            )
        ]
    if isinstance(event, t.LegAnswered):
        if call.closed or call.answered_at is not None:
            return []
        leg = _leg(call, event.leg_id, event.extension, agents)
        if leg.ended_at is not None:
            return []
        if leg.ring_started_at is None:
            leg.ring_started_at = _heard_ringing_since(call, leg, event.at)
        leg.answered_at = event.at
        call.answered_at = event.at
        call.answered_leg = leg.leg_ref
        call.dirty = True
        out: list[object] = [_stop(leg, "answered", event.at, rule)]
        late = not rule.within_limit(leg.ring_started_at, event.at)
        if late and call.monitored and not leg.ring_limit_recorded:
            # The live timer did not see it (service down, or traffic replayed): record it now.
            out.append(_violation("late_answer", call, leg, event.at, rule, "answered late"))
        for other in call.legs.values():
            if other is not leg and other.ringing:
                other.ended_at = event.at
                other.end_cause = "answered elsewhere"
                out.append(_stop(other, "answered_elsewhere", event.at, rule))
        return out
    if isinstance(event, t.LegUnanswered):
        leg = _leg(call, event.leg_id, event.extension, agents)
        if leg.ended_at is not None or leg.answered_at is not None:
            return []
        leg.ended_at = event.at
        leg.end_cause = event.cause
        call.dirty = True
        if call.answered_at is not None:
            return [_stop(leg, "answered_elsewhere", event.at, rule)]
        if call.final == "abandoned":
            return [_stop(leg, "abandoned", event.at, rule)]
        out = [_stop(leg, "unanswered", event.at, rule)]
        # One fault per leg: a phone that already rang past the limit keeps its ring_limit
        # violation (the leg's end shows how it ended); it gets no second, rang_out, row.
        if call.monitored and leg.ring_started_at is not None and not leg.ring_limit_recorded:
            out.append(_violation("rang_out", call, leg, event.at, rule, event.cause))
        return out
    if isinstance(event, t.CallAbandoned):
        if call.closed or call.answered_at is not None:
            return []
        out = _end_ringing_legs(call, "abandoned", event.at, "caller hung up", rule)
        return [*out, _close(call, "abandoned", event.at)]
    if isinstance(event, t.CallUnanswered):
        if call.closed or call.answered_at is not None:
            return []
        out = _end_ringing_legs(call, "unanswered", event.at, event.cause, rule)
        return [*out, _close(call, "unanswered", event.at)]
    if isinstance(event, t.CallEnded):
        if call.closed or call.answered_at is None:
            return []
        call.hung_up_by = event.hung_up_by
        talking = call.legs.get(call.answered_leg or "")
        if talking is not None:
            talking.ended_at = event.at
            talking.dirty = True
        out = [_close(call, "answered", event.at)]
        if event.hung_up_by == "agent" and call.monitored:
            # 004: 禁止主动挂断住户电话 — the agent must not hang up on a resident first.
            detail = "agent hung up first"
            out.append(_violation("hung_up_first", call, talking, event.at, rule, detail))
        return out
    raise TypeError(f"unknown telephony event {type(event).__name__}")


def deadline_due(
    call: CallState, leg: LegState, now: datetime, rule: RingRule, late: bool = False
) -> list[object]:
    """The ring-limit timer of `leg` fired at `now`: if it is still ringing, that is a violation.
    `late`: the deadline fell while the service was down; it is raised once, at start."""
    if not leg.ringing or leg.ring_limit_recorded or not call.monitored or call.closed:
        return []
    assert leg.ring_started_at is not None
    leg.ring_limit_recorded = True
    leg.dirty = True
    deadline_at = leg.ring_started_at + rule.deadline
    detail = f"still ringing after {rule.limit} rings"
    if late:
        detail += " (raised late: the service was down at the deadline)"
    violation = _violation("ring_limit", call, leg, deadline_at, rule, detail)
    return [
        violation,
        RingLimitReached(
            violation_id=violation.id,
            call_pk=call.id,
            leg_pk=leg.id,
            source=call.source,
            sip_call_id=call.call_id,
            leg_ref=leg.leg_ref,
            queue=leg.queue,
            extension=leg.extension,
            agent=leg.agent.name if leg.agent else None,
            agent_id=leg.agent.id if leg.agent else None,
            caller=call.caller,
            ring_started_at=leg.ring_started_at,
            deadline_at=deadline_at,
            raised_at=now,
            rings=rule.limit + 1,
            late=late,
        ),
    ]


def expire_leg(call: CallState, leg: LegState, now: datetime, rule: RingRule) -> list[object]:
    """A leg rang far longer than any PBX lets a phone ring: its end was never seen. It is
    lost, not rung out: no violation is added for what we did not see."""
    if not leg.ringing:
        return []
    leg.ended_at = now
    leg.end_cause = (
        "lost: state unknown since a restart" if leg.unknown_since else "lost: no final response"
    )
    call.dirty = True
    return [_stop(leg, "lost", now, rule)]


def expire_call(call: CallState, now: datetime, rule: RingRule) -> list[object]:
    """A call whose end was never seen (a lost BYE or CANCEL): close it without blame. An
    answered call stays answered; one never answered is lost (not in the answer rates)."""
    if call.closed:
        return []
    out: list[object] = []
    for leg in call.legs.values():
        if leg.ended_at is None:
            leg.ended_at = now
            leg.end_cause = leg.end_cause or "lost: end not seen"
            if leg.outcome is None and leg.answered_at is None and leg.ring_started_at:
                out.append(_stop(leg, "lost", now, rule))
            leg.outcome = leg.outcome or ("answered" if leg.answered_at else "lost")
            leg.dirty = True
    outcome: CallOutcome = "answered" if call.answered_at is not None else "lost"
    return [*out, _close(call, outcome, now)]
