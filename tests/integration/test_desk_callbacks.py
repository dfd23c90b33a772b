"""The desk's callbacks due (待回访) in a real Chromium: a returned order puts the callback on
its agent's desk live; she opens it and answers it with the keyboard only, and the repair
goes back to its station as rework; a resident who cannot talk now is re-booked at the time
asked; no answer is counted; the panel fits a 360 px phone and speaks English too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from tests.integration.test_desk_page import PHONE, desk_hotline, no_sideways_scroll
from tests.integration.test_desk_recent import LEAK, send, tab_to
from tests.integration.test_live_page import WAIT_MS, Hotline, log_in, open_tab

pytestmark = pytest.mark.integration

SHANGHAI = ZoneInfo("Asia/Shanghai")
SCREENSHOT_VIEW = Path("/tmp/desk_callback_zh.png")
SCREENSHOT_PHONE = Path("/tmp/desk_callbacks_phone_zh.png")


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with desk_hotline(tmp_path, {}) as hotline:
        yield hotline


async def returned(page: Page, ticket_id: str) -> dict[str, Any]:
    """Dispatch the ticket and record the station's return (as phoned in), from the page."""
    order = await send(page, "POST", f"/api/tickets/{ticket_id}/dispatch", {})
    back: dict[str, Any] = await send(
        page, "POST", f"/api/orders/{order['id']}/return", {"result": "已修好,更换阀门"}
    )
    return back


async def get(page: Page, path: str) -> Any:
    return await page.evaluate("async (p) => (await fetch(p)).json()", path)


async def signed_in(browser: Browser, hotline: Hotline, **tab: Any) -> Any:
    opened = await open_tab(browser, timezone_id="Asia/Shanghai", **tab)
    await log_in(opened.page, hotline.base_url, "李娜")
    await expect(opened.page.locator("#conn")).to_have_class("conn conn-live")
    return opened


async def test_a_returned_order_is_called_back_live_with_the_keyboard_and_goes_back_as_rework(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await signed_in(browser, hotline, locale="zh-CN")
    page = tab.page
    await expect(page.locator("#callbacks-title")).to_have_text("待回访 (0)")
    await expect(page.locator("#callbacks-status")).to_have_text("暂无待回访。")
    ticket = await send(page, "POST", "/api/tickets", LEAK)
    await returned(page, ticket["id"])

    # On her desk without a reload: where, which station, when due.
    item = page.locator("#callbacks-list li")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#callbacks-title")).to_have_text("待回访 (1)")
    await expect(item).to_contain_text("宏城花园")
    await expect(item).to_contain_text("前回访")
    await expect(item).to_contain_text("维修回访")
    await expect(item).not_to_contain_text("已逾期")
    [callback] = await get(page, "/api/callbacks?status=due")

    # The keyboard only: from the form's first field, Tab to the callback, Enter opens it.
    kb = page.keyboard
    await expect(page.locator("#kind-repair")).to_be_focused()
    await tab_to(page, f'#callbacks-list button[data-id="{callback["id"]}"]')
    await kb.press("Enter")
    view = page.locator("#callback-view")
    await expect(view).to_be_visible()
    await expect(page.locator("#ticket-panel")).to_be_hidden()
    await expect(page.locator("#callback-view-title")).to_be_focused()
    await expect(page.locator("#callback-view-title")).to_have_text(f"回访 · 工单 {ticket['id']}")
    await expect(view).to_contain_text("您好，我们是供暖报修平台，对您家报修的处理情况进行回访。")
    await expect(page.locator("#callback-ticket")).to_contain_text("王先生")
    await expect(page.locator("#callback-ticket")).to_contain_text("漏水")
    await expect(page.locator("#callback-orders")).to_contain_text("第 1 轮")
    await expect(page.locator("#callback-orders")).to_contain_text("已修好,更换阀门")
    await expect(item.locator("button")).to_have_attribute("aria-current", "true")
    await expect(page.locator("#cb-fee")).to_be_hidden()

    # a) not solved; b) satisfied shows the fee line, average hides it; c) not charged;
    # d) 4; e) a suggestion; Ctrl+Enter saves from the text.
    await tab_to(page, 'input[name="cb-solved"]')
    await kb.press("ArrowRight")
    await expect(page.locator("#cb-solved-no")).to_be_checked()
    await kb.press("Tab")
    await kb.press("Space")
    await expect(page.locator("#cb-attitude-satisfied")).to_be_checked()
    await expect(page.locator("#cb-fee")).to_be_visible()
    await expect(page.locator("#cb-fee")).to_contain_text("请您按时缴纳采暖费")
    await kb.press("ArrowRight")
    await expect(page.locator("#cb-attitude-average")).to_be_checked()
    await expect(page.locator("#cb-fee")).to_be_hidden()
    await kb.press("Tab")
    await kb.press("ArrowRight")
    await expect(page.locator("#cb-charged-no")).to_be_checked()
    await kb.press("Tab")
    await expect(page.locator("#cb-score")).to_be_focused()
    await kb.type("4")
    await kb.press("Tab")
    await kb.type("暖气还是不热")
    await page.screenshot(path=str(SCREENSHOT_VIEW), full_page=True)
    await kb.press("Control+Enter")

    # The result, and back to the list (now empty) with the form in its place.
    result = page.locator("#callbacks-result")
    await expect(result).to_contain_text("未解决,已派返修单(第 2 轮)给 宏城", timeout=WAIT_MS)
    await expect(view).to_be_hidden()
    await expect(page.locator("#ticket-panel")).to_be_visible()
    await expect(item).to_have_count(0)
    await expect(page.locator("#callbacks-title")).to_have_text("待回访 (0)")
    await expect(page.locator("#callbacks-title")).to_be_focused()

    done = await get(page, f"/api/callbacks/{callback['id']}")
    assert done["status"] == "done"
    assert done["answers"] == {
        "solved": False,
        "attitude": "average",
        "charged": False,
        "score": 4,
        "suggestions": "暖气还是不热",
        "fee_reminded": False,
    }
    orders = await get(page, f"/api/orders?ticket={ticket['id']}")
    assert [(o["round"], o["status"]) for o in orders] == [(2, "sent"), (1, "returned")]
    assert tab.problems == []


async def test_an_error_from_the_api_shows_beside_its_field(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await signed_in(browser, hotline, locale="zh-CN")
    page = tab.page
    ticket = await send(page, "POST", "/api/tickets", LEAK)
    await returned(page, ticket["id"])
    await expect(page.locator("#callbacks-list li")).to_have_count(1, timeout=WAIT_MS)
    await page.locator("#callbacks-list button").press("Enter")
    await expect(page.locator("#callback-view-title")).to_be_focused()

    # Nothing chosen: the API names the attitude first; then a score out of range.
    await page.locator("#cb-save").press("Enter")
    await expect(page.locator("#cb-err-attitude")).to_have_text("请选择维修人员态度。")
    await expect(page.locator("#cb-attitude-satisfied")).to_be_focused()
    await page.keyboard.press("Space")
    await expect(page.locator("#cb-err-attitude")).to_be_hidden()
    await page.locator("#cb-score").fill("11")
    await page.locator("#cb-score").press("Enter")
    await expect(page.locator("#cb-err-score")).to_have_text("请输入 1 到 10 的整数评分。")
    await expect(page.locator("#cb-score")).to_be_focused()
    # Escape goes back to the list, the callback still due.
    await page.keyboard.press("Escape")
    await expect(page.locator("#callback-view")).to_be_hidden()
    await expect(page.locator("#callbacks-list button")).to_be_focused()
    assert len(await get(page, "/api/callbacks?status=due")) == 1
    assert tab.problems == []


async def test_not_convenient_shows_the_time_asked_and_the_panel_fits_a_phone(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await signed_in(browser, hotline, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    ticket = await send(page, "POST", "/api/tickets", LEAK)
    await returned(page, ticket["id"])
    item = page.locator("#callbacks-list li")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await no_sideways_scroll(page)
    await item.locator("button").press("Enter")
    await expect(page.locator("#callback-view-title")).to_be_focused()
    await no_sideways_scroll(page)

    # "Not convenient, call tomorrow at 10:00" (the hotline's and this browser's zone).
    tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
    asked = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=SHANGHAI)
    await page.locator("#cb-call_at").fill(asked.strftime("%Y-%m-%dT%H:%M"))
    await page.locator("#cb-call_at").press("Enter")
    result = page.locator("#callbacks-result")
    await expect(result).to_contain_text("住户不方便,已另约", timeout=WAIT_MS)
    await expect(result).to_contain_text("10:00")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("住户约定")
    await expect(item).to_contain_text("10:00")
    [callback] = await get(page, "/api/callbacks?status=due")
    booked = datetime.fromisoformat(callback["booked_for"].replace("Z", "+00:00"))
    assert booked == asked.astimezone(UTC)
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_PHONE), full_page=True)
    assert tab.problems == []


async def test_in_english_with_no_answer_counted(hotline: Hotline, browser: Browser) -> None:
    tab = await signed_in(browser, hotline, locale="en-US")
    page = tab.page
    await expect(page.locator("#callbacks-title")).to_have_text("Callbacks due (0)")
    ticket = await send(page, "POST", "/api/tickets", LEAK)
    await returned(page, ticket["id"])
    item = page.locator("#callbacks-list li")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#callbacks-title")).to_have_text("Callbacks due (1)")
    await expect(item).to_contain_text("due ")
    await item.locator("button").press("Enter")
    view = page.locator("#callback-view")
    await expect(page.locator("#callback-view-title")).to_have_text(
        f"Callback · ticket {ticket['id']}"
    )
    for label in ("Solved", "Repairman's attitude", "Charged", "Score (1–10)", "Suggestions"):
        await expect(view).to_contain_text(label)
    await expect(page.locator("#cb-rebook")).to_have_text("Not convenient — call at…")
    await expect(page.locator("#cb-no-answer")).to_have_text("No answer")

    await page.locator("#cb-no-answer").press("Enter")
    await expect(page.locator("#callbacks-result")).to_contain_text(
        "no answer (attempt 1)", timeout=WAIT_MS
    )
    await expect(item).to_contain_text("no answer ×1")
    await expect(page.locator("#callbacks-list button")).to_be_focused()

    # The Chinese labels, after the switch.
    await page.locator('button[data-lang="zh-CN"]').click()
    await expect(page.locator("#callbacks-title")).to_have_text("待回访 (1)")
    await expect(item).to_contain_text("无人接听 1 次")
    await item.locator("button").press("Enter")
    for label in ("已解决", "维修人员态度", "是否收费", "评分", "意见建议"):
        await expect(view).to_contain_text(label)
    await expect(page.locator("#cb-rebook")).to_have_text("不方便，另约时间")
    await expect(page.locator("#cb-no-answer")).to_have_text("无人接听")

    # Solved and satisfied, the unpaid fee reminded: the ticket closes.
    await page.locator("#cb-solved-yes").check()
    await page.locator("#cb-attitude-satisfied").check()
    await expect(page.locator("#cb-fee")).to_contain_text("提醒缴纳采暖费")
    await page.locator("#cb-fee_reminded").check()
    await page.locator("#cb-charged-no").check()
    await page.locator("#cb-score").fill("9")
    await page.locator("#cb-score").press("Enter")
    await expect(page.locator("#callbacks-result")).to_contain_text(
        "问题已解决,工单已关闭", timeout=WAIT_MS
    )
    await expect(item).to_have_count(0)
    [done] = await get(page, "/api/callbacks?status=done")
    assert done["answers"]["fee_reminded"] is True and done["attempts"] == 1
    assert (await get(page, f"/api/tickets/{ticket['id']}"))["status"] == "closed"
    await expect(page.locator("#recent-list li")).to_contain_text("已关闭")  # her list follows
    assert tab.problems == []


async def test_a_complaint_is_listed_live_and_an_overdue_callback_comes_first_marked(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await signed_in(browser, hotline, locale="zh-CN")
    page = tab.page
    complaint = {"kind": "complaint", "description": "维修人员态度差", "phone": "13800138000"}
    taken = await send(page, "POST", "/api/tickets", complaint)
    item = page.locator("#callbacks-list li")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await expect(item).to_contain_text("投诉回访")

    # A repair's callback booked four days ago is a day overdue: first, in words and colour.
    repair = await send(page, "POST", "/api/tickets", LEAK)
    await hotline.svc.callback_service().book(
        repair["id"], "repair", taken["agent_id"], "hongcheng", None,
        datetime.now(UTC) - timedelta(days=4),
    )  # fmt: skip
    await page.reload()
    await expect(item).to_have_count(2, timeout=WAIT_MS)
    await expect(item.nth(0)).to_have_class(re.compile(r"\boverdue\b"))
    await expect(item.nth(0)).to_contain_text("已逾期")
    await expect(item.nth(0)).to_contain_text("宏城花园")
    await expect(item.nth(1)).not_to_contain_text("已逾期")
    assert tab.problems == []
