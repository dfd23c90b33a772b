"""The one clock on the pages, in a real Chromium against the real app: a station waiting on
the resident pauses its order on the portal with the reason (an "other" without a note is
refused beside the note), sees its contact and repair deadlines stand still, and resumes; the
agent's ticket view shows each step, its deadline and verdict, and the pause with its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from callcenter.auth.service import create_token
from tests.integration.test_desk_page import PHONE, no_sideways_scroll
from tests.integration.test_desk_recent import send, tab_to
from tests.integration.test_live_page import WAIT_MS, Hotline, log_in, open_tab
from tests.integration.test_station_portal import REPAIR, Agent, agent_of, station_hotline

pytestmark = pytest.mark.integration

SCREENSHOT_PORTAL = Path("/tmp/station_order_paused_zh.png")
SCREENSHOT_DESK = Path("/tmp/desk_clock_zh.png")


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with station_hotline(tmp_path) as hotline:
        yield hotline


async def station_of(hotline: Hotline) -> Agent:
    return Agent(hotline, await create_token(hotline.svc.db(), hotline.svc.clock, "幸福站"))


async def test_a_station_pauses_its_order_with_the_reason_and_resumes_it(
    hotline: Hotline, browser: Browser
) -> None:
    agent = await agent_of(hotline)
    order = await agent.dispatched(REPAIR)
    await (await station_of(hotline)).call("POST", f"/api/orders/{order['id']}/accept")

    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "幸福站")
    await page.locator("#open-list button.order-open").first.click()
    await expect(page.locator("#order-status")).to_have_text("已接单")
    form = page.locator("#pause-form")
    await expect(form).to_be_visible()
    await expect(page.locator("#resume-box")).to_be_hidden()

    # "Other" says what the station waits for: refused beside the note, nothing paused.
    await page.locator("#pause-reason").select_option("other")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#err-pause-note")).to_have_text("此项必填。")
    await expect(page.locator("#resume-box")).to_be_hidden()

    await page.locator("#pause-reason").select_option("call_later")
    await page.locator("#pause-note").fill("下午三点后在家")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#order-message")).to_have_text("已暂停计时。")
    await expect(page.locator("#paused-line")).to_contain_text("住户要求稍后联系")
    await expect(page.locator("#resume")).to_be_focused()
    await expect(form).to_be_hidden()
    # The contact and repair deadlines stand still; the acceptance is done already.
    await expect(page.locator("#order-due .left.paused")).to_have_count(2)
    await expect(page.locator("#open-list .order-due.paused")).to_contain_text("暂停")
    await expect(page.locator("#order-history")).to_contain_text("暂停计时")
    await expect(page.locator("#order-history")).to_contain_text("下午三点后在家")
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_PORTAL), full_page=True)

    await page.keyboard.press("Enter")  # the resume button has the keyboard
    await expect(page.locator("#order-message")).to_have_text("已恢复计时，时限顺延。")
    await expect(page.locator("#resume-box")).to_be_hidden()
    await expect(page.locator("#order-due .left.paused")).to_have_count(0)
    await expect(page.locator("#order-history")).to_contain_text("恢复计时")

    got = await agent.call("GET", f"/api/orders/{order['id']}")
    assert got["paused_since"] is None
    assert [e["action"] for e in got["history"]] == ["dispatched", "accept", "paused", "resumed"]
    assert got["history"][2]["reason"] == "call_later"
    assert tab.problems == []


async def test_the_ticket_view_shows_each_step_its_verdict_and_the_pause(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page).to_have_url(f"{hotline.base_url}/desk")
    ticket = await send(page, "POST", "/api/tickets", REPAIR)
    order = await send(page, "POST", f"/api/tickets/{ticket['id']}/dispatch", {})
    station = await station_of(hotline)
    await station.call("POST", f"/api/orders/{order['id']}/accept")
    await station.call("POST", f"/api/orders/{order['id']}/pause", {"reason": "not_home"})

    listed = f'#recent-list button[data-id="{ticket["id"]}"]'
    await expect(page.locator(listed)).to_be_visible(timeout=WAIT_MS)
    await tab_to(page, listed, most=80)
    await page.keyboard.press("Enter")
    await expect(page.locator("#saved-title")).to_be_focused(timeout=WAIT_MS)

    clock = page.locator("#saved-clock")
    # Typed with no call: the clock has no first ring, the ticket and its round are there.
    await expect(page.locator("#saved-clock-status")).to_have_text(
        "未关联来电：没有首次响铃，无法计时。"
    )
    await expect(clock.locator("tr.clock-round")).to_have_text("第 1 轮 · 幸福 · 已接单")
    rows = clock.locator("tr:not(.clock-round):not(.clock-pause)")
    await expect(rows).to_have_count(5)  # ticket, dispatched, acknowledged, contacted, repaired
    await expect(rows.nth(1)).to_contain_text("派单")
    await expect(rows.nth(1)).to_contain_text("✓ 按时")
    await expect(rows.nth(2)).to_contain_text("✓ 按时")
    await expect(rows.nth(3)).to_contain_text("暂停中：等待住户")
    await expect(rows.nth(4)).to_contain_text("暂停中：等待住户")
    await expect(clock.locator("tr.clock-pause")).to_contain_text("住户不在家")
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_DESK), full_page=True)

    # English too, with the same figures.
    await page.get_by_role("button", name="English").click()
    await expect(rows.nth(3)).to_contain_text("paused: waiting on the resident")
    await expect(clock.locator("tr.clock-pause")).to_contain_text("resident not at home")
    assert tab.problems == []
