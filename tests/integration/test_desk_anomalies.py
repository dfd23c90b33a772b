"""The desk ticket view's anomalies (异常事件) in a real Chromium, on a 360 px phone: an agent
opens her ticket from the recent list, logs a resident's praise of the repairman with the
keyboard only (a complaint needs its class first), and when the station misses its deadline
the late step appears on the ticket without a reload and she reports it to the department
head (上报客服部长) with the keyboard.

The station's deadline is made short in the settings (no fake clock in a browser test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.integration.test_desk_page import PHONE, api_json, no_sideways_scroll
from tests.integration.test_desk_recent import send, tab_to
from tests.integration.test_live_anomalies import REPAIR, anomaly_hotline
from tests.integration.test_live_page import WAIT_MS, Hotline, log_in, open_tab

pytestmark = pytest.mark.integration

SCREENSHOT = Path("/tmp/desk_anomalies_phone_zh.png")


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    # 1.2 s to accept; the agent's 30 minutes to report it stay.
    async with anomaly_hotline(tmp_path, {"accept_minutes": 0.02}) as hotline:
        yield hotline


async def test_an_agent_logs_a_praise_and_reports_a_late_step_with_the_keyboard_on_a_phone(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    kb = page.keyboard
    await log_in(page, hotline.base_url, "李娜")
    await expect(page).to_have_url(f"{hotline.base_url}/desk")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    ticket = await send(page, "POST", "/api/tickets", REPAIR)

    # Opened from her recent tickets with the keyboard: no anomaly yet.
    listed = page.locator(f'#recent-list button[data-id="{ticket["id"]}"]')
    await expect(listed).to_be_visible(timeout=WAIT_MS)
    await tab_to(page, f'#recent-list button[data-id="{ticket["id"]}"]', most=80)
    await kb.press("Enter")
    await expect(page.locator("#saved-title")).to_be_focused(timeout=WAIT_MS)
    await expect(page.locator("#saved-anomalies-status")).to_have_text("本工单暂无异常事件。")

    # 登记异常事件: a complaint first, unclassed — refused beside the class, nothing sent.
    await tab_to(page, "#anomaly-log-open")
    await expect(page.locator("#anomaly-log-open")).to_have_text("登记异常事件")
    await kb.press("Enter")
    kind = page.locator("#anomaly-kind")
    await expect(kind).to_be_focused()
    await expect(kind.locator("option")).to_have_count(6)
    await kind.press("ArrowDown")
    await kind.press("ArrowDown")
    await expect(kind).to_have_value("complaint_repairman")
    await expect(page.locator("#anomaly-class-field")).to_be_visible()
    await tab_to(page, "#anomaly-detail")
    await kb.type("维修工态度差")
    await kb.press("Control+Enter")
    await expect(page.locator("#anomaly-err-class")).to_have_text(
        "请选择投诉类别:有效、协助处理、无效或集体投诉。"
    )
    await expect(page.locator("#anomaly-class")).to_be_focused()

    # …then it is a praise after all: 5, no class asked.
    await kind.focus()
    await kind.press("ArrowUp")
    await expect(kind).to_have_value("praise_repairman")
    await expect(page.locator("#anomaly-class-field")).to_be_hidden()
    await tab_to(page, "#anomaly-detail")
    await kb.press("Control+A")
    await kb.type("住户表扬王师傅修得快")
    await kb.press("Control+Enter")
    items = page.locator("#saved-anomalies li")
    await expect(items).to_have_count(1, timeout=WAIT_MS)
    await expect(items.first).to_contain_text("5 住户表扬维修人员")
    await expect(items.first).to_contain_text("登记即已上报")
    await expect(items.first).to_contain_text("住户表扬王师傅修得快")
    await expect(page.locator("#saved-anomalies-status")).to_contain_text("已登记并上报")
    await expect(page.locator("#anomaly-log")).to_be_hidden()
    await expect(page.locator("#anomaly-log-open")).to_be_focused()
    logged = await api_json(page, f"/api/anomalies?ticket={ticket['id']}")
    assert [(a["kind"], a["source"]) for a in logged["body"]] == [("praise_repairman", "agent")]

    # The ticket goes to its station, which does not accept it in time: the late step shows
    # on the open ticket without a reload, awaiting her report.
    await send(page, "POST", f"/api/tickets/{ticket['id']}/dispatch", {})
    await expect(items).to_have_count(2, timeout=WAIT_MS)
    late = items.first
    await expect(late).to_contain_text("1 维修站未在规定时间内处理报修")
    await expect(late).to_contain_text("待接线员上报")
    report = late.locator("button[data-report]")
    await expect(report).to_have_text("上报客服部长")
    await tab_to(page, "#saved-anomalies button[data-report]", most=80)
    await kb.press("Enter")
    await expect(late).to_contain_text("已上报", timeout=WAIT_MS)
    await expect(late).to_contain_text("李娜")
    await expect(late.locator("button")).to_have_count(0)
    await expect(late).to_be_focused()
    (reported,) = [
        a
        for a in (await api_json(page, f"/api/anomalies?ticket={ticket['id']}"))["body"]
        if a["kind"] == "accept_late"
    ]
    assert (reported["reported_by"], reported["report_late"]) == ("李娜", False)

    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert tab.problems == []
