"""The desk's recent tickets (最近工单) in a real Chromium: a team lead watches every agent's
tickets arrive live, opens one with the keyboard only and hears its recording; an agent's
list holds only the tickets she took (首问责任制), on a 360 px phone too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from callcenter.recordings.service import Inbound
from tests.audio import audio
from tests.integration.test_desk_page import PHONE, desk_hotline, no_sideways_scroll
from tests.integration.test_live_page import WAIT_MS, Hotline, log_in, open_tab

pytestmark = pytest.mark.integration

SCREENSHOT_LEAD = Path("/tmp/desk_recent_lead_zh.png")
SCREENSHOT_PHONE = Path("/tmp/desk_recent_phone_zh.png")
LEAK = {"kind": "repair", "category": "leak", "phone": "13800138000",
        "address": "宏城花园3号楼2单元301", "reporter_name": "王先生"}  # fmt: skip


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with desk_hotline(tmp_path, {}) as hotline:
        await hotline.user("wang", "team_lead", language="zh-CN")
        yield hotline


async def send(page: Page, method: str, path: str, body: Any) -> Any:
    """A request with the page's session (the browser's cookie), as the desk makes them."""
    text = await page.evaluate(
        """async ([method, path, body]) => {
          const r = await fetch(path, {method, body: JSON.stringify(body),
            headers: {"Content-Type": "application/json"}});
          return JSON.stringify({status: r.status, body: await r.json()});
        }""",
        [method, path, body],
    )
    answer = json.loads(text)
    assert answer["status"] in (200, 201), answer
    return answer["body"]


async def tab_to(page: Page, selector: str, most: int = 40) -> None:
    """Tab forward until `selector` has the focus, as a keyboard user would."""
    for _ in range(most):
        if await page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never took the focus")


async def test_a_team_lead_sees_a_ticket_taken_live_and_opens_it_with_the_keyboard(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    lead_tab = await open_tab(browser, locale="zh-CN")
    lead = lead_tab.page
    await log_in(lead, hotline.base_url, "wang")
    await expect(lead).to_have_url(f"{hotline.base_url}/")  # leads land on the live page…
    await lead.locator("#desk-link").click()  # …and reach the desk from it
    await expect(lead.locator("#conn")).to_have_class("conn conn-live")
    await expect(lead.locator("#recent-title")).to_have_text("最近工单")
    await expect(lead.locator("#recent-status")).to_have_text("暂无工单。")

    agent_tab = await open_tab(browser, locale="zh-CN")
    agent = agent_tab.page
    await log_in(agent, hotline.base_url, "李娜")
    await expect(agent.locator("#conn")).to_have_class("conn conn-live")
    call = hotline.offer("8001", "13800138000")
    hotline.answer(call, "8001")
    await hotline.svc.calls().settled()
    ticket = await send(agent, "POST", "/api/tickets", LEAK)
    assert len(ticket["calls"]) == 1

    # On the lead's desk without a reload: when, what, where, its state and who took it.
    item = lead.locator("#recent-list li")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await expect(item).to_contain_text("漏水")
    await expect(item).to_contain_text("宏城花园")
    await expect(item).to_contain_text("待派单")
    await expect(item).to_contain_text("李娜 (027) 受理")

    hotline.hang_up(call)
    await hotline.svc.calls().settled()
    path = audio().copy("ulaw", tmp_path)
    await hotline.svc.recording_service().add_file(path, Inbound("cli", "t", path.name, call))

    # The keyboard only: from the form's first field, Tab to the ticket, Enter opens it.
    await expect(lead.locator("#kind-repair")).to_be_focused()
    await tab_to(lead, f'#recent-list button[data-id="{ticket["id"]}"]')
    await lead.keyboard.press("Enter")
    await expect(lead.locator("#saved")).to_be_visible(timeout=WAIT_MS)
    await expect(lead.locator("#ticket-panel")).to_be_hidden()
    await expect(lead.locator("#saved-title")).to_be_focused()
    await expect(lead.locator("#saved-title")).to_have_text(f"工单 {ticket['id']}")
    await expect(lead.locator("#saved-summary")).to_contain_text("王先生")
    timeline = lead.locator("#saved-timeline li")
    await expect(timeline).to_have_count(2)
    await expect(timeline.nth(0)).to_contain_text("创建")
    await expect(timeline.nth(1)).to_contain_text("关联通话")
    await expect(item.locator("button")).to_have_attribute("aria-current", "true")
    player = lead.locator("#saved-recordings audio")
    await expect(player).to_have_count(1, timeout=WAIT_MS)
    seeked = await player.evaluate(
        """a => new Promise((resolve) => {
          const go = () => {
            a.addEventListener("seeked", () => resolve(a.currentTime), { once: true });
            a.currentTime = a.duration / 2;
          };
          if (a.readyState >= 1) go(); else a.addEventListener("loadedmetadata", go);
        })"""
    )
    assert seeked > 0

    # She adds a note: the open ticket follows, and the player keeps its place.
    await send(agent, "PATCH", f"/api/tickets/{ticket['id']}", {"note": "已电话回访"})
    await expect(timeline).to_have_count(3, timeout=WAIT_MS)
    await expect(timeline.nth(2)).to_contain_text("已电话回访")
    assert await player.evaluate("a => a.currentTime") == pytest.approx(seeked, abs=0.5)
    await lead.screenshot(path=str(SCREENSHOT_LEAD), full_page=True)

    # "New ticket" goes back to the form.
    await tab_to(lead, "#new-ticket")
    await lead.keyboard.press("Enter")
    await expect(lead.locator("#ticket-panel")).to_be_visible()
    await expect(lead.locator("#kind-repair")).to_be_focused()
    assert lead_tab.problems == [] and agent_tab.problems == []


async def test_an_agent_lists_only_the_tickets_she_took_even_on_a_phone(
    hotline: Hotline, browser: Browser
) -> None:
    colleague_tab = await open_tab(browser)
    colleague = colleague_tab.page
    await log_in(colleague, hotline.base_url, "张伟")
    await expect(colleague.locator("#conn")).to_have_class("conn conn-live")
    theirs = await send(colleague, "POST", "/api/tickets", LEAK)

    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#recent-hint")).to_contain_text("首问责任制")
    await expect(page.locator("#recent-status")).to_have_text("暂无工单。")

    # Typed on her own desk: it shows in her list at once (and in his, not at all).
    kb = page.keyboard
    await expect(page.locator("#kind-repair")).to_be_focused()
    await kb.press("ArrowRight")  # a consultation
    await tab_to(page, "#description")
    await kb.type("问收费标准")
    await kb.press("Control+Enter")
    await expect(page.locator("#saved")).to_be_visible(timeout=WAIT_MS)
    title = await page.locator("#saved-title").text_content()
    assert title
    mine = title.split()[1]
    items = page.locator("#recent-list li")
    await expect(items).to_have_count(1, timeout=WAIT_MS)
    await expect(items.locator("button")).to_have_attribute("data-id", mine)
    await expect(items).to_contain_text("咨询")
    await expect(items).not_to_contain_text("受理")  # her own list names no agent

    # His next ticket never reaches her list; a lead's change to hers does.
    await send(colleague, "POST", "/api/tickets", {**LEAK, "category": "not_hot"})
    lead_tab = await open_tab(browser)
    await log_in(lead_tab.page, hotline.base_url, "wang")
    await expect(lead_tab.page.locator("#conn")).to_have_class("conn conn-live")
    await send(lead_tab.page, "PATCH", f"/api/tickets/{mine}", {"status": "closed"})
    await expect(items).to_contain_text("已关闭", timeout=WAIT_MS)
    await expect(items).to_have_count(1)
    listed = await page.evaluate(
        "() => [...document.querySelectorAll('#recent-list button')].map(b => b.dataset.id)"
    )
    assert listed == [mine] and theirs["id"] not in listed
    await no_sideways_scroll(page)
    await page.locator("#new-ticket").press("Enter")
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_PHONE), full_page=True)
    assert tab.problems == [] and colleague_tab.problems == [] and lead_tab.problems == []
