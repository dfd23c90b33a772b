"""Answer statistics (接听率) over stored calls, pure: the same numbers the database holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from callcenter.calls.model import CallState
from callcenter.calls.rings import RingRule

GroupBy = Literal["agent", "hour", "day"] | None


@dataclass(slots=True)
class AnswerStats:
    offered: int = 0
    answered: int = 0
    answered_within_limit: int = 0
    answered_late: int = 0
    abandoned: int = 0
    unanswered: int = 0

    def add(self, call: CallState, rule: RingRule) -> None:
        self.offered += 1
        leg = call.primary_leg()
        if call.answered_at is not None:
            self.answered += 1
            start = (leg.ring_started_at if leg else None) or call.answered_at
            if rule.within_limit(start, call.answered_at):
                self.answered_within_limit += 1
            else:
                self.answered_late += 1
        elif call.final == "abandoned":
            self.abandoned += 1
        elif call.final == "unanswered":
            self.unanswered += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "answered_within_limit": self.answered_within_limit,
            "answered_late": self.answered_late,
            "abandoned": self.abandoned,
            "unanswered": self.unanswered,
            # answered / offered: calls still ringing count as offered, not yet answered.
            "answer_rate": round(self.answered / self.offered, 4) if self.offered else None,
            # answered within the limit / answered: the agents' share of on-time answers.
            "within_limit_rate": (
                round(self.answered_within_limit / self.answered, 4) if self.answered else None
            ),
        }


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
    calls: Iterable[CallState], rule: RingRule, group_by: GroupBy, tz: tzinfo
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-group and total figures for inbound (monitored) calls."""
    groups: dict[str | None, AnswerStats] = {}
    total = AnswerStats()
    for call in calls:
        if not call.monitored:
            continue
        total.add(call, rule)
        if group_by is not None:
            groups.setdefault(_group_key(call, group_by, tz), AnswerStats()).add(call, rule)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
    return [{"key": k, **v.as_json()} for k, v in ordered], total.as_json()


def local_day_start(now: datetime, tz: tzinfo) -> datetime:
    return now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
