"""The report form (日报表) as data: its periods and the figures of each row. Pure.

What each figure counts, decided here (004 日报表 leaves the definitions to the hotline):
- 报修量 (repair reports): repair tickets taken in the period, but not those cancelled
  (entered by mistake). 咨询量: consultation tickets taken, cancelled ones left out too.
- Categories (不热, 冰凉, 要求测温, 漏水): the repair reports by the fault the agent recorded.
- 已维修 / 今日维修 (repaired): repair tickets whose station first returned their order in
  the period. A repair the callback found unsolved goes back to the station, but the ticket
  was repaired once: it is not counted again.
- 累计报修 / 累计维修: the same, from the season's first day to the period's end, of the
  tickets taken in the season. 未完成 (unfinished) = 累计报修 − 累计维修: taken this season,
  not yet returned by the period's end. A ticket counts at the station it is with now.
- 已回访 (called back): callbacks made in the period. Callback rate: of the callbacks owed
  in the period (booked, not cancelled, as /api/callbacks/figures counts them), the share
  made by its end.
- Calls: the answer figures of /api/stats/answers for calls offered in the period; violations
  and anomalies by kind, by when they occurred.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

ReportKind = Literal["daily", "weekly", "monthly", "season"]
REPORT_KINDS: tuple[ReportKind, ...] = ("daily", "weekly", "monthly", "season")
# The form's categories, in its order: 报修不热, 报修冰凉, 要求测温, 报修漏水.
FORM_CATEGORIES = ("not_hot", "ice_cold", "temperature_check", "leak")
UNASSIGNED = ""  # the row of repair tickets no station has (no address rule matched)


@dataclass(frozen=True, slots=True)
class Period:
    kind: ReportKind
    first: date  # the first local day
    end: date  # the day after the last (exclusive)
    season: date  # the season's first day, where cumulative figures start

    @property
    def key(self) -> str:
        """ "2026-12-03", "2026-W49", "2026-12" or "2026/27" (the season)."""
        if self.kind == "daily":
            return self.first.isoformat()
        if self.kind == "weekly":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "monthly":
            return self.first.strftime("%Y-%m")
        return f"{self.season.year}/{(self.season.year + 1) % 100:02d}"

    def window(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the period, local midnight to local midnight."""
        return _midnight(self.first, tz), _midnight(self.end, tz)

    def season_start(self, tz: ZoneInfo) -> datetime:
        return _midnight(min(self.season, self.first), tz)

    @property
    def days(self) -> int:
        return (self.end - self.first).days


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def daily(d: date, season: date) -> Period:
    return Period("daily", d, d + timedelta(days=1), season)


def weekly(d: date, season: date) -> Period:
    monday = d - timedelta(days=d.weekday())
    return Period("weekly", monday, monday + timedelta(days=7), season)


def monthly(d: date, season: date) -> Period:
    first = d.replace(day=1)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return Period("monthly", first, nxt, season)


def season_period(season: date, next_season: date) -> Period:
    return Period("season", season, next_season, season)


@dataclass(frozen=True, slots=True)
class StationRow:
    """One line of the form's station table (the station's code "" is the unassigned row)."""

    code: str
    name: str
    cumulative_reports: int = 0  # 累计报修
    cumulative_repairs: int = 0  # 累计维修
    reports: int = 0  # 今日报修 (in the period)
    repairs: int = 0  # 今日维修 (in the period)

    @property
    def unfinished(self) -> int:  # 未完成
        return self.cumulative_reports - self.cumulative_repairs


@dataclass(frozen=True, slots=True)
class Summary:
    """The form's first line."""

    repair_reports: int = 0  # 报修量
    consultations: int = 0  # 咨询量
    repaired: int = 0  # 已维修
    called_back: int = 0  # 已回访
    categories: Mapping[str, int] = field(default_factory=dict)  # 报修不热 …


@dataclass(frozen=True, slots=True)
class Hotline:
    """The hotline's own figures for the period."""

    calls: Mapping[str, object]  # AnswerStats.as_json()
    violations: Mapping[str, int]
    anomalies: Mapping[str, int]
    callbacks_owed: int
    callbacks_made_in_time: int  # of those owed in the period, made by its end

    @property
    def callback_rate(self) -> float | None:
        if not self.callbacks_owed:
            return None
        return round(self.callbacks_made_in_time / self.callbacks_owed, 4)


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    timezone: str
    generated_at: datetime
    summary: Summary
    stations: tuple[StationRow, ...]
    hotline: Hotline

    @property
    def total(self) -> StationRow:
        """总计: the sum of every station row (the unassigned row included)."""
        return StationRow(
            code="total",
            name="总计",
            cumulative_reports=sum(r.cumulative_reports for r in self.stations),
            cumulative_repairs=sum(r.cumulative_repairs for r in self.stations),
            reports=sum(r.reports for r in self.stations),
            repairs=sum(r.repairs for r in self.stations),
        )
