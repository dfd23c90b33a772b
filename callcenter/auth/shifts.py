"""Shifts (003 保密制度: a login outside one's shift is suspicious): when a user, or everyone
of a role, works. Pure; local wall-clock times in the hotline's zone (web.timezone)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")


@dataclass(frozen=True, slots=True)
class Shift:
    """One [[auth.shifts]] table: for `user` or for every user of `role`, starting on each of
    `days` at `start` and ending at `end` (the next day when `end` is not after `start`)."""

    user: str | None = None
    role: str | None = None
    days: tuple[str, ...] = DAYS
    start: str = ""
    end: str = ""


def minute_of_day(text: str) -> int | None:
    """ "HH:MM" (00:00-23:59, or 24:00 for an end) as minutes after midnight; None if not."""
    m = _HHMM.match(text)
    if m is None:
        return None
    hours, minutes = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return int(hours) * 60 + int(minutes)


def shifts_of(shifts: Iterable[Shift], name: str, role: str) -> list[Shift]:
    """The user's own shifts; with none, their role's."""
    shifts = list(shifts)
    own = [s for s in shifts if s.user == name]
    return own or [s for s in shifts if s.user is None and s.role == role]


def on_shift(shifts: Iterable[Shift], local: datetime, grace: timedelta = timedelta()) -> bool:
    """Whether `local` (naive or aware wall-clock time in the hotline's zone) falls in one of
    the shifts, widened by `grace` on both sides (people log in a little early)."""
    wall = local.replace(tzinfo=None)
    for shift in shifts:
        start, end = minute_of_day(shift.start), minute_of_day(shift.end)
        if start is None or end is None:
            continue
        length = end - start if end > start else end + 24 * 60 - start
        # A shift that started yesterday may still run (overnight); one starting tomorrow
        # may already be inside its grace.
        for offset in (-1, 0, 1):
            day = (wall.replace(hour=0, minute=0, second=0, microsecond=0)) + timedelta(offset)
            if DAYS[day.weekday()] not in shift.days:
                continue
            begins = day + timedelta(minutes=start)
            if begins - grace <= wall < begins + timedelta(minutes=length) + grace:
                return True
    return False
