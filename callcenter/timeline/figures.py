"""The clock report's percentiles, pure: per day and per station, how long the tickets' steps
took from the first ring (model.Figures), as the nearest-rank percentile.

Nearest rank: the p-th percentile of n sorted values is the value at rank ⌈p/100 × n⌉
(1-based) — always a time some ticket really took, the same on every database, and easy to
check by hand: of 10 values p50 is the 5th, p90 the 9th, p99 the 10th.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from callcenter.timeline.model import METRICS, Figures, Metric

PERCENTILES: tuple[int, ...] = (50, 90, 99)


def nearest_rank(ordered: Sequence[float], p: int) -> float:
    """The p-th percentile (0 < p ≤ 100) of values sorted ascending, by nearest rank."""
    if not ordered:
        raise ValueError("no values")
    if not 0 < p <= 100:
        raise ValueError(f"p must be in (0, 100], got {p}")
    rank = -(-p * len(ordered) // 100)  # ⌈p × n / 100⌉ in integers: no float rounding
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """count, p50/p90/p99 and max of one figure (None when count is 0)."""

    count: int = 0
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None


def summarize(values: Iterable[float]) -> Summary:
    ordered = sorted(values)
    if not ordered:
        return Summary()
    p50, p90, p99 = (nearest_rank(ordered, p) for p in PERCENTILES)
    return Summary(len(ordered), p50, p90, p99, ordered[-1])


@dataclass(frozen=True, slots=True)
class Measured:
    """One repair ticket in the report: its local day (of taking it), its station (as the
    daily report files it: where the ticket is now; "" none) and its figures."""

    day: date
    station: str
    figures: Figures
    has_call: bool


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One group: a day (None: the whole period) and a station (None: every station)."""

    day: date | None
    station: str | None
    tickets: int = 0
    without_call: int = 0
    metrics: dict[Metric, Summary] = field(default_factory=dict)


def _row(day: date | None, station: str | None, items: Sequence[Measured]) -> ReportRow:
    values: dict[Metric, list[float]] = {m: [] for m in METRICS}
    for item in items:
        for metric in METRICS:
            value = item.figures.get(metric)
            if value is not None:
                values[metric].append(value)
    return ReportRow(
        day=day,
        station=station,
        tickets=len(items),
        without_call=sum(1 for i in items if not i.has_call),
        metrics={m: summarize(values[m]) for m in METRICS},
    )


def report_rows(days: Sequence[date], items: Sequence[Measured]) -> list[ReportRow]:
    """Every day of the range (an empty day too: a CSV keeps its rows) with its stations
    that had tickets, then the whole period likewise. Stations in code order, "" (none)
    last."""
    by_day: dict[date, list[Measured]] = defaultdict(list)
    for item in items:
        by_day[item.day].append(item)
    rows: list[ReportRow] = []
    for day in days:
        rows += _grouped(day, by_day.get(day, []))
    rows += _grouped(None, list(items))
    return rows


def _grouped(day: date | None, items: Sequence[Measured]) -> list[ReportRow]:
    by_station: dict[str, list[Measured]] = defaultdict(list)
    for item in items:
        by_station[item.station].append(item)
    order = sorted(by_station, key=lambda code: (code == "", code))
    return [_row(day, None, items), *(_row(day, code, by_station[code]) for code in order)]
