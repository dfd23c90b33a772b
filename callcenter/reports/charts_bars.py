"""The horizontal bar charts: agents (calls answered, time to answer), open orders by station
and anomalies by kind. A row per agent, station or kind, its name beside it, its figure at
the bar's end; stacked parts told apart by pattern and named in the legend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callcenter.reports.chart_text import (
    Lang,
    anomaly_name,
    as_of_text,
    day_text,
    seconds_text,
    sentence,
    tr,
)
from callcenter.reports.series import Agents, Anomalies, Series, Stations
from callcenter.reports.svg import (
    BLUE,
    GREY,
    GRID,
    INK,
    ORANGE,
    PAPER,
    VERMILION,
    Canvas,
    fit,
    heading,
    label,
    legend,
    note,
    text_width,
    tick_label,
    ticks,
)

W = 1200
ROW = 40
FIRST_ROW = 250  # the top of the first row


@dataclass(frozen=True, slots=True)
class Part:
    """One stacked part of a row's bar."""

    value: int
    fill: str  # a fill attribute value (colour or pattern)
    stroke: str
    key: str  # data-part, for readers of the SVG
    ink: str = INK  # the figure's colour when written inside the part


def _start(series: Series, lang: Lang, title: str, height: int) -> Canvas:
    c = Canvas(W, height, f"chart-{series.name}")
    sub = as_of_text(lang, series.as_of, series.complete, series.timezone)
    heading(c, f"{title} · {day_text(lang, series.day)}", sub)
    return c


def _axis(
    c: Canvas, x0: float, x1: float, y0: float, y1: float, top: float, steps: Sequence[float]
) -> None:
    """Gridlines across the rows and the tick labels under them."""
    for v in steps:
        x = x0 + (x1 - x0) * v / top
        c.line(x, y0 - 6, x, y1, GRID if v else INK)
        c.text(x, y1 + 24, tick_label(v), 16, anchor="middle", cls="tick")


def _rows(
    c: Canvas, names: Sequence[str], bars: Sequence[Sequence[Part]], name_right: float,
    x0: float, x1: float, totals: Sequence[str] | None = None,
) -> float:  # fmt: skip
    """Each row's name and stacked bar, the total after it; the scale's top (for the axis)."""
    steps = ticks(max((sum(p.value for p in parts) for parts in bars), default=0))
    top = steps[-1]
    bottom = FIRST_ROW + ROW * len(names)
    _axis(c, x0, x1, FIRST_ROW, bottom, top, steps)
    for i, (name, parts) in enumerate(zip(names, bars, strict=True)):
        y = FIRST_ROW + ROW * i
        c.text(name_right, y + 27, fit(name, 19, name_right - 30), 19, anchor="end", cls="name")
        x = x0
        for p in parts:
            w = (x1 - x0) * p.value / top
            c.rect(x, y + 6, w, ROW - 12, p.fill, stroke=p.stroke if p.value else None,
                   tip=f"{name}: {p.value}", cls="bar",
                   data={"row": str(i), "part": p.key, "value": str(p.value)})  # fmt: skip
            figure = str(p.value)
            if len(parts) > 1 and p.value and w >= text_width(figure, 16) + 10:
                c.text(x + w / 2, y + 26, figure, 16, anchor="middle", bold=True, fill=p.ink,
                       halo=p.ink == INK, cls="part-value")  # fmt: skip
            x += w
        total = totals[i] if totals else str(sum(p.value for p in parts))
        c.text(x + 8, y + 27, total, 19, bold=True, cls="value")
    return top


# -- agents ----------------------------------------------------------------------------------
BAR_X0, BAR_X1 = 250, 540
TIME_X0, TIME_X1 = 660, 1010


def agents(series: Series, d: Agents, lang: Lang) -> str:
    n = len(d.rows)
    c = _start(series, lang, tr(lang, "agents.title"), FIRST_ROW + ROW * max(n, 3) + 70)
    total = sum(r.answered for r in d.rows)
    c.text(40, 128, tr(lang, "agents.headline", agents=n, answered=total), 24, bold=True,
           cls="headline")  # fmt: skip
    limit = tr(lang, "agents.limit", seconds=label(d.deadline_seconds))
    c.marker("circle", 48, 166, 7, BLUE)
    c.text(62, 172, tr(lang, "agents.median"), 19, cls="legend")
    x = 62 + text_width(tr(lang, "agents.median"), 19) + 30
    c.marker("diamond", x, 166, 8, VERMILION)
    c.text(x + 14, 172, tr(lang, "agents.p90"), 19, cls="legend")
    x += 14 + text_width(tr(lang, "agents.p90"), 19) + 30
    c.line(x, 166, x + 36, 166, VERMILION, 3, "10 6")
    c.text(x + 44, 172, limit, 19, cls="legend")
    c.text(BAR_X0, FIRST_ROW - 22, tr(lang, "agents.answered"), 19, bold=True)
    c.text(TIME_X0, FIRST_ROW - 22, tr(lang, "agents.time"), 19, bold=True)
    c.text(W - 20, FIRST_ROW - 22, tr(lang, "agents.figures"), 17, anchor="end", bold=True)
    if not d.rows:
        note(c, W / 2, FIRST_ROW + ROW * 1.6, tr(lang, "agents.none"))
        return c.document(_title(series, lang, "agents.title"),
                          sentence(lang, [_title(series, lang, "agents.title") + ": ",
                                          tr(lang, "agents.none")]))  # fmt: skip
    names = [r.name for r in d.rows]
    _rows(c, names, [[Part(r.answered, c.paint(BLUE, "solid"), BLUE, "answered")] for r in d.rows],
          BAR_X0 - 12, BAR_X0, BAR_X1)  # fmt: skip
    bottom = FIRST_ROW + ROW * n
    longest = max([r.p90_seconds or 0.0 for r in d.rows] + [d.deadline_seconds])
    steps = ticks(longest)
    top = steps[-1]
    _axis(c, TIME_X0, TIME_X1, FIRST_ROW, bottom, top, steps)

    def xs(seconds: float) -> float:
        return TIME_X0 + (TIME_X1 - TIME_X0) * seconds / top

    c.line(xs(d.deadline_seconds), FIRST_ROW - 8, xs(d.deadline_seconds), bottom, VERMILION, 3,
           "10 6", cls="limit")  # fmt: skip
    for i, r in enumerate(d.rows):
        y = FIRST_ROW + ROW * i + ROW / 2
        if r.median_seconds is not None and r.p90_seconds is not None:
            c.line(xs(r.median_seconds), y, xs(r.p90_seconds), y, GREY, 3)
            c.marker(
                "circle",
                xs(r.median_seconds),
                y,
                7,
                BLUE,
                f"{r.name}: {tr(lang, 'agents.median')} {seconds_text(r.median_seconds)}",
                "median",
                {"row": str(i), "value": seconds_text(r.median_seconds)},
            )
            c.marker("diamond", xs(r.p90_seconds), y, 8, VERMILION,
                     f"{r.name}: {tr(lang, 'agents.p90')} {seconds_text(r.p90_seconds)}",
                     "p90", {"row": str(i), "value": seconds_text(r.p90_seconds)})  # fmt: skip
        figures = f"{seconds_text(r.median_seconds)} / {seconds_text(r.p90_seconds)}"
        c.text(W - 20, y + 7, figures, 19, anchor="end", cls="seconds")
    words = [
        tr(lang, "agents.desc_row", name=r.name, answered=r.answered,
           median=seconds_text(r.median_seconds), p90=seconds_text(r.p90_seconds))
        for r in d.rows
    ]  # fmt: skip
    title = _title(series, lang, "agents.title")
    return c.document(title, sentence(lang, [f"{title} ({limit}): ", *words]))


def _title(series: Series, lang: Lang, key: str) -> str:
    return f"{tr(lang, key)} · {day_text(lang, series.day)}"


# -- stations --------------------------------------------------------------------------------
def stations(series: Series, d: Stations, lang: Lang) -> str:
    c = _start(series, lang, tr(lang, "stations.title"), FIRST_ROW + ROW * len(d.rows) + 60)
    paints = {
        "overdue": (c.paint(VERMILION, "cross"), VERMILION, INK),
        "sent": (c.paint(ORANGE, "diagonal"), ORANGE, INK),
        "accepted": (c.paint(BLUE, "solid"), BLUE, PAPER),
    }
    parts = {k: sum(getattr(r, k) for r in d.rows) for k in paints}
    total = sum(parts.values())
    figures = " · ".join(f"{tr(lang, 'stations.' + k)} {n}" for k, n in parts.items())
    headline = (
        f"{tr(lang, 'stations.headline', total=total)} · {figures}"
        if total
        else tr(lang, "stations.none")
    )
    c.text(40, 128, headline, 24, bold=True, cls="headline")
    legend(c, 40, 176, [(fill, tr(lang, "stations." + k)) for k, (fill, _, _) in paints.items()])
    bars = [
        [Part(getattr(r, k), fill, stroke, k, ink) for k, (fill, stroke, ink) in paints.items()]
        for r in d.rows
    ]
    _rows(c, [r.name for r in d.rows], bars, 200, 220, 1100)
    words = [
        tr(lang, "stations.desc_row", name=r.name, total=r.total, overdue=r.overdue, sent=r.sent,
           accepted=r.accepted)
        for r in d.rows
    ]  # fmt: skip
    title = _title(series, lang, "stations.title")
    when = as_of_text(lang, series.as_of, series.complete, series.timezone)
    return c.document(title, sentence(lang, [f"{title}, {when}: ", *words]))


# -- anomalies -------------------------------------------------------------------------------
def anomalies(series: Series, d: Anomalies, lang: Lang) -> str:
    c = _start(series, lang, tr(lang, "anomalies.title"), FIRST_ROW + ROW * len(d.rows) + 60)
    is_open, closed = c.paint(VERMILION, "diagonal"), c.paint(BLUE, "solid")
    n_open, n_closed = sum(r.open for r in d.rows), sum(r.closed for r in d.rows)
    headline = (
        tr(lang, "anomalies.headline", total=n_open + n_closed, open=n_open, closed=n_closed)
        if n_open + n_closed
        else tr(lang, "anomalies.none")
    )
    c.text(40, 128, headline, 24, bold=True, cls="headline")
    legend(c, 40, 176, [(is_open, tr(lang, "anomalies.open")),
                        (closed, tr(lang, "anomalies.closed"))])  # fmt: skip
    names = [anomaly_name(lang, r.kind, r.number) for r in d.rows]
    bars = [
        [Part(r.open, is_open, VERMILION, "open"), Part(r.closed, closed, BLUE, "closed", PAPER)]
        for r in d.rows
    ]
    totals = [
        f"{r.open + r.closed}" + (f" ({tr(lang, 'anomalies.open')} {r.open})" if r.open else "")
        for r in d.rows
    ]
    _rows(c, names, bars, 320, 340, 1060, totals)
    words = [
        tr(lang, "anomalies.desc_row", kind=name, open=r.open, closed=r.closed)
        for name, r in zip(names, d.rows, strict=True)
    ]
    title = _title(series, lang, "anomalies.title")
    return c.document(title, sentence(lang, [f"{title}: ", *words]))
