"""Waiting on the resident (not at home, "call me later"): the station's clock stops, pure.

A pause runs from `started_at` to `ended_at` (None: still open). Its time is not the
station's: a deadline that had not passed when a pause began moves by the pause's length,
and the figures from the first ring are measured net of it. Only the deadlines that need the
resident move (contact, repair); the acceptance (接单) is the station's own office work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

# Why the station waits: the resident is not at home, asked to be called later, the flat
# (or the plant room) cannot be entered, or something else the note says.
PauseReason = Literal["not_home", "call_later", "no_access", "other"]
PAUSE_REASONS: tuple[PauseReason, ...] = ("not_home", "call_later", "no_access", "other")

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Pause:
    """One wait on the resident, on one order."""

    id: int
    order_id: str
    started_at: datetime
    ended_at: datetime | None  # None: still paused
    reason: PauseReason
    note: str | None
    by: str  # a user's name, or "station:<code>"
    ended_by: str | None = None  # who resumed it, or the step that ended it ("step:contact")

    def seconds(self, now: datetime) -> float:
        return ((self.ended_at or now) - self.started_at).total_seconds()


def merged(spans: Iterable[tuple[datetime, datetime | None]], now: datetime) -> list[Span]:
    """The spans as disjoint intervals, earliest first: an open one runs to `now`, and
    overlapping or touching ones are one (a pause is never counted twice)."""
    closed = sorted((s, e if e is not None else now) for s, e in spans)
    out: list[Span] = []
    for start, end in closed:
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def paused_within(pauses: Sequence[Pause], start: datetime, end: datetime, now: datetime) -> float:
    """Seconds of [start, end] the station's clock stood still."""
    if not pauses:
        return 0.0  # most orders: the resident was in
    total = timedelta()
    for s, e in merged(((p.started_at, p.ended_at) for p in pauses), now):
        lo, hi = max(s, start), min(e, end)
        if hi > lo:
            total += hi - lo
    return total.total_seconds()


def extended(due: datetime, spans: Iterable[tuple[datetime, datetime | None]]) -> datetime | None:
    """The deadline `due` once the pauses are taken out of the station's time: each pause
    that began before the (already moved) deadline moves it by its whole length — the time
    left when the clock stopped is still left when it starts again. A pause that began at or
    after the deadline changes nothing (that deadline was already missed). None: an open
    pause holds it, there is no deadline until it ends."""
    # Open pauses are merged up to the far future: they hold whatever they overlap.
    far = datetime.max.replace(tzinfo=due.tzinfo)
    for start, end in merged(spans, far):
        if start >= due:
            break
        if end == far:
            return None
        due += end - start
    return due
