"""The hourly chart drawn by Debian's Chromium as the chart route serves it (image/svg+xml
under the API's Content-Security-Policy), compared with the committed reference
screenshots/chart-hourly-zh.png: font noise passes, a misdrawn chart does not.
CALLCENTER_UPDATE_SCREENSHOTS=1 writes the reference again (look at it before committing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route

from callcenter.reports import charts
from callcenter.reports.series import Hour, Hourly, Series
from callcenter.web.security import API_CSP
from tests.integration.test_live_page import open_tab
from tests.screenshots import UPDATE, assert_matches

pytestmark = pytest.mark.integration

REFERENCE = Path(__file__).parent / "screenshots" / "chart-hourly-zh.png"
URL = "http://callcenter.test/api/reports/charts/hourly?date=2026-11-23"
WIDTH, HEIGHT = 1200, 790
# (offered, answered within the limit, rate base) by hour: a working day's shape.
DAY = {0: (2, 2, 2), 1: (1, 1, 1), 7: (6, 5, 6), 8: (18, 16, 17), 9: (31, 27, 30),
       10: (36, 30, 35), 11: (28, 25, 27), 12: (14, 14, 14), 13: (19, 15, 18),
       14: (25, 20, 25), 15: (22, 21, 22), 16: (20, 16, 19), 17: (15, 15, 15),
       18: (11, 9, 11), 19: (9, 9, 9), 20: (7, 4, 6), 21: (4, 4, 4), 22: (3, 2, 3)}  # fmt: skip
WEEK = {0: (1, 1, 1), 6: (2, 1, 2), 7: (8, 8, 8), 8: (22, 18, 21), 9: (27, 20, 26),
        10: (33, 26, 32), 11: (30, 27, 30), 12: (12, 11, 12), 13: (17, 17, 17),
        14: (29, 22, 28), 15: (24, 19, 23), 16: (18, 18, 18), 17: (16, 12, 15),
        18: (10, 10, 10), 19: (8, 6, 8), 20: (5, 5, 5), 23: (2, 1, 2)}  # fmt: skip


def hours(figures: dict[int, tuple[int, int, int]]) -> tuple[Hour, ...]:
    return tuple(Hour(h, o, w, w, b) for h in range(24) for o, w, b in [figures.get(h, (0, 0, 0))])


def hourly(day: dict[int, tuple[int, int, int]]) -> str:
    data = Hourly(hours(day), hours(WEEK), date(2026, 11, 16), 3)
    end = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    return charts.render(Series("hourly", date(2026, 11, 23), "Asia/Shanghai", end, True, data))


async def shoot(browser: Browser, svg: str) -> bytes:
    """The SVG opened in Chromium as the chart route sends it, screenshot at its own size."""
    tab = await open_tab(browser, locale="zh-CN", width=WIDTH, height=HEIGHT)

    async def serve(route: Route) -> None:
        await route.fulfill(
            status=200,
            body=svg.encode("utf-8"),
            headers={
                "Content-Type": "image/svg+xml; charset=utf-8",
                "Content-Security-Policy": API_CSP,
                "Cache-Control": "no-store",
            },
        )

    await tab.page.route(URL, serve)
    await tab.page.goto(URL)
    assert await tab.page.evaluate("document.documentElement.localName") == "svg"
    assert await tab.page.evaluate("document.fonts.ready.then(() => document.fonts.status)") == (
        "loaded"
    )
    png = await tab.page.screenshot(clip={"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT})
    assert tab.problems == []  # nothing refused by the CSP, no error
    await tab.page.context.close()
    return png


async def test_the_hourly_chart_in_chromium_looks_like_its_reference(
    browser: Browser, tmp_path: Path
) -> None:
    assert_matches(await shoot(browser, hourly(DAY)), REFERENCE, tmp_path)


async def test_a_misdrawn_chart_does_not_pass_for_the_drawing(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tolerance is tight enough: one hour's figures changed (its bar a third shorter)
    fail, and what a person needs to see why is left behind."""
    monkeypatch.delenv(UPDATE, raising=False)
    good = tmp_path / "good.png"
    good.write_bytes(await shoot(browser, hourly(DAY)))
    assert_matches(good.read_bytes(), good, tmp_path / "same")  # the same drawing passes
    wrong = await shoot(browser, hourly(DAY | {10: (24, 20, 24)}))
    with pytest.raises(AssertionError, match="pixels"):
        assert_matches(wrong, good, tmp_path / "failed")
    assert sorted(p.name for p in (tmp_path / "failed").iterdir()) == [
        "good-actual.png", "good-diff.png", "good-expected.png",
    ]  # fmt: skip
