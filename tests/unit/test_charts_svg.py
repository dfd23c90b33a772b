"""The chart renderer on hand-made figures: well-formed SVG in both languages, an empty day
drawn as an empty chart that says so, huge figures and long or hostile names kept inside
the drawing and escaped, the same bytes for the same figures, and no auth or HTTP in the
modules a wallboard calls."""

from __future__ import annotations

import ast
import itertools
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.anomalies.model import ANOMALY_KINDS
from callcenter.reports import charts
from callcenter.reports.chart_text import LANGS, Lang
from callcenter.reports.series import (
    AgentRow,
    Agents,
    Anomalies,
    AnomalyBar,
    Data,
    Hour,
    Hourly,
    Rings,
    Series,
    StationBar,
    Stations,
)
from callcenter.reports.svg import esc, fit, text_width, ticks

SVG = "{http://www.w3.org/2000/svg}"
DAY = date(2026, 11, 23)
END = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
STATIONS = ("宏城", "裕隆", "幸福", "万科")


def series(data: Data, name: str) -> Series:
    return Series(name, DAY, "Asia/Shanghai", END, True, data)  # type: ignore[arg-type]


def hours(figures: dict[int, tuple[int, int, int]]) -> tuple[Hour, ...]:
    """(offered, answered within the limit, rate base) by hour; answered late: none."""
    out = []
    for h in range(24):
        offered, within, base = figures.get(h, (0, 0, 0))
        out.append(Hour(h, offered, within, within, base))
    return tuple(out)


def sample() -> list[Series]:
    """One of each chart, with figures in every part of it."""
    day = hours({9: (12, 10, 11), 10: (30, 24, 28), 23: (1, 0, 1)})
    week = hours({8: (4, 4, 4), 9: (8, 8, 8), 14: (5, 2, 4)})
    return [
        series(Hourly(day, week, date(2026, 11, 16), 3), "hourly"),
        series(Rings((40, 31, 12, 6, 2, 3), 5, 2, 3, 5.0), "rings"),
        series(
            Agents((AgentRow("li.na", 30, 4.5, 11.2), AgentRow("wang", 2, 16.0, 19.0)), 15.0),
            "agents",
        ),
        series(
            Stations(tuple(StationBar(f"s{i}", n, i, 2 * i, 3) for i, n in enumerate(STATIONS))),
            "stations",
        ),
        series(
            Anomalies(tuple(AnomalyBar(k, i % 2, i) for i, k in enumerate(ANOMALY_KINDS))),
            "anomalies",
        ),
    ]


def empty() -> list[Series]:
    none = hours({})
    return [
        series(Hourly(none, none, date(2026, 11, 16), 3), "hourly"),
        series(Rings((0,) * 6, 0, 0, 3, 5.0), "rings"),
        series(Agents((), 15.0), "agents"),
        series(Stations(tuple(StationBar(f"s{i}", n) for i, n in enumerate(STATIONS))), "stations"),
        series(Anomalies(tuple(AnomalyBar(k, 0, 0) for k in ANOMALY_KINDS)), "anomalies"),
    ]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def all_text(root: ET.Element) -> str:
    return " ".join(e.text or "" for e in root.iter(f"{SVG}text"))


def inside(root: ET.Element) -> None:
    """Every rectangle and text starts within the drawing's width and height."""
    width, height = float(root.get("width", "")), float(root.get("height", ""))
    for e in root.iter():
        for axis, limit in (("x", width), ("y", height)):
            v = e.get(axis)
            if v is not None:
                assert -1 <= float(v) <= limit + 1, (e.tag, e.attrib)
        for dim, limit in (("width", width), ("height", height)):
            v = e.get(dim)
            if v is not None and e.tag != f"{SVG}pattern":
                assert 0 <= float(v) <= limit, (e.tag, e.attrib)


@pytest.mark.parametrize("lang", LANGS)
def test_each_chart_is_an_image_named_and_described_for_screen_readers(lang: Lang) -> None:
    for s in sample():
        root = parse(charts.render(s, lang))
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and desc is not None
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        assert (title.text or "") and len(desc.text or "") > len(title.text or "")
        ids = [e.get("id") for e in root.iter() if e.get("id")]
        assert len(ids) == len(set(ids))
        fills = {m for e in root.iter() for m in re.findall(r"url\(#([^)]+)\)", e.get("fill", ""))}
        assert fills <= set(ids)  # every pattern used is defined
        inside(root)


def test_the_figures_are_written_in_words_in_the_description() -> None:
    hourly, rings, agents, stations, anomalies = sample()
    desc = parse(charts.render(hourly, "en")).find(f"{SVG}desc")
    assert desc is not None
    assert "10:00 30 calls (week before 0), rate 85.7 % (week before —)" in (desc.text or "")
    text = parse(charts.render(rings, "zh-CN")).find(f"{SVG}desc")
    assert (
        text is not None and "6声+接听 3 通" in (text.text or "") and "放弃：5" in (text.text or "")
    )
    text = parse(charts.render(agents, "en")).find(f"{SVG}desc")
    assert text is not None and "wang: 2 answered, median 16.0 s" in (text.text or "")
    text = parse(charts.render(stations, "zh-CN")).find(f"{SVG}desc")
    assert text is not None and "万科：未结 12（超时 3，待接单 6，已接单 3）" in (text.text or "")
    text = parse(charts.render(anomalies, "en")).find(f"{SVG}desc")
    assert text is not None and "9 forwarded by the office: 0 open, 8 closed" in (text.text or "")


def test_series_are_told_apart_by_pattern_not_colour_alone() -> None:
    root = parse(charts.render(sample()[0], "zh-CN"))
    fills = {
        e.get("data-series"): e.get("fill")
        for e in root.iter(f"{SVG}rect")
        if e.get("class") == "bar" and e.get("data-value") != "0"
    }
    assert fills["day"] == "#0072B2" and (fills["last-week"] or "").startswith("url(#")
    shapes = {e.tag for e in root.iter() if e.get("class") == "point"}
    assert shapes == {f"{SVG}circle", f"{SVG}rect"}  # circles for the day, squares a week before
    lines = [e for e in root.iter(f"{SVG}polyline") if "last-week" in e.get("class", "")]
    assert lines and all(e.get("stroke-dasharray") for e in lines)


@pytest.mark.parametrize("lang", LANGS)
def test_an_empty_day_is_an_empty_chart_that_says_so(lang: Lang) -> None:
    words = {
        "zh-CN": ("暂无来电", "暂无接听", "无未结工单", "暂无异常事件"),
        "en": ("no calls", "no calls answered", "no open orders", "no anomalies"),
    }[lang]
    drawn = [parse(charts.render(s, lang)) for s in empty()]
    hourly, rings, agents, stations, anomalies = drawn
    for root, said in ((hourly, words[0]), (rings, words[0]), (agents, words[1]),
                       (stations, words[2]), (anomalies, words[3])):  # fmt: skip
        assert said in all_text(root)
        inside(root)
    for root in (hourly, rings):
        assert [e.text for e in root.iter(f"{SVG}text") if e.get("class") == "empty"] == [words[0]]
        assert all(float(e.get("height", "")) == 0 for e in root.iter(f"{SVG}rect")
                   if e.get("class") == "bar")  # fmt: skip
    # Every station keeps its row, with 0 written beside it.
    assert [e.text for e in stations.iter(f"{SVG}text") if e.get("class") == "value"] == ["0"] * 4


def test_huge_figures_stay_inside_the_drawing_in_plain_digits() -> None:
    big = 1_234_567_891
    s = [
        series(Hourly(hours({9: (big, big - 1, big)}), hours({}), date(2026, 11, 16), 3), "hourly"),
        series(Rings((big, 1, 0, 0, 0, big), big, 7, 3, 5.0), "rings"),
        series(Agents((AgentRow("li.na", big, 1e6, 9.9e9),), 15.0), "agents"),
        series(
            Stations((StationBar("a", "宏城", big, big, big), StationBar("b", "裕隆"))), "stations"
        ),
    ]
    for one in s:
        svg = charts.render(one, "en")
        assert not re.search(r"\b\d+(\.\d+)?[eE][+-]?\d+\b", svg), one.name  # never 1.2e+09
        root = parse(svg)
        inside(root)
    bars = [
        e for e in parse(charts.render(s[1], "en")).iter(f"{SVG}rect") if e.get("class") == "bar"
    ]
    heights = {e.get("data-bin"): float(e.get("height", "")) for e in bars}
    assert heights["ring-1"] == heights["abandoned"] > 0
    assert str(big) in all_text(parse(charts.render(s[1], "en")))


NASTY = "<i>&'\"站\x01\x0b\ufffe"


def test_long_and_hostile_names_are_cut_to_their_column_and_escaped() -> None:
    long = "很长的维修站名字" * 30
    s = [
        series(Agents((AgentRow(NASTY, 3, 1.0, 2.0), AgentRow(long, 2, 1.0, 2.0)), 15.0), "agents"),
        series(Stations((StationBar("x", NASTY, 1), StationBar("y", long, 0, 2))), "stations"),
    ]
    for one in s:
        svg = charts.render(one, "zh-CN")
        assert "<i>" not in svg and "&lt;i&gt;&amp;&#39;&quot;站" in svg
        root = parse(svg)  # control characters would make it unreadable XML
        names = [e for e in root.iter(f"{SVG}text") if e.get("class") == "name"]
        assert names[0].text == "<i>&'\"站\ufffd\ufffd\ufffd"
        cut = names[1].text or ""
        assert cut.endswith("…") and long.startswith(cut[:-1])
        assert text_width(cut, 19) <= 210
        desc = root.find(f"{SVG}desc")
        assert desc is not None and long in (desc.text or "")  # in full for screen readers
        tips = [t.text for t in root.iter(f"{SVG}title")]
        assert any(long in (t or "") for t in tips)  # and on the bar, as a tooltip


def test_the_same_figures_give_the_same_bytes() -> None:
    for a, b in zip(sample(), sample(), strict=True):
        assert charts.render(a, "zh-CN") == charts.render(b, "zh-CN")
    assert charts.render(sample()[0], "zh-CN") != charts.render(sample()[0], "en")


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False))
def test_ticks_are_round_steps_from_zero_past_the_top(top: float) -> None:
    steps = ticks(top)
    assert steps[0] == 0 and steps[-1] >= top and 2 <= len(steps) <= 12
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(steps)}
    assert len(gaps) == 1
    step = gaps.pop()
    mantissa = step / 10 ** (len(str(int(step))) - 1)
    assert round(mantissa, 6) in (1, 2, 5)


def test_escaping_and_fitting_helpers() -> None:
    assert esc("a<b>&'\"") == "a&lt;b&gt;&amp;&#39;&quot;"
    assert fit("li.na", 19, 200) == "li.na"
    assert fit("宏城" * 50, 20, 100).endswith("…")


PACKAGE = Path(__file__).resolve().parents[2] / "callcenter" / "reports"


@pytest.mark.parametrize(
    "module", ["series.py", "charts.py", "charts_bars.py", "svg.py", "chart_text.py"]
)
def test_what_a_wallboard_calls_knows_no_auth_and_no_http(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    bad = sorted(
        i for i in imported if i.startswith(("aiohttp", "callcenter.auth", "callcenter.web"))
    )
    assert bad == []
