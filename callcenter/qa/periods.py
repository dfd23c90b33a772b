"""The periods a sample is drawn for, pure: a local day (a team lead's daily check) or an
ISO week, Monday to Sunday (the QA lead's weekly one), in web.timezone, and their UTC bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from callcenter.qa.model import Scope


@dataclass(frozen=True, slots=True)
class Period:
    scope: Scope
    first: date  # the first local day
    days: int  # 1 or 7

    @property
    def key(self) -> str:
        """ "2026-12-03" or "2026-W49": how samples name it (qa_samples.period)."""
        if self.scope == "daily":
            return self.first.isoformat()
        year, week, _ = self.first.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)

    def window(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight to local midnight (a DST day is 23 or 25 h)."""
        start = datetime.combine(self.first, time(), tz).astimezone(UTC)
        end = datetime.combine(self.first + timedelta(days=self.days), time(), tz)
        return start, end.astimezone(UTC)

    def over(self, now: datetime, tz: ZoneInfo) -> bool:
        """Whether its last call can have been taken: only then is a draw final."""
        return now >= self.window(tz)[1]


def day(d: date) -> Period:
    return Period("daily", d, 1)


def week_of(d: date) -> Period:
    return Period("weekly", d - timedelta(days=d.weekday()), 7)


def parse(scope: Scope, text: str) -> Period:
    """A period's key, or for a weekly scope any day of the week; ValueError if neither."""
    if scope == "weekly" and "-W" in text:
        year, _, week = text.partition("-W")
        if not (year.isdigit() and week.isdigit() and len(year) == 4 and len(week) == 2):
            raise ValueError(f"not an ISO week (2026-W49): {text[:32]!r}")
        return week_of(date.fromisocalendar(int(year), int(week), 1))
    if len(text) != 10:
        raise ValueError(f"not a date (YYYY-MM-DD): {text[:32]!r}")
    d = date.fromisoformat(text)
    return day(d) if scope == "daily" else week_of(d)


def today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def due(scope: Scope, now: datetime, tz: ZoneInfo) -> Period:
    """The period a scheduled draw covers: yesterday, or last week."""
    d = today(now, tz)
    return day(d - timedelta(days=1)) if scope == "daily" else week_of(d - timedelta(days=7))


def month(text: str) -> tuple[date, date]:
    """ "2026-12" → its first day and the first day of the next month."""
    if len(text) != 7 or text[4] != "-":
        raise ValueError(f"not a month (YYYY-MM): {text[:32]!r}")
    first = date(int(text[:4]), int(text[5:]), 1)
    return first, (first + timedelta(days=32)).replace(day=1)
