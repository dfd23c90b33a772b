"""Reports: which period a request names (and the clear refusal when it names none the data
can answer), and the report of a period built from the one query layer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.calls.rings import RingRule
from callcenter.calls.store import calls
from callcenter.clock import Clock
from callcenter.errors import Invalid, NotFound
from callcenter.reports import model
from callcenter.reports import store as q
from callcenter.reports.model import Period, Report, ReportKind
from callcenter.reports.settings import ReportsSettings, season_start_for
from callcenter.stations.model import AddressBook
from callcenter.tickets.store import tickets

EXAMPLES = {"daily": "2026-12-03", "weekly": "2026-W49", "monthly": "2026-12", "season": "2026"}


class Reports:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        settings: ReportsSettings,
        rule: RingRule,
        timezone: str,
        book: Callable[[], AddressBook],
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.rule = rule
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.book = book

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    # -- naming a period ----------------------------------------------------------------------
    def parse(self, kind: ReportKind, text: str | None) -> Period:
        """The period `text` names ("2026-12-03", "2026-W49", "2026-12", "2026"); None: the
        last one that is over (yesterday, last week, last month, this season)."""
        today = self.today()
        try:
            day = _day(kind, text) if text is not None else _last(kind, today)
            if kind == "season":
                first = season_start_for(self.settings.season_start, day)
                return model.season_period(first, self._next_season(first))
            season = self.settings.season_of(day)
            make = {"daily": model.daily, "weekly": model.weekly, "monthly": model.monthly}[kind]
            return make(day, season)
        # OverflowError: a date at the calendar's ends (0001-01-01, 9999-12-31) has no
        # season before it or no day after it.
        except (ValueError, OverflowError):
            raise Invalid(
                "bad-period", f"a {kind} report needs e.g. {EXAMPLES[kind]}", "period"
            ) from None

    def _next_season(self, first: date) -> date:
        if len(self.settings.season_start) == 10:
            return first.replace(year=first.year + 1)
        return season_start_for(self.settings.season_start, first.replace(year=first.year + 1))

    async def check(self, period: Period) -> None:
        """Refuse a period that has not begun, or one that ends before the first data."""
        if period.first > self.today():
            raise Invalid(
                "future-period", f"{period.key} has not begun: nothing to report yet", "period"
            )
        end = period.window(self.tz)[1]
        async with self.db().connect() as conn:
            first_ticket = await conn.scalar(select(func.min(tickets.c.created_at)))
            first_call = await conn.scalar(select(func.min(calls.c.offered_at)))
        known = [t for t in (first_ticket, first_call) if t is not None]
        if not known or end <= min(known):
            since = min(known).astimezone(self.tz).date().isoformat() if known else None
            raise NotFound(
                "outside-data",
                f"nothing is recorded before {since}" if since else "nothing is recorded yet",
            )

    # -- building it --------------------------------------------------------------------------
    async def build(self, period: Period) -> Report:
        start, end = period.window(self.tz)
        season_start = period.season_start(self.tz)
        now = self.clock.now()
        async with self.db().connect() as conn:
            rows = await q.station_rows(conn, self.book().stations, season_start, start, end)
            summary = await q.summary(conn, rows, start, end)
            hotline = await q.hotline(conn, self.rule, self.tz, now, start, end)
        return Report(period, self.timezone, now, summary, rows, hotline)

    def complete(self, period: Period) -> bool:
        """Whether the period is over: a report of today changes while the day runs."""
        return period.window(self.tz)[1] <= self.clock.now()


def _day(kind: ReportKind, text: str) -> date:
    if kind == "daily" and len(text) == 10:
        return date.fromisoformat(text)
    if kind == "weekly":
        if "-W" in text:
            year, _, week = text.partition("-W")
            if not (len(year) == 4 and year.isdigit() and len(week) == 2 and week.isdigit()):
                raise ValueError(text)
            return date.fromisocalendar(int(year), int(week), 1)
        if len(text) == 10:
            return date.fromisoformat(text)
    if kind == "monthly" and len(text) == 7 and text[4] == "-":
        return date(int(text[:4]), int(text[5:]), 1)
    if kind == "season" and len(text) == 4 and text.isdigit():
        # The season that began in that year: its last day lies in the next one.
        return date(int(text), 12, 31)
    raise ValueError(text)


def _last(kind: ReportKind, today: date) -> date:
    if kind == "daily":
        return today - timedelta(days=1)
    if kind == "weekly":
        return today - timedelta(days=7)
    if kind == "monthly":
        return today.replace(day=1) - timedelta(days=1)
    return today
