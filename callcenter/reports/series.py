"""The charts' data (图表) of one local day, from the reports' query layer and the calls'
answer figures: no figure is defined twice. No HTTP and no auth here: the chart routes and
the wallboard both call `load` and hand the result to charts.render.

    period = await series.day(reports, "2026-11-23")   # None: today; refuses as the reports do
    data = await series.load(reports, "hourly", period)
    svg = charts.render(data, "zh-CN")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args

from callcenter.anomalies.model import NUMBER, AnomalyKind
from callcenter.calls import stats
from callcenter.calls import store as calls_store
from callcenter.calls.model import CallState
from callcenter.clock import iso_z
from callcenter.errors import Invalid
from callcenter.reports import model
from callcenter.reports import store as q
from callcenter.reports.model import Period
from callcenter.reports.service import Reports

ChartName = Literal["hourly", "rings", "agents", "stations", "anomalies"]
CHART_NAMES: tuple[ChartName, ...] = get_args(ChartName)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Hour:
    """One local hour's answer figures (stats.AnswerStats), for the hourly chart."""

    hour: int
    offered: int = 0
    answered: int = 0
    answered_within_limit: int = 0
    rate_base: int = 0

    @property
    def rate(self) -> float | None:
        """接通率 within the limit: answered within ÷ rate_base, None when nothing counts."""
        return round(self.answered_within_limit / self.rate_base, 4) if self.rate_base else None


@dataclass(frozen=True, slots=True)
class Hourly:
    day: tuple[Hour, ...]  # 24 hours of the day
    last_week: tuple[Hour, ...]  # 24 hours of the same weekday a week before
    last_week_date: date
    limit: int  # the ring limit the rate is counted against


@dataclass(frozen=True, slots=True)
class Rings:
    """响铃次数: answered calls by the ring their phone was picked up on (`answered[i]` is
    ring i + 1; the last bin is that ring and later), and the calls not answered."""

    answered: tuple[int, ...]
    abandoned: int  # the caller hung up first (放弃)
    unanswered: int  # rang out (未接)
    limit: int
    cycle_seconds: float

    @property
    def last_bin(self) -> int:
        """The ring the last bin starts at (it holds every later one too: "6+")."""
        return len(self.answered)


@dataclass(frozen=True, slots=True)
class AgentRow:
    name: str
    answered: int
    median_seconds: float | None  # time to answer: ringing until picked up
    p90_seconds: float | None


@dataclass(frozen=True, slots=True)
class Agents:
    rows: tuple[AgentRow, ...]  # most calls answered first, then by name
    deadline_seconds: float  # the ring limit as time: limit × cycle


@dataclass(frozen=True, slots=True)
class StationBar:
    code: str
    name: str
    overdue: int = 0
    sent: int = 0
    accepted: int = 0

    @property
    def total(self) -> int:  # 未结工单
        return self.overdue + self.sent + self.accepted


@dataclass(frozen=True, slots=True)
class Stations:
    rows: tuple[StationBar, ...]  # the address book's order (the form's), zeros included


@dataclass(frozen=True, slots=True)
class AnomalyBar:
    kind: AnomalyKind
    open: int
    closed: int

    @property
    def number(self) -> int:
        return NUMBER[self.kind]


@dataclass(frozen=True, slots=True)
class Anomalies:
    rows: tuple[AnomalyBar, ...]  # 004's nine kinds in order


Data = Hourly | Rings | Agents | Stations | Anomalies


@dataclass(frozen=True, slots=True)
class Series:
    """One chart's figures: of `day` (local, in `timezone`), standing at `as_of` (the day's
    end, or now while the day runs: `complete` false)."""

    name: ChartName
    day: date
    timezone: str
    as_of: datetime
    complete: bool
    data: Data


async def day(reports: Reports, text: str | None) -> Period:
    """The daily period `text` (YYYY-MM-DD) names, today when None; refused as the daily
    report refuses it (Invalid bad-period or future-period, NotFound outside-data)."""
    period = reports.parse("daily", text if text is not None else reports.today().isoformat())
    await reports.check(period)
    return period


async def load(reports: Reports, name: ChartName, period: Period) -> Series:
    if name not in CHART_NAMES:
        raise Invalid("no-such-chart", f"charts: {', '.join(CHART_NAMES)}", "name")
    if period.kind != "daily":
        raise Invalid("bad-period", "a chart is of one day", "date")
    start, end = period.window(reports.tz)
    now = reports.clock.now()
    as_of = min(now, end)
    # The state "at the end of the day" holds what happened before midnight, not at it.
    inclusive = min(now, end - _US)
    data: Data
    async with reports.db().connect() as conn:
        if name == "hourly":
            before = model.daily(period.first - timedelta(days=7), period.season)
            b_start, b_end = before.window(reports.tz)
            found = await calls_store.calls_between(conn, start, end, monitored_only=True)
            earlier = await calls_store.calls_between(conn, b_start, b_end, monitored_only=True)
            data = Hourly(
                _hours(reports, found, now),
                _hours(reports, earlier, now),
                before.first,
                reports.rule.limit,
            )
        elif name in ("rings", "agents"):
            found = await calls_store.calls_between(conn, start, end, monitored_only=True)
            data = _rings(reports, found) if name == "rings" else _agents(reports, found)
        elif name == "stations":
            data = _stations(reports, await q.open_orders(conn, inclusive))
        else:
            states = await q.anomaly_states(conn, start, end, inclusive)
            data = Anomalies(tuple(AnomalyBar(k, o, c) for k, (o, c) in states.items()))
    return Series(name, period.first, reports.timezone, as_of, as_of == end, data)


def _hours(reports: Reports, calls: list[CallState], now: datetime) -> tuple[Hour, ...]:
    by_hour = stats.answer_stats_by_hour(calls, reports.rule, reports.tz, now)
    return tuple(
        Hour(h, s.offered, s.answered, s.answered_within_limit, s.rate_base)
        for h, s in enumerate(by_hour)
    )


def _rings(reports: Reports, calls: list[CallState]) -> Rings:
    rule = reports.rule
    bins = [0] * max(6, rule.limit + 2)  # 1 … 5 and 6+ for the usual three-ring limit
    abandoned = unanswered = 0
    for call in calls:
        if not stats.offered(call):
            continue
        on = stats.answered_on(call, rule)
        if on is not None:
            bins[min(on[0], len(bins)) - 1] += 1
        elif call.final == "abandoned":
            abandoned += 1
        elif call.final == "unanswered":
            unanswered += 1
    return Rings(tuple(bins), abandoned, unanswered, rule.limit, rule.cycle_seconds)


def _agents(reports: Reports, calls: list[CallState]) -> Agents:
    waits: dict[str, list[float]] = {}
    for call in calls:
        agent = stats.answering_agent(call) if stats.offered(call) else None
        on = stats.answered_on(call, reports.rule)
        if agent is not None and on is not None:
            waits.setdefault(agent.name, []).append(on[1])
    rows = [
        AgentRow(name, len(w), _tenth(stats.percentile(w, 0.5)), _tenth(stats.percentile(w, 0.9)))
        for name, w in waits.items()
    ]
    rows.sort(key=lambda r: (-r.answered, r.name))
    return Agents(tuple(rows), reports.rule.deadline.total_seconds())


def _tenth(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _stations(reports: Reports, found: dict[str, dict[str, int]]) -> Stations:
    rows = [StationBar(s.code, s.name, **found.pop(s.code, {})) for s in reports.book().stations]
    # A station no longer in the book keeps its open orders on the chart, after the book's.
    rows += [StationBar(code, code, **found[code]) for code in sorted(found)]
    return Stations(tuple(rows))


def series_json(s: Series) -> dict[str, Any]:
    """The figures a chart draws, as the chart route's format=json gives them."""
    body: dict[str, Any] = {
        "chart": s.name,
        "date": s.day.isoformat(),
        "timezone": s.timezone,
        "as_of": iso_z(s.as_of),
        "complete": s.complete,
    }
    d = s.data
    if isinstance(d, Hourly):
        body.update(
            last_week_date=d.last_week_date.isoformat(),
            hours=[_hour_json(h) for h in d.day],
            last_week=[_hour_json(h) for h in d.last_week],
        )
    elif isinstance(d, Rings):
        body.update(
            limit=d.limit,
            cycle_seconds=d.cycle_seconds,
            answered=[{"ring": i + 1, "calls": n, "and_later": i + 1 == d.last_bin}
                      for i, n in enumerate(d.answered)],
            abandoned=d.abandoned,
            unanswered=d.unanswered,
        )  # fmt: skip
    elif isinstance(d, Agents):
        body.update(
            deadline_seconds=d.deadline_seconds,
            agents=[{"name": r.name, "answered": r.answered, "median_seconds": r.median_seconds,
                     "p90_seconds": r.p90_seconds} for r in d.rows],
        )  # fmt: skip
    elif isinstance(d, Stations):
        body["stations"] = [
            {"code": r.code, "name": r.name, "open": r.total,
             **{k: getattr(r, k) for k in q.ORDER_STATES}}
            for r in d.rows
        ]  # fmt: skip
    else:
        body["anomalies"] = [
            {"kind": r.kind, "number": r.number, "open": r.open, "closed": r.closed} for r in d.rows
        ]
    return body


def _hour_json(h: Hour) -> dict[str, Any]:
    return {
        "hour": h.hour,
        "offered": h.offered,
        "answered": h.answered,
        "answered_within_limit": h.answered_within_limit,
        "rate_base": h.rate_base,
        "within_limit_rate": h.rate,
    }
