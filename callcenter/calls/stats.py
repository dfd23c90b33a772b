"""Answer statistics (接听率) over stored calls, pure: the same numbers the database holds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from callcenter.calls.model import AgentRef, CallState, LegState
from callcenter.calls.rings import RingRule

GroupBy = Literal["agent", "hour", "day"] | None


RATE_DEFINITION = (
    "within_limit_rate = answered_within_limit / rate_base; rate_base = offered - "
    "abandoned_in_time - pending: callers who hung up before the ring-limit deadline and calls "
    "still ringing inside it are not counted; lost calls are not in offered"
)


def over_limit(leg: LegState, rule: RingRule) -> bool:
    """The phone rang past the limit: one ring_limit or late_answer violation (one per leg)."""
    if leg.ring_limit_recorded:
        return True
    return (
        leg.answered_at is not None
        and leg.ring_started_at is not None
        and not rule.within_limit(leg.ring_started_at, leg.answered_at)
    )


@dataclass(slots=True)
class AnswerStats:
    """The answer figures of a set of inbound calls.

    within_limit_rate = answered within the limit ÷ (offered − callers who hung up before the
    deadline − calls still ringing inside it). A caller who gave up after ringing past the
    limit counts against the rate; one who hung up in time, or whose call has no verdict yet,
    does not. Lost calls (their end never seen, or unknown after a restart) are left out.
    """

    offered: int = 0
    answered: int = 0
    answered_within_limit: int = 0
    answered_late: int = 0
    abandoned: int = 0
    abandoned_in_time: int = 0
    unanswered: int = 0
    pending: int = 0
    lost: int = 0
    over_limit: int = 0

    def add(self, call: CallState, rule: RingRule, now: datetime) -> None:
        late_legs = sum(1 for leg in call.legs.values() if over_limit(leg, rule))
        self.over_limit += late_legs
        if call.final == "lost":
            self.lost += 1
            return
        self.offered += 1
        if call.answered_at is not None:
            self.answered += 1
            if late_legs == 0:
                self.answered_within_limit += 1
            else:
                self.answered_late += 1
        elif call.final == "abandoned":
            self.abandoned += 1
            if late_legs == 0 and not _rang_past_limit(call, call.ended_at or now, rule):
                self.abandoned_in_time += 1
        elif call.final == "unanswered":
            self.unanswered += 1
        elif late_legs == 0 and not _rang_past_limit(call, now, rule):
            self.pending += 1

    @property
    def rate_base(self) -> int:
        return self.offered - self.abandoned_in_time - self.pending

    def as_json(self) -> dict[str, Any]:
        base = self.rate_base
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_within_limit": self.answered_within_limit,
            "answered_late": self.answered_late,
            "abandoned": self.abandoned,
            "abandoned_in_time": self.abandoned_in_time,
            "unanswered": self.unanswered,
            "pending": self.pending,
            "lost": self.lost,
            "over_limit": self.over_limit,
            "rate_base": base,
            # answered / offered: calls still ringing count as offered, not yet answered.
            "answer_rate": round(self.answered / self.offered, 4) if self.offered else None,
            "within_limit_rate": round(self.answered_within_limit / base, 4) if base else None,
        }


def _rang_past_limit(call: CallState, until: datetime, rule: RingRule) -> bool:
    """Some phone of the call had rung past the limit by `until` (the caller's hang-up)."""
    return any(
        leg.ring_started_at is not None
        and not rule.within_limit(leg.ring_started_at, min(leg.ended_at or until, until))
        for leg in call.legs.values()
    )


def _group_key(call: CallState, group_by: GroupBy, tz: tzinfo) -> str | None:
    if group_by == "agent":
        leg = call.primary_leg()
        return leg.agent.name if leg and leg.agent else None
    local = call.offered_at.astimezone(tz)
    if group_by == "hour":
        return local.replace(minute=0, second=0, microsecond=0).isoformat()
    if group_by == "day":
        return local.date().isoformat()
    return "total"


def answer_stats(
    calls: Iterable[CallState], rule: RingRule, group_by: GroupBy, tz: tzinfo, now: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-group and total figures for inbound (monitored) calls."""
    groups: dict[str | None, AnswerStats] = {}
    total = AnswerStats()
    for call in calls:
        if not call.monitored:
            continue
        total.add(call, rule, now)
        if group_by is not None:
            groups.setdefault(_group_key(call, group_by, tz), AnswerStats()).add(call, rule, now)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    return [{"key": k, **v.as_json()} for k, v in ordered], total.as_json()


def local_day_start(now: datetime, tz: tzinfo) -> datetime:
    return now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def answer_stats_by_hour(
    calls: Iterable[CallState], rule: RingRule, tz: tzinfo, now: datetime
) -> list[AnswerStats]:
    """The figures of each local hour 0–23 (index = hour the call was offered), for the
    monitored calls: the same AnswerStats as the total, so the hours add up to it."""
    hours = [AnswerStats() for _ in range(24)]
    for call in calls:
        if call.monitored:
            hours[call.offered_at.astimezone(tz).hour].add(call, rule, now)
    return hours


def offered(call: CallState) -> bool:
    """Counted in `offered` by AnswerStats: an inbound (monitored) call that was not lost."""
    return call.monitored and call.final != "lost"


def answered_on(call: CallState, rule: RingRule) -> tuple[int, float] | None:
    """(ring, seconds) at which an answered call's phone was picked up, counted as RingRule
    counts rings on the answering leg; None if unanswered. A phone answered before any
    ringing was seen (no 180) answered on ring 1 after 0 s: RingRule.rings(0) == 1."""
    if call.answered_at is None:
        return None
    leg = call.primary_leg()
    answered = (leg.answered_at if leg else None) or call.answered_at
    started = leg.ring_started_at if leg else None
    if started is None or answered < started:
        return 1, 0.0
    return rule.rings_between(started, answered), (answered - started).total_seconds()


def answering_agent(call: CallState) -> AgentRef | None:
    """The agent whose phone answered the call (None: unanswered, or no agent's phone)."""
    if call.answered_at is None:
        return None
    leg = call.primary_leg()
    return leg.agent if leg is not None else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks, as
    PostgreSQL's percentile_cont: the median of 1, 2, 3, 10 is 2.5. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
