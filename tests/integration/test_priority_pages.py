"""Priority by the cold in a real Chromium on a 360 px phone: the agent types a repair with
the keyboard only, flags an infant in the household and sees the ticket's band with its
reasons and the outdoor temperature; with no temperature the desk and the station portal say
"室外温度未知", and the station's list puts the most urgent order first."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from callcenter.auth.service import add_user
from tests.integration.serving import served
from tests.integration.test_desk_page import PHONE, no_sideways_scroll
from tests.integration.test_live_page import PASSWORD, WAIT_MS, log_in, open_tab
from tests.integration.test_station_portal import REPAIR, agent_of, tab_to

SCREENSHOT_DESK = Path("/tmp/priority_desk_zh.png")
SCREENSHOT_STATION = Path("/tmp/priority_station_zh.png")


async def test_the_agent_flags_an_infant_and_sees_the_priority_and_why(
    tmp_path: Path, browser: Browser
) -> None:
    async with served(tmp_path, priority={"temperature_celsius": -18}) as hotline:
        db, clock = hotline.svc.db(), hotline.svc.clock
        await add_user(db, clock, "李娜", "agent", PASSWORD, "8001", work_number="027")
        tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
        page = tab.page
        await log_in(page, hotline.base_url, "李娜")
        await expect(page.locator("#outdoor")).to_have_text("室外 −18 °C", timeout=WAIT_MS)

        await expect(page.locator("#kind-repair")).to_be_focused()
        kb = page.keyboard
        await kb.press("Tab")  # the fault category: 不热, then → 冰凉
        await kb.press("ArrowRight")
        await expect(page.locator("#category-ice_cold")).to_be_checked()
        await tab_to(page, "#address")
        await kb.type("大龙市幸福里小区三栋二单元502")
        await expect(page.locator("#station")).to_have_value("xingfu", timeout=WAIT_MS)
        await tab_to(page, "#phone")
        await kb.type("13800000001")
        await kb.press("Tab")  # last: the household, after the phone
        await expect(page.locator("#vulnerability")).to_be_focused()
        await kb.press("ArrowDown")
        await kb.press("ArrowDown")
        await expect(page.locator("#vulnerability")).to_have_value("infant")
        await kb.press("Enter")

        summary = page.locator("#saved-summary")
        await expect(summary).to_contain_text("婴幼儿", timeout=WAIT_MS)
        # 40 (冰凉) + 34.5 (室外 −18 °C) + 25 (婴幼儿) + 0 (just taken)
        await expect(summary.locator(".prio")).to_have_text("特急 · 99.5 分")
        await expect(summary).to_contain_text("冰凉 +40 · 室外 −18 °C +34.5 · 婴幼儿 +25")
        await expect(summary.locator(".prio-unknown")).to_have_count(0)
        await no_sideways_scroll(page)
        await page.screenshot(path=str(SCREENSHOT_DESK), full_page=True)
        assert tab.problems == []


async def test_without_a_temperature_the_pages_say_so_and_the_station_works_urgent_first(
    tmp_path: Path, browser: Browser
) -> None:
    async with served(tmp_path) as hotline:
        db, clock = hotline.svc.db(), hotline.svc.clock
        await add_user(db, clock, "李娜", "agent", PASSWORD, "8001", work_number="027")
        await add_user(db, clock, "幸福站", "station", PASSWORD, station="xingfu")
        agent = await agent_of(hotline)
        routine = await agent.dispatched({**REPAIR, "category": "temperature_check"})
        urgent = await agent.dispatched(
            {**REPAIR, "category": "ice_cold", "vulnerability": "infant", "reporter_name": "王芳"}
        )

        desk = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
        await log_in(desk.page, hotline.base_url, "李娜")
        await expect(desk.page.locator("#outdoor")).to_contain_text("室外温度未知")

        tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
        page = tab.page
        await log_in(page, hotline.base_url, "幸福站")
        items = page.locator("#open-list button.order-open")
        await expect(items).to_have_count(2, timeout=WAIT_MS)
        # Dispatched second, listed first: 冰凉 with an infant before a temperature check.
        await expect(items.nth(0)).to_have_attribute("data-order", urgent["id"])
        await expect(items.nth(1)).to_have_attribute("data-order", routine["id"])
        await expect(items.nth(0).locator(".prio")).to_have_text("高 · 65 分")
        await expect(items.nth(0).locator(".prio-unknown")).to_have_text("室外温度未知")
        await expect(items.nth(0)).to_contain_text("室外温度未知 +0")
        await expect(items.nth(1).locator(".prio")).to_have_text("低 · 10 分")
        await no_sideways_scroll(page)
        await page.screenshot(path=str(SCREENSHOT_STATION), full_page=True)

        await expect(items.first).to_be_focused()
        await page.keyboard.press("Enter")
        fault = page.locator("#order-fault")
        await expect(fault).to_contain_text("婴幼儿", timeout=WAIT_MS)
        await expect(fault.locator(".prio")).to_have_text("高 · 65 分")
        await no_sideways_scroll(page)
        assert tab.problems == [] and desk.problems == []
