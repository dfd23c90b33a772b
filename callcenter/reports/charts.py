"""The charts (图表) as SVG, pure: a Series in, the same bytes out for the same figures. Read
at a glance: a headline of the day's figures in large type, axes with round ticks, a
legend, every series told apart by pattern and marker as well as colour, and the figures
again in words in <desc> for screen readers. This module draws the hourly chart and the
ring histogram; charts_bars.py the bar charts (agents, stations, anomalies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from callcenter.reports import charts_bars as bars
from callcenter.reports.chart_text import (
    Lang,
    as_of_text,
    colon,
    day_text,
    rate_text,
    sentence,
    short_day,
    tr,
)
from callcenter.reports.series import Agents, Anomalies, Hour, Hourly, Rings, Series, Stations
from callcenter.reports.svg import (
    BLUE,
    GREY,
    GRID,
    INK,
    MUTED,
    ORANGE,
    VERMILION,
    Canvas,
    Fill,
    heading,
    legend,
    note,
    text_width,
    tick_label,
    ticks,
)


def render(series: Series, lang: Lang = "zh-CN") -> str:
    """The chart of `series` as an SVG document (UTF-8 text)."""
    d = series.data
    if isinstance(d, Hourly):
        return hourly(series, d, lang)
    if isinstance(d, Rings):
        return rings(series, d, lang)
    if isinstance(d, Agents):
        return bars.agents(series, d, lang)
    if isinstance(d, Stations):
        return bars.stations(series, d, lang)
    if isinstance(d, Anomalies):
        return bars.anomalies(series, d, lang)
    raise TypeError(f"no chart for {type(d).__name__}")


def header(c: Canvas, series: Series, lang: Lang, title: str, note: str = "") -> None:
    sub = as_of_text(lang, series.as_of, series.complete, series.timezone)
    heading(c, f"{title} · {day_text(lang, series.day)}", f"{sub}  ·  {note}" if note else sub)


def _sum(hours: Sequence[Hour]) -> Hour:
    return Hour(
        -1,
        sum(h.offered for h in hours),
        sum(h.answered for h in hours),
        sum(h.answered_within_limit for h in hours),
        sum(h.rate_base for h in hours),
    )


# -- hourly: rate lines over offered bars, the day against the same weekday a week before ----
W, LEFT, RIGHT = 1200, 96, 1160
RATE_TOP, RATE_BOTTOM = 222, 428
BARS_TOP, BARS_BOTTOM = 512, 712


Shape = Literal["circle", "square"]
# (key, bar colour, bar pattern, line dash, marker) of the day and of a week before.
DAY: tuple[str, str, Fill, str | None, Shape] = ("day", BLUE, "solid", None, "circle")
WEEK: tuple[str, str, Fill, str | None, Shape] = ("last-week", ORANGE, "diagonal", "8 5", "square")


def hourly(series: Series, d: Hourly, lang: Lang) -> str:
    c = Canvas(W, 790, f"chart-{series.name}")
    title = tr(lang, "hourly.title")
    day_name = tr(lang, "hourly.day", date=short_day(lang, series.day))
    week_name = tr(lang, "hourly.last_week", date=short_day(lang, d.last_week_date))
    header(c, series, lang, title, week_name)
    day, before = _sum(d.day), _sum(d.last_week)
    x = 40.0
    for when, total, ink in ((series.day, day, INK), (d.last_week_date, before, MUTED)):
        rate = rate_text(lang, total.rate)
        figures = tr(lang, "hourly.headline", offered=total.offered, rate=rate)
        text = f"{short_day(lang, when)}{colon(lang)}{figures}"
        c.text(x, 128, text, 24, bold=ink == INK, fill=ink, cls="headline")
        x += text_width(text, 24) + 40
    _series_key(c, 40, 170, DAY, day_name)
    _series_key(c, 520, 170, WEEK, week_name)
    slot = (RIGHT - LEFT) / 24
    _rate_panel(c, d, lang, slot)
    if day.offered == 0:
        note(c, (LEFT + RIGHT) / 2, (RATE_TOP + RATE_BOTTOM) / 2, tr(lang, "no_calls"))
    _offered_panel(c, d, lang, slot)

    desc = [
        tr(lang, "hourly.desc", title=title, date=day_text(lang, series.day),
           before=day_text(lang, d.last_week_date), limit=d.limit)
    ]  # fmt: skip
    for h, b in zip(d.day, d.last_week, strict=True):
        if h.offered or b.offered:
            desc.append(
                tr(lang, "hourly.desc_hour", hour=h.hour, offered=h.offered, b_offered=b.offered,
                   rate=rate_text(lang, h.rate), b_rate=rate_text(lang, b.rate))
            )  # fmt: skip
    if not (day.offered or before.offered):
        desc.append(tr(lang, "no_calls"))
    return c.document(f"{title} · {day_text(lang, series.day)}", sentence(lang, desc))


def _rate_panel(c: Canvas, d: Hourly, lang: Lang, slot: float) -> None:
    """接通率 on 0–100 %: a line per series, broken where an hour has nothing to count."""
    c.text(LEFT, RATE_TOP - 14, tr(lang, "hourly.rate", limit=d.limit), 19, bold=True)
    for pct in range(0, 101, 20):
        y = RATE_BOTTOM - (RATE_BOTTOM - RATE_TOP) * pct / 100
        c.line(LEFT, y, RIGHT, y, GRID if pct else INK)
        c.text(LEFT - 10, y + 6, f"{pct}%", 16, anchor="end", cls="tick")

    def at(h: Hour, rate: float) -> tuple[float, float]:
        return LEFT + slot * (h.hour + 0.5), RATE_BOTTOM - (RATE_BOTTOM - RATE_TOP) * rate

    for hours, (key, colour, _, dash, shape) in ((d.last_week, WEEK), (d.day, DAY)):
        run: list[tuple[float, float]] = []
        for h in hours:
            if h.rate is not None:
                run.append(at(h, h.rate))
            if (h.rate is None or h.hour == 23) and run:
                if len(run) > 1:
                    c.polyline(run, colour, 3, dash, cls=f"rate-line {key}")
                run = []
        for h in hours:
            if h.rate is None:
                continue
            x, y = at(h, h.rate)
            tip = f"{h.hour}:00 {rate_text(lang, h.rate)}"
            tip += f" ({h.answered_within_limit}/{h.rate_base})"
            data = {"series": key, "hour": str(h.hour), "value": f"{h.rate:.4f}"}
            c.marker(shape, x, y, 6 if shape == "circle" else 5, colour, tip, "point", data)
    _hour_labels(c, RATE_BOTTOM + 22, slot)


def _offered_panel(c: Canvas, d: Hourly, lang: Lang, slot: float) -> None:
    """来电量: the day's bar and the week before's side by side in each hour."""
    c.text(LEFT, BARS_TOP - 14, tr(lang, "hourly.offered"), 19, bold=True)
    steps = ticks(max([h.offered for h in (*d.day, *d.last_week)], default=0))
    top = steps[-1]
    for v in steps:
        y = BARS_BOTTOM - (BARS_BOTTOM - BARS_TOP) * v / top
        c.line(LEFT, y, RIGHT, y, GRID if v else INK)
        c.text(LEFT - 10, y + 6, tick_label(v), 16, anchor="end", cls="tick")
    for hours, (key, colour, pattern, _, _), offset in (
        (d.day, DAY, 0.12),
        (d.last_week, WEEK, 0.52),
    ):
        fill = c.paint(colour, pattern)
        for h in hours:
            height = (BARS_BOTTOM - BARS_TOP) * h.offered / top
            data = {"series": key, "hour": str(h.hour), "value": str(h.offered)}
            x = LEFT + slot * (h.hour + offset)
            stroke = colour if h.offered else None
            tip = f"{h.hour}:00 {h.offered}"
            c.rect(x, BARS_BOTTOM - height, slot * 0.36, height, fill, stroke=stroke, tip=tip,
                   cls="bar", data=data)  # fmt: skip
    _hour_labels(c, BARS_BOTTOM + 24, slot)
    c.text((LEFT + RIGHT) / 2, BARS_BOTTOM + 60, tr(lang, "hourly.hour"), 18, anchor="middle")


def _series_key(
    c: Canvas, x: float, y: float, look: tuple[str, str, Fill, str | None, Shape], text: str
) -> None:
    """A legend entry: the bar's swatch, and the line with its marker."""
    _, colour, pattern, dash, shape = look
    c.rect(x, y - 15, 22, 18, c.paint(colour, pattern), stroke=colour, cls="legend-swatch")
    c.line(x + 32, y - 6, x + 72, y - 6, colour, 3, dash)
    c.marker(shape, x + 52, y - 6, 6 if shape == "circle" else 5, colour)
    c.text(x + 82, y, text, 19, cls="legend")


def _hour_labels(c: Canvas, y: float, slot: float) -> None:
    for hour in range(24):
        c.text(LEFT + slot * (hour + 0.5), y, str(hour), 15, anchor="middle", fill=MUTED)


# -- rings: answered by ring, the limit drawn; then the calls not answered ------------------
R_W, R_LEFT, R_RIGHT, R_TOP, R_BOTTOM = 1000, 96, 960, 256, 566


def rings(series: Series, d: Rings, lang: Lang) -> str:
    c = Canvas(R_W, 670, f"chart-{series.name}")
    title = tr(lang, "rings.title")
    header(c, series, lang, title)
    answered = sum(d.answered)
    within = sum(d.answered[: d.limit])
    c.text(40, 128, tr(lang, "rings.headline", answered=answered, within=within, limit=d.limit,
                       abandoned=d.abandoned, unanswered=d.unanswered), 24, bold=True,
           cls="headline")  # fmt: skip
    on_time, late = c.paint(BLUE, "solid"), c.paint(VERMILION, "diagonal")
    lost = c.paint(GREY, "dots")
    legend(c, 40, 172, [(on_time, tr(lang, "rings.within", limit=d.limit)),
                        (late, tr(lang, "rings.late", limit=d.limit)),
                        (lost, tr(lang, "rings.lost"))])  # fmt: skip

    names = [
        tr(lang, "rings.last" if i + 1 == d.last_bin else "rings.bin", n=i + 1)
        for i in range(len(d.answered))
    ]
    columns: list[tuple[str, int, str, str, str] | None] = [
        (names[i], n, on_time if i < d.limit else late, BLUE if i < d.limit else VERMILION,
         f"ring-{i + 1}")
        for i, n in enumerate(d.answered)
    ]  # fmt: skip
    columns += [None, (tr(lang, "rings.abandoned"), d.abandoned, lost, GREY, "abandoned"),
                (tr(lang, "rings.unanswered"), d.unanswered, lost, GREY, "unanswered")]  # fmt: skip
    slot = (R_RIGHT - R_LEFT) / len(columns)
    steps = ticks(max([col[1] for col in columns if col], default=0))
    top = steps[-1]
    for v in steps:
        y = R_BOTTOM - (R_BOTTOM - R_TOP) * v / top
        c.line(R_LEFT, y, R_RIGHT, y, GRID if v else INK)
        c.text(R_LEFT - 10, y + 6, tick_label(v), 16, anchor="end", cls="tick")
    c.text(30, (R_TOP + R_BOTTOM) / 2, tr(lang, "rings.calls"), 18, anchor="middle", rotate=True)
    for i, col in enumerate(columns):
        if col is None:
            continue
        name, n, fill, stroke, key = col
        x = R_LEFT + slot * (i + 0.18)
        height = (R_BOTTOM - R_TOP) * n / top
        c.rect(x, R_BOTTOM - height, slot * 0.64, height, fill, stroke=stroke if n else None,
               tip=f"{name}: {n}", cls="bar", data={"bin": key, "value": str(n)})  # fmt: skip
        c.text(R_LEFT + slot * (i + 0.5), R_BOTTOM - height - 10, str(n), 22, anchor="middle",
               bold=True, cls="value")  # fmt: skip
        c.text(R_LEFT + slot * (i + 0.5), R_BOTTOM + 30, name, 19, anchor="middle", cls="bin")
    ring_axis_mid = R_LEFT + slot * len(d.answered) / 2
    c.text(ring_axis_mid, R_BOTTOM + 70, tr(lang, "rings.axis"), 18, anchor="middle")
    x = R_LEFT + slot * d.limit
    c.line(x, R_TOP - 50, x, R_BOTTOM, VERMILION, 3, "10 6", cls="limit")
    c.text(x + 8, R_TOP - 32, tr(lang, "rings.limit", limit=d.limit), 19, bold=True,
           fill=VERMILION, cls="limit-label")  # fmt: skip
    if answered + d.abandoned + d.unanswered == 0:
        note(c, (R_LEFT + R_RIGHT) / 2, (R_TOP + R_BOTTOM) / 2, tr(lang, "no_calls"))

    desc = [f"{title} · {day_text(lang, series.day)}{colon(lang)}"]
    pairs = zip(names, d.answered, strict=True)
    desc += [tr(lang, "rings.desc_bin", ring=name, n=n) for name, n in pairs]
    desc += [f"{col[0]}{colon(lang)}{col[1]}" for col in columns[len(d.answered) + 1 :] if col]
    desc.append(tr(lang, "rings.limit", limit=d.limit))
    return c.document(f"{title} · {day_text(lang, series.day)}", sentence(lang, desc))
