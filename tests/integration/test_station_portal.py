"""The station portal in a real Chromium against the real app: a station's account signs in
and lands on it; it lists the order an agent dispatched to this station (not another
station's), and the station accepts it, records the contact and returns it with the keyboard
only, an API error shown beside its field; the API then shows the order returned and the
ticket repaired. It fits a 360 px phone, speaks Chinese and English, and prints the order."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from callcenter.app import SERVICES, build
from callcenter.auth.service import add_user, create_token
from callcenter.config import parse_settings
from tests.integration.test_desk_page import PHONE, no_sideways_scroll
from tests.integration.test_live_page import PASSWORD, RINGS, WAIT_MS, Hotline, log_in, open_tab

pytestmark = pytest.mark.integration

SCREENSHOT_LIST = Path("/tmp/station_portal_zh.png")
SCREENSHOT_ORDER = Path("/tmp/station_order_zh.png")
SCREENSHOT_WIDE = Path("/tmp/station_order_wide.png")
SCREENSHOT_PRINT = Path("/tmp/station_order_print.png")
REPAIR = {
    "kind": "repair",
    "reporter_name": "张秀英",
    "phone": "13800000001",
    "address": "大龙市幸福里小区三栋二单元502",  # → xingfu in the sample address book
    "category": "not_hot",
    "fault_location": "卧室暖气片",
    "severity": "major",
    "description": "整屋不热",
}
ELSEWHERE = {**REPAIR, "reporter_name": "刘洋", "address": "宏城花园3号楼2单元301"}  # hongcheng


@asynccontextmanager
async def station_hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    """The app on a real port with an agent and two stations' accounts."""
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"},
            "mqtt": {"url": ""},
            "sip": {"hep_listen": "127.0.0.1:0"},
            "rings": RINGS,
            "web": {"listen": "127.0.0.1:0"},
            "recordings": {"root": str(tmp_path / "recordings")},
            # 宏城 works on the portal only, and is late to accept as soon as it has an order.
            "orders": {"stations": {"hongcheng": {"accept_minutes": 0.01, "mqtt": False}}},
        }
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hotline = Hotline(f"http://{host}:{port}", app[SERVICES])
    db, clock = hotline.svc.db(), hotline.svc.clock
    await add_user(db, clock, "李娜", "agent", PASSWORD, "8001", work_number="027")
    await add_user(db, clock, "幸福站", "station", PASSWORD, station="xingfu")
    await add_user(db, clock, "宏城站", "station", PASSWORD, station="hongcheng", language="en")
    await hotline.svc.directory.reload(db)
    try:
        yield hotline
    finally:
        await runner.cleanup()


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with station_hotline(tmp_path) as hotline:
        yield hotline


class Agent:
    """The agent's side through the API with a bearer token (as a script would)."""

    def __init__(self, hotline: Hotline, token: str) -> None:
        self.base = hotline.base_url
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base + path, json=body, headers=self.headers) as r,
        ):
            assert r.status < 300, await r.text()
            return await r.json()

    async def dispatched(self, ticket: dict[str, Any]) -> dict[str, Any]:
        taken = await self.call("POST", "/api/tickets", ticket)
        order: dict[str, Any] = await self.call("POST", f"/api/tickets/{taken['id']}/dispatch")
        return order


async def agent_of(hotline: Hotline) -> Agent:
    return Agent(hotline, await create_token(hotline.svc.db(), hotline.svc.clock, "李娜"))


async def tab_to(page: Page, selector: str, most: int = 12) -> None:
    """Press Tab until `selector` has the focus (the keyboard only, as a user would)."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never took the focus in {most} Tabs")


async def test_a_station_takes_its_order_to_the_return_with_the_keyboard_only(
    hotline: Hotline, browser: Browser
) -> None:
    agent = await agent_of(hotline)
    order = await agent.dispatched(REPAIR)
    assert order["station"] == "xingfu"
    elsewhere = await agent.dispatched(ELSEWHERE)
    assert elsewhere["station"] == "hongcheng"

    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "幸福站")
    await expect(page).to_have_url(f"{hotline.base_url}/station")
    await expect(page).to_have_title("维修站 — 供暖报修热线")
    await expect(page.locator("#open-title")).to_have_text("待处理派工单")
    # Its own order, with the resident's standard address and the time left to accept;
    # the other station's order is not there.
    items = page.locator("#open-list button.order-open")
    await expect(items).to_have_count(1)
    await expect(items.first).to_contain_text("城关区幸福路幸福里3号楼2单元502室")
    await expect(items.first).to_contain_text("待接单")
    await expect(items.first).to_contain_text("接单期限")
    await expect(items.first).to_contain_text("剩余")
    await expect(page.locator("#list-panel")).not_to_contain_text("宏城花园")
    await expect(page.locator("#user-station")).to_have_text("幸福 (xingfu)")
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_LIST), full_page=True)

    # The keyboard starts on the newest order; Enter opens it.
    await expect(items.first).to_be_focused()
    kb = page.keyboard
    await kb.press("Enter")
    await expect(page.locator("#order-title")).to_be_focused()
    await expect(page.locator("#order-title")).to_have_text(f"派工单 {order['id'][:8]}")
    await expect(page.locator("#order-resident")).to_contain_text("张秀英")
    await expect(page.locator("#order-resident a[href='tel:13800000001']")).to_be_visible()
    await expect(page.locator("#order-fault")).to_contain_text("不热")
    await expect(page.locator("#order-fault")).to_contain_text("卧室暖气片")
    await expect(page.locator("#order-due tr")).to_have_count(3)
    await expect(page.locator("#order-history li")).to_have_count(1)
    await no_sideways_scroll(page)

    # 接单, then the contact with the repairman's name: each step hands the keyboard on.
    await tab_to(page, "#accept")
    await expect(page.locator("#accept")).to_have_text("接单")
    await kb.press("Enter")
    await expect(page.locator("#order-status")).to_have_text("已接单")
    await expect(page.locator("#contact-repairman")).to_be_focused()
    await expect(page.locator("#accept")).to_be_hidden()
    await kb.type("王师傅")
    await kb.press("Enter")
    await expect(page.locator("#order-status")).to_have_text("已联系住户")
    await expect(page.locator("#return-result")).to_be_focused()
    await expect(page.locator("#order-outcome")).to_contain_text("王师傅")

    # 返单 without saying what was done: the API's error beside the field.
    await kb.press("Control+Enter")
    await expect(page.locator("#err-return-result")).to_have_text("此项必填。")
    await expect(page.locator("#return-result")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#return-result")).to_be_focused()
    await kb.type("更换暖气片阀门，已热")
    await tab_to(page, "#return-form button[type=submit]")
    await kb.press("Enter")
    await expect(page.locator("#order-status")).to_have_text("已返单")
    await expect(page.locator("#order-message")).to_have_text("已返单。")
    await expect(page.locator("#err-return-result")).to_be_hidden()
    await expect(page.locator("#return-form")).to_be_hidden()
    await expect(page.locator("#order-history li")).to_have_count(4)
    # The lists follow at once: nothing open, the order among the finished.
    await expect(page.locator("#open-list button")).to_have_count(0)
    await expect(page.locator("#done-list button")).to_have_count(1)
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_ORDER), full_page=True)

    # The API: the order returned with its result, the ticket repaired for the callback.
    got = await agent.call("GET", f"/api/orders/{order['id']}")
    assert (got["status"], got["repairman"], got["result"]) == (
        "returned",
        "王师傅",
        "更换暖气片阀门，已热",
    )
    assert [e["action"] for e in got["history"]] == ["dispatched", "accept", "contact", "return"]
    assert got["delivered_via"] == "portal"
    ticket = await agent.call("GET", f"/api/tickets/{order['ticket_id']}")
    assert ticket["status"] == "repaired"
    assert tab.problems == []


async def test_the_portal_prints_one_order_with_lines_to_sign(
    hotline: Hotline, browser: Browser
) -> None:
    order = await (await agent_of(hotline)).dispatched(REPAIR)
    tab = await open_tab(browser, locale="zh-CN")
    page = tab.page
    await log_in(page, hotline.base_url, "幸福站")
    await page.locator("#open-list button.order-open").first.click()
    await expect(page.locator("#order-title")).to_have_text(f"派工单 {order['id'][:8]}")
    await page.screenshot(path=str(SCREENSHOT_WIDE), full_page=True)
    # The Print button asks the browser to print (a headless one has no dialog: recorded).
    await page.evaluate("() => { window.printed = 0; window.print = () => { window.printed++; }; }")
    await page.locator("#print").click()
    assert await page.evaluate("() => window.printed") == 1

    await page.emulate_media(media="print")
    await expect(page.locator(".signatures")).to_be_visible()
    await expect(page.locator(".signatures")).to_contain_text("维修人员签字")
    await expect(page.locator(".signatures")).to_contain_text("住户签字")
    for hidden in (".topbar", "#list-panel", "#contact-form", "#print", "#order-history"):
        await expect(page.locator(hidden)).to_be_hidden()
    await expect(page.locator("#order-resident")).to_contain_text("张秀英")
    pdf = await page.pdf(prefer_css_page_size=True)  # the page's @page: A4
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1, "the order prints on one sheet"
    assert re.search(rb"/MediaBox\s*\[\s*0 0 59[45]\.?\d* 84[12]\.?\d*\s*\]", pdf), "on A4"
    await page.screenshot(path=str(SCREENSHOT_PRINT), full_page=True)
    assert tab.problems == []


async def test_another_station_sees_none_of_it_and_reads_english(
    hotline: Hotline, browser: Browser
) -> None:
    agent = await agent_of(hotline)
    await agent.dispatched(REPAIR)  # xingfu's
    theirs = await agent.dispatched(ELSEWHERE)
    tab = await open_tab(browser, width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "宏城站")  # the profile says en
    await expect(page).to_have_url(f"{hotline.base_url}/station")
    await expect(page).to_have_title("Station — Heating Repair Hotline")
    await expect(page.locator("#open-title")).to_have_text("Open repair orders")
    items = page.locator("#open-list button.order-open")
    await expect(items).to_have_count(1, timeout=WAIT_MS)
    await expect(items.first).to_contain_text("宏城花园")
    await expect(items.first).to_contain_text("To accept")
    # Late to accept: said and marked.
    await expect(items.first).to_contain_text("Accept by")
    await expect(items.first.locator(".order-due.overdue")).to_contain_text("overdue")
    await expect(page.locator("#open-list li.overdue")).to_have_count(1)
    await expect(page.locator("#list-panel")).not_to_contain_text("幸福里")
    await items.first.click()
    await expect(page.locator("#order-title")).to_have_text(
        f"Repair order (派工单) {theirs['id'][:8]}"
    )
    await expect(page.locator("#accept")).to_have_text("Accept")
    await expect(page.locator("#order-due tr.overdue")).to_have_count(1)
    await expect(page.locator("#order-due tr.overdue")).to_contain_text("overdue")
    await expect(page.locator("label[for=return-result]")).to_have_text("What was done")
    await no_sideways_scroll(page)
    # Refusing needs a reason: the API's error beside it, in English.
    await page.locator("#refuse-box summary").click()
    await page.locator("#refuse-form button[type=submit]").click()
    await expect(page.locator("#err-refuse-reason")).to_have_text("This is required.")
    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("#open-title")).to_have_text("待处理派工单")
    await expect(page.locator("#err-refuse-reason")).to_have_text("此项必填。")
    await expect(page.locator("#accept")).to_have_text("接单")
    # Signed in, a bookmark to the login page brings the station back to its portal.
    await page.goto(f"{hotline.base_url}/login")
    await expect(page).to_have_url(f"{hotline.base_url}/station")
    assert tab.problems == []
