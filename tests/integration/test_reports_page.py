"""The reports page (/reports, 日报表) in a real Chromium against the real app, on the day of
tests/api/test_reports_api.py (tickets taken, dispatched, returned, cancelled and called back;
calls, violations and anomalies stored): every cell shown equals the API's JSON, in Chinese
and in English; the archive's verdict, and the late data that changed the day after it was
archived; one A4 sheet when printed, like the committed picture; a 390 px phone; the keyboard
alone; the API's refusals in words; the roles that may not read it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, expect

from tests.api import test_reports_api as the_day
from tests.api.test_reports_api import DAY, UNMATCHED, _get
from tests.api.test_reports_archive import _archived_day
from tests.conftest import Hotline
from tests.integration.reports_form import (
    Day,
    assert_cells_are_the_json,
    base_url,
    local,
    pages,
    reports_tab,
    shown,
)
from tests.integration.test_desk_page import no_sideways_scroll
from tests.integration.test_live_page import open_tab
from tests.integration.test_live_page_layout import focus_ring, overflow_x
from tests.integration.test_station_portal import tab_to
from tests.screenshots import assert_matches

pytestmark = pytest.mark.integration

# The fixtures of the API's test: the app on a FakeClock (Tuesday 24 November 2026, 10:00 in
# Shanghai) and Monday's tickets, orders, callbacks, calls, violations and anomalies.
hotline = the_day.hotline
day = the_day.day

PHONE = (390, 800)
REFERENCE = Path(__file__).parent / "screenshots" / "report-daily-zh.png"
# A4's printable width at 96 px per inch: 210 mm less the @page margins (2 × 10 mm).
A4_CONTENT_WIDTH = round((210 - 2 * 10) / 25.4 * 96)
# The department's form (004 日报表): its first line and its station table's head.
FIRST_LINE_ZH = ["报修量", "咨询量", "已维修", "已回访", "报修不热", "报修冰凉", "要求测温",
                 "报修漏水"]  # fmt: skip
HEAD_ZH = ["维修站", "累计报修", "累计维修", "未完成", "今日报修", "今日维修"]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The page on SQLite: the figures on both engines are test_reports_api's."""
    return sqlite_url


async def test_the_day_shows_the_apis_figures_in_chinese_and_english(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    await _archived_day(hotline, day["boss"])
    body = await _get(hotline, f"/api/reports/daily?date={DAY}", day["boss"])
    assert body["archive"]["same"] is True

    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}")
    page = await shown(tab.page)
    assert page["title"] == "11月23日供暖报修报表"
    assert page["subtitle"] == "2026年11月23日供暖报修数据统计"
    assert page["firstLine"] == FIRST_LINE_ZH and page["head"] == HEAD_ZH
    assert [r["name"] for r in page["rows"]] == ["总计", *(s["name"] for s in body["stations"])]
    assert page["rows"][-1]["name"] == "未分站"
    assert_cells_are_the_json(page, body)
    assert [n for _, n in page["rows"][0]["cells"]] == ["6", "2", "4", "3", "1"]  # by hand
    assert page["generated"] == f"生成时间 {local(body['generated_at'])}（Asia/Shanghai）"
    archived = local(body["archive"]["archived_at"])
    assert (
        page["verdict"]
        == f"已存档 {archived} · SHA-256 {body['archive']['sha256']}数字与存档一致。"
    )
    await expect(tab.page.locator("#incomplete")).to_be_hidden()

    # The same day in English, by the language switch.
    await tab.page.get_by_role("button", name="English").click()
    await expect(tab.page.locator("#form-title")).to_have_text("Heating repair report, 23 November")
    page = await shown(tab.page)
    assert page["subtitle"] == "Heating repair figures of 23 November 2026"
    assert page["head"][0] == "Station (维修站)" and page["head"][4] == "Reports today (今日报修)"
    assert page["firstLine"][0] == "Repair reports (报修量)"
    assert (
        page["rows"][0]["name"] == "Total (总计)"
        and page["rows"][-1]["name"] == "No station (未分站)"
    )
    assert_cells_are_the_json(page, body)
    assert f"Archived {archived} · SHA-256 {body['archive']['sha256']}" in page["verdict"]
    assert tab.problems == []

    # A browser in English, with no choice made: the browser's language.
    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}", locale="en-US")
    await expect(tab.page.locator("#form-title")).to_have_text("Heating repair report, 23 November")
    assert_cells_are_the_json(await shown(tab.page), body)


async def test_late_data_after_the_archive_is_listed_figure_by_figure(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    await _archived_day(hotline, day["boss"])
    # Tuesday morning: Monday's ticket with no station was typed by mistake and cancelled.
    tickets = await _get(hotline, "/api/tickets?limit=50", day["agent"])
    [mistake] = [t for t in tickets if UNMATCHED in (t.get("address"), t.get("address_typed"))]
    cancel = await hotline.client.patch(
        f"/api/tickets/{mistake['id']}", json={"status": "cancelled", "note": "重复"},
        headers=day["agent"],
    )  # fmt: skip
    assert cancel.status == 200, await cancel.text()
    body = await _get(hotline, f"/api/reports/daily?date={DAY}", day["boss"])
    differences = body["archive"]["differences"]
    assert body["archive"]["same"] is False and len(differences) > 3

    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}")
    page = await shown(tab.page)
    assert_cells_are_the_json(page, body)  # the figures as the database holds them now
    assert page["fields"]["summary.repair_reports"] == "2"
    verdict = tab.page.locator("#verdict.report-differs")
    await expect(verdict).to_be_visible()
    await expect(verdict.locator(".report-differs-title")).to_have_text(
        f"与存档不一致：存档后有迟到数据，{len(differences)} 处数字变化。"
    )
    await expect(verdict).to_contain_text(body["archive"]["sha256"])
    items = verdict.locator(".report-differences li[data-path]")
    assert await items.evaluate_all("li => li.map((l) => l.dataset.path)") == [
        d["path"] for d in differences
    ]
    await expect(items.filter(has_text="报修量：")).to_have_text("报修量：存档 3 → 现在 2")
    await expect(items.filter(has_text="要求测温")).to_have_text("要求测温：存档 1 → 现在 0")
    await expect(items.filter(has_text="总计 · 今日报修")).to_have_text(
        "总计 · 今日报修：存档 3 → 现在 2"
    )
    await expect(items.filter(has_text="未分站（整行）")).to_have_text(
        "未分站（整行）：存档 1 / 0 / 1 / 1 / 0 → 现在 —"
    )
    # Printed with its differences, the form still takes one sheet.
    await tab.page.emulate_media(media="print")
    await expect(verdict).to_be_visible()
    assert pages(await tab.page.pdf(format="A4", print_background=True)) == 1
    assert tab.problems == []


async def test_the_printed_form_is_one_a4_sheet_like_the_reference(
    hotline: Hotline, day: Day, browser: Browser, tmp_path: Path
) -> None:
    await _archived_day(hotline, day["boss"])
    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}")
    page = tab.page
    await shown(page)
    # The Print button asks the browser to print (a headless one has no dialog: counted).
    await page.evaluate("() => { window.printed = 0; window.print = () => { window.printed++; }; }")
    await page.locator("#print").click()
    assert await page.evaluate("() => window.printed") == 1

    await page.emulate_media(media="print")
    for chrome in (".topbar", "#chooser", "#print", "#date", "#charts"):
        await expect(page.locator(chrome)).to_be_hidden()
    await expect(page.locator(".report-signatures")).to_contain_text("统计人签字：")
    pdf = await page.pdf(format="A4", print_background=True)
    assert pages(pdf) == 1, "the form prints on one sheet"
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45]\.?\d* 84[12]\.?\d*\s*\]", pdf), "on A4"

    # Laid out as on the sheet: nothing sticks out of A4's printable width.
    await page.set_viewport_size({"width": A4_CONTENT_WIDTH, "height": 1100})
    box = await overflow_x(page)
    assert box["scroll"] <= box["client"], box
    table = await page.locator("#stations").bounding_box()
    assert table is not None and table["x"] >= 0
    assert table["x"] + table["width"] <= A4_CONTENT_WIDTH, table
    shot = await page.locator("#form").screenshot(animations="disabled")
    # Reduced 4 times, 1 % may differ, the height may move 1 %: text noise passes; a column
    # gone, the table too wide, headers wrapping (6-8 % differ) fail.
    assert_matches(shot, REFERENCE, tmp_path, max_share=0.01, scale=4, height_share=0.01)

    # In English, longer words: still one sheet.
    await page.emulate_media(media="screen")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#form-title")).to_have_text("Heating repair report, 23 November")
    await page.emulate_media(media="print")
    assert pages(await page.pdf(format="A4", print_background=True)) == 1
    assert tab.problems == []


async def test_on_a_phone_the_station_table_scrolls_in_its_own_box(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}", "zh-CN", PHONE)
    page = tab.page
    for language, title in (("English", "Heating repair report, 23 November"),
                            ("中文", "11月23日供暖报修报表")):  # fmt: skip
        await page.get_by_role("button", name=language).click()
        await expect(page.locator("#form-title")).to_have_text(title)
        await shown(page)
        await no_sideways_scroll(page)
        scroller = page.locator(".report-scroll")
        region = await scroller.bounding_box()
        assert region is not None and region["x"] + region["width"] <= PHONE[0]
        if await scroller.evaluate("(el) => el.scrollWidth > el.clientWidth"):
            # Wider than the phone: it scrolls in its box, which the keyboard reaches.
            assert await scroller.get_attribute("tabindex") == "0"
    assert tab.problems == []


async def test_from_the_keyboard_alone_the_date_and_the_kind_change_the_form(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    base = base_url(hotline)
    tab = await reports_tab(browser, hotline, "", size=(1100, 900))
    page = tab.page
    # No choice in the URL: yesterday's daily report, the complete day printed in the morning.
    await expect(page).to_have_url(f"{base}/reports?kind=daily&date={DAY}")
    await expect(page.locator("#form-title")).to_have_text("11月23日供暖报修报表")

    await tab_to(page, "#prev", 20)
    await page.keyboard.press("Enter")
    await expect(page.locator("#form-title")).to_have_text("11月22日供暖报修报表")
    await expect(page).to_have_url(f"{base}/reports?kind=daily&date=2026-11-22")

    # The kinds are radio buttons: the arrows move among them.
    for _ in range(8):
        if await page.evaluate("() => document.activeElement.name === 'kind'"):
            break
        await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("ArrowRight")
    await expect(page.locator("#form-title")).to_have_text("2026年第47周供暖报修周报")
    await expect(page).to_have_url(f"{base}/reports?kind=weekly&week=2026-W47")
    await expect(page.locator("#form-subtitle")).to_have_text("统计区间 2026-11-16 至 2026-11-22")
    await expect(page.locator("#station-head th").nth(4)).to_have_text("本周报修")
    week = await _get(hotline, "/api/reports/weekly?week=2026-W47", day["boss"])
    assert_cells_are_the_json(await shown(page), week)
    await page.keyboard.press("ArrowLeft")
    await expect(page.locator("#form-title")).to_have_text("11月22日供暖报修报表")

    # A day typed into the date field (this Chromium writes it mm/dd/yyyy), Enter shows it.
    await tab_to(page, "#date")
    await page.keyboard.type("11212026")
    assert await page.locator("#date").input_value() == "2026-11-21"
    await page.keyboard.press("Enter")
    await expect(page.locator("#form-title")).to_have_text("11月21日供暖报修报表")
    await expect(page).to_have_url(f"{base}/reports?kind=daily&date=2026-11-21")
    saturday = await _get(hotline, "/api/reports/daily?date=2026-11-21", day["boss"])
    assert_cells_are_the_json(await shown(page), saturday)
    # Saturday was never archived (the archivist's first run came on Monday).
    await expect(page.locator("#verdict")).to_have_text("尚未存档。")

    # The browser's back goes to the report before, a reload keeps the one shown.
    await page.go_back()
    await expect(page).to_have_url(f"{base}/reports?kind=daily&date=2026-11-22")
    await expect(page.locator("#form-title")).to_have_text("11月22日供暖报修报表")
    await expect(page.locator("#date")).to_have_value("2026-11-22")
    await page.reload()
    await expect(page.locator("#form-title")).to_have_text("11月22日供暖报修报表")

    # Every control is reached by Tab, each with a visible focus ring.
    reached = []
    for _ in range(30):
        await page.keyboard.press("Tab")
        ring = await focus_ring(page)
        assert ring["style"] == "solid" and float(ring["width"].removesuffix("px")) >= 2, ring
        if not reached or reached[-1] != ring["id"]:  # a date field's parts: one control
            reached.append(ring["id"])
        if ring["id"] == "report-scroll":  # the station table's box, last on the page
            break
    controls = ["INPUT", "date", "show", "prev", "next", "csv", "xlsx", "print", "report-scroll"]
    assert [r for r in reached if r in controls] == controls  # INPUT: the checked kind
    assert tab.problems == []


async def test_todays_report_says_it_is_not_over_and_not_archived(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    tab = await reports_tab(browser, hotline, "?kind=daily&date=2026-11-24", locale="en-US")
    page = await shown(tab.page)
    assert page["title"] == "Heating repair report, 24 November"
    await expect(tab.page.locator("#incomplete")).to_be_visible()
    await expect(tab.page.locator("#incomplete")).to_contain_text("not over yet")
    assert page["verdict"] == "Not archived yet."
    await expect(tab.page.locator("#next")).to_be_disabled()
    body = await _get(hotline, "/api/reports/daily?date=2026-11-24", day["boss"])
    assert body["complete"] is False
    assert_cells_are_the_json(page, body)


async def test_the_apis_refusals_are_shown_in_words(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}")
    await shown(tab.page)
    for kind, name, value in [
        ("daily", "date", "2026-11-30"),  # not begun
        ("daily", "date", "2020-01-01"),  # before the first data
        ("daily", "date", "23.11.2026"),  # malformed
        ("monthly", "month", "2026-13"),
    ]:
        response = await hotline.client.get(
            f"/api/reports/{kind}", params={name: value}, headers=day["boss"]
        )
        assert 400 <= response.status < 500
        message = (await response.json())["message"]
        await tab.page.goto(f"{base_url(hotline)}/reports?kind={kind}&{name}={value}")
        status = tab.page.locator("#status")
        await expect(status).to_have_text(f"无法显示报表：{message}")
        await expect(status).to_have_class(re.compile(r"\breport-error\b"))
        await expect(tab.page.locator("#form")).to_be_hidden()
        await expect(tab.page.locator("#chooser")).to_be_visible()
        await expect(tab.page.locator("#csv")).to_be_hidden()
    assert tab.problems == []


async def test_the_downloads_are_the_same_period_as_csv_and_xlsx(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    tab = await reports_tab(browser, hotline, "?kind=weekly&week=2026-W48")
    await expect(tab.page.locator("#form-title")).to_have_text("2026年第48周供暖报修周报")
    for fmt, kind in (("csv", "text/csv"), ("xlsx", "spreadsheetml")):
        link = tab.page.locator(f"#{fmt}")
        href = await link.get_attribute("href")
        assert href == f"/api/reports/weekly?week=2026-W48&format={fmt}"
        response = await tab.page.request.get(f"{base_url(hotline)}{href}")
        assert response.status == 200 and kind in response.headers["content-type"]
        assert f"report-weekly-2026-W48.{fmt}" in response.headers["content-disposition"]


async def test_the_days_charts_are_under_the_form_and_equal_the_chart_api(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}")
    charts = tab.page.locator("#charts img")
    await expect(charts).to_have_count(5)
    await expect(tab.page.locator("#charts-title")).to_have_text(f"{DAY} 图表")
    names = [await img.get_attribute("data-chart") for img in await charts.all()]
    assert names == ["hourly", "rings", "agents", "stations", "anomalies"]
    hourly = tab.page.locator('#charts img[data-chart="hourly"]')
    assert await hourly.get_attribute("src") == f"/api/reports/charts/hourly?date={DAY}&lang=zh-CN"
    assert "每小时来电" in (await hourly.get_attribute("alt") or "")
    await all_drawn(charts)
    # The picture is the chart API's, for the report's day: the day's offered calls are in it.
    svg = await tab.page.request.get(f"{base_url(hotline)}/api/reports/charts/hourly?date={DAY}")
    figures = await tab.page.request.get(
        f"{base_url(hotline)}/api/reports/charts/hourly?date={DAY}&format=json"
    )
    assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    report = await _get(hotline, f"/api/reports/daily?date={DAY}", day["boss"])
    hours = (await figures.json())["hours"]
    assert sum(h["offered"] for h in hours) == report["hotline"]["calls"]["offered"]

    # A week not over shows today's charts (the app's clock: Tuesday the 24th), in the
    # language switched to.
    await tab.page.get_by_role("button", name="English").click()
    await tab.page.goto(f"{base_url(hotline)}/reports?kind=weekly&week=2026-W48")
    await expect(tab.page.locator("#charts-title")).to_have_text("Charts of 2026-11-24")
    assert (await hourly.get_attribute("src") or "").endswith("date=2026-11-24&lang=en")
    await all_drawn(charts)
    assert tab.problems == []


async def test_the_one_clock_under_the_form_is_the_clock_apis(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}")
    clock = await _get(hotline, f"/api/reports/clock?from={DAY}&to={DAY}", day["boss"])
    period = [r for r in clock["rows"] if r["date"] is None]
    rows = tab.page.locator("#clock tbody tr")
    await expect(rows).to_have_count(len(period))
    await expect(rows.first.locator("th")).to_have_text("全部维修站")
    await expect(rows.first.locator("td").first).to_have_text(str(period[0]["tickets"]))
    link = tab.page.locator("#clock a.report-download")
    assert await link.get_attribute("href") == f"/api/reports/clock?from={DAY}&to={DAY}&format=csv"
    # A season is longer than the clock report allows: said, not asked.
    await tab.page.goto(f"{base_url(hotline)}/reports?kind=season&season=2026")
    await expect(tab.page.locator("#clock")).to_contain_text("最多 31 天")
    assert tab.problems == []


async def all_drawn(images: Locator) -> None:
    """Each image was drawn by the browser (a broken one has no natural width)."""
    for img in await images.all():
        await img.scroll_into_view_if_needed()
        await expect(img).to_have_js_property("complete", True)
        assert await img.evaluate("(i) => i.naturalWidth") > 0, await img.get_attribute("src")


async def test_only_report_readers_see_the_form(
    hotline: Hotline, day: Day, browser: Browser
) -> None:
    base = base_url(hotline)
    # Signed out: the login page, as on every page.
    tab = await open_tab(browser, locale="zh-CN")
    await tab.page.goto(f"{base}/reports?kind=daily&date={DAY}")
    await expect(tab.page).to_have_url(f"{base}/login")

    # An agent: told in words, no form, no figures fetched.
    tab = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}", name="li.na")
    await expect(tab.page.locator("#not-for-role")).to_have_text(
        "报表仅供领班、客服部长、主管和管理员查看，此账号无权查看。"
    )
    await expect(tab.page.locator("#chooser")).to_be_hidden()
    await expect(tab.page.locator("#form")).to_be_hidden()
    # …and the live page offers an agent no link to it; the supervisor's does.
    await tab.page.goto(f"{base}/")
    await expect(tab.page.locator("#user-role")).to_have_text("话务员")
    await expect(tab.page.locator("#reports-link")).to_be_hidden()
    boss = await reports_tab(browser, hotline, f"?kind=daily&date={DAY}")
    await boss.page.goto(f"{base}/")
    link = boss.page.locator("#reports-link")
    await expect(link).to_have_text("日报表 / Reports")
    await link.focus()
    await boss.page.keyboard.press("Enter")
    await expect(boss.page).to_have_url(f"{base}/reports?kind=daily&date={DAY}")
    assert tab.problems == [] and boss.problems == []
