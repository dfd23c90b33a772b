"""The desk in a real Chromium against the real app: an agent signs in and lands on it, in
Chinese and in English; it fits a 360 px phone; her extension rings and the desk pops the
caller (number at once, then the history); she types the whole ticket with the keyboard
only, in the intake script's order, saves it with Enter, and the ticket is in the API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from callcenter.app import SERVICES, build
from callcenter.auth.service import add_user
from callcenter.config import parse_settings
from callcenter.recordings.service import Inbound
from tests.audio import audio
from tests.integration.test_live_page import (
    PASSWORD,
    RINGS,
    WAIT_MS,
    Hotline,
    log_in,
    open_tab,
)

pytestmark = pytest.mark.integration

PHONE = (360, 740)
SCREENSHOT_ZH = Path("/tmp/desk_pop_zh.png")
SCREENSHOT_SAVED = Path("/tmp/desk_saved_zh.png")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def today_holiday() -> dict[str, str]:
    """A holiday announced around today (in the hotline's zone): the opening changes."""
    today = datetime.now(SHANGHAI).date()
    return {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
        "opening": "新年好",
    }


@asynccontextmanager
async def desk_hotline(tmp_path: Path, desk: dict[str, Any]) -> AsyncIterator[Hotline]:
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"},
            "mqtt": {"url": ""},
            "sip": {"hep_listen": "127.0.0.1:0"},
            "rings": RINGS,
            "web": {"listen": "127.0.0.1:0"},
            "recordings": {"root": str(tmp_path / "recordings")},
            "desk": desk,
        }
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hotline = Hotline(f"http://{host}:{port}", app[SERVICES])
    svc = hotline.svc
    await add_user(svc.db(), svc.clock, "李娜", "agent", PASSWORD, "8001", work_number="027")
    await add_user(svc.db(), svc.clock, "张伟", "agent", PASSWORD, "8002", language="en")
    await svc.directory.reload(svc.db())
    try:
        yield hotline
    finally:
        await runner.cleanup()


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with desk_hotline(tmp_path, {"holidays": [today_holiday()]}) as hotline:
        yield hotline


async def no_sideways_scroll(page: Page) -> None:
    wide = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert wide <= 0, f"the page scrolls sideways by {wide} px"


async def api_json(page: Page, path: str, body: Any = None) -> Any:
    """GET (or POST `body`) with the page's session (the cookie is the browser's)."""
    text = await page.evaluate(
        """async ([path, body]) => {
          const init = body === null ? {} : {method: "POST", body: JSON.stringify(body),
            headers: {"Content-Type": "application/json"}};
          const r = await fetch(path, init);
          return JSON.stringify({status: r.status, body: await r.json()});
        }""",
        [path, body],
    )
    return json.loads(text)


async def test_an_agent_lands_on_the_desk_in_chinese_and_it_fits_a_phone(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page).to_have_url(f"{hotline.base_url}/desk")
    await expect(page).to_have_title("接线台 — 供暖报修热线")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#form-title")).to_have_text("报修单")
    # The holiday opening, with her work number.
    await expect(page.locator("#script-opening")).to_have_text(
        "新年好,大龙供暖报修027号为您服务,请问您有什么问题?"
    )
    await expect(page.locator("#pop-idle")).to_be_visible()
    await expect(page.locator("label[for=station] + select option")).to_have_count(18)
    await no_sideways_scroll(page)
    # The first Tab stop of the script is the problem's kind, focused from the start.
    await expect(page.locator("#kind-repair")).to_be_focused()
    await expect(page.locator("#live-link")).to_have_text("实时监控")
    assert tab.problems == []


async def test_the_desk_in_english_opens_with_hello_outside_the_holidays(
    tmp_path: Path, browser: Browser
) -> None:
    async with desk_hotline(tmp_path, {}) as hotline:
        tab = await open_tab(browser)
        page = tab.page
        await log_in(page, hotline.base_url, "张伟")  # his profile says en
        await expect(page).to_have_url(f"{hotline.base_url}/desk")
        await expect(page).to_have_title("Desk — Heating Repair Hotline")
        await expect(page.locator("#form-title")).to_have_text("Ticket")
        await expect(page.locator("#script-opening")).to_have_text(
            "您好,大龙供暖报修(工号)为您服务,请问您有什么问题?"
        )
        await expect(page.locator("#pop-idle")).to_have_text(
            "When your extension rings, the caller and their history show here."
        )
        await page.get_by_role("button", name="中文").click()
        await expect(page.locator("#form-title")).to_have_text("报修单")
        assert tab.problems == []


async def test_her_phone_rings_the_desk_pops_the_caller_and_she_types_the_ticket(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    # The same resident called last week: a consultation, still open.
    earlier = await api_json(
        page,
        "/api/tickets",
        {"kind": "consultation", "phone": "13800138000", "address": "宏城花园3号楼2单元301",
         "description": "问收费"},
    )  # fmt: skip
    assert earlier["status"] == 201, earlier

    # A colleague's phone rings: not hers, nothing pops.
    hotline.offer("8002", "13911112222")
    # Hers rings: the number at once, then the history (none yet for this number).
    call = hotline.offer("8001", "13800138000")
    await expect(page.locator("#pop-caller")).to_have_text("13800138000")
    await expect(page.locator("#pop-state")).to_have_text("正在响铃")
    # Then the history: the open consultation, from this number and at its address.
    await expect(page.locator("#pop-open li")).to_contain_text("咨询", timeout=WAIT_MS)
    await expect(page.locator("#pop-open li")).to_contain_text("待派单")
    await expect(page.locator("#pop-tickets li")).to_have_count(1)
    await expect(page.locator("#pop-address")).to_contain_text("宏城花园")
    await expect(page.locator("#phone")).to_have_value("13800138000")
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_ZH), full_page=True)

    hotline.answer(call, "8001")
    await expect(page.locator("#pop-state")).to_have_text("通话中")
    await hotline.svc.calls().settled()

    # The whole ticket from the keyboard, in the script's order; focus starts on the kind.
    await expect(page.locator("#kind-repair")).to_be_focused()
    kb = page.keyboard
    await kb.press("Tab")  # fault category: the first chip, 不热
    await kb.press("Space")
    await expect(page.locator("#category-not_hot")).to_be_checked()
    await kb.press("Tab")
    await kb.type("卧室暖气片")
    await kb.press("Tab")  # severity
    await kb.press("ArrowRight")  # major
    await expect(page.locator("#severity-major")).to_be_checked()
    await kb.press("Tab")
    await kb.type("暖气不热,摸着只有一点温度")
    await kb.press("Tab")
    stations = await api_json(page, "/api/stations")
    assert stations["status"] == 200
    await kb.type("宏城小区三号楼2单元301")
    check = page.locator("#address-check")
    await expect(check).to_contain_text("宏城花园", timeout=WAIT_MS)  # the standard form
    await expect(check).to_contain_text("宏城")
    await expect(page.locator("#station")).to_have_value("hongcheng")
    await kb.press("Tab")  # the station: the proposal stays unless she picks another
    await kb.press("Tab")
    await kb.type("王先生")
    await kb.press("Tab")
    await expect(page.locator("#phone")).to_be_focused()
    await kb.press("Enter")

    saved = page.locator("#saved")
    await expect(saved).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#saved-timeline li").first).to_contain_text("创建")
    await no_sideways_scroll(page)
    title = await page.locator("#saved-title").text_content()
    assert title
    ticket_id = title.split()[1]

    found = await api_json(page, f"/api/tickets/{ticket_id}")
    assert found["status"] == 200, found
    ticket = found["body"]
    assert ticket["kind"] == "repair"
    assert ticket["category"] == "not_hot"
    assert ticket["severity"] == "major"
    assert ticket["fault_location"] == "卧室暖气片"
    assert ticket["reporter_name"] == "王先生"
    assert ticket["phone"] == "13800138000"
    assert ticket["address"] == "宏城小区三号楼2单元301"
    assert ticket["station"] == "hongcheng"
    assert ticket["agent"] == "李娜"
    assert len(ticket["calls"]) == 1, ticket  # the call she was on

    # The call ends; its recording comes in (as MixMonitor's post-command hands it in) and
    # appears on the ticket by itself, with a player that seeks.
    hotline.hang_up(call)
    await hotline.svc.calls().settled()
    await expect(page.locator("#pop-state")).to_have_text("通话已结束")
    path = audio().copy("ulaw", tmp_path)
    await hotline.svc.recording_service().add_file(path, Inbound("cli", "t", path.name, call))
    player = page.locator("#saved-recordings audio")
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
    ranged = await page.evaluate(
        """async (src) => {
          const r = await fetch(src, { headers: { Range: "bytes=100-199" } });
          return [r.status, (await r.arrayBuffer()).byteLength];
        }""",
        await player.get_attribute("src"),
    )
    assert ranged == [206, 100]
    await page.screenshot(path=str(SCREENSHOT_SAVED), full_page=True)
    assert tab.problems == []


async def test_an_error_from_the_api_shows_beside_its_field(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, locale="zh-CN")
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page.locator("#kind-repair")).to_be_focused()
    kb = page.keyboard
    await kb.press("Tab")
    await kb.press("Space")  # 不热
    for _ in range(4):
        await kb.press("Tab")
    await kb.type("宏城花园3号楼2单元301")
    await expect(page.locator("#station")).to_have_value("hongcheng", timeout=WAIT_MS)
    await kb.press("Tab")
    await kb.press("ArrowDown")  # another station than the proposal: a warning
    await expect(page.locator("#station-warning")).to_contain_text("派错维修站")
    for _ in range(2):
        await kb.press("Tab")
    await expect(page.locator("#phone")).to_be_focused()
    await kb.type("12345")
    await kb.press("Enter")
    error = page.locator("#err-phone")
    await expect(error).to_be_visible(timeout=WAIT_MS)
    await expect(error).to_contain_text("电话号码无效")
    await expect(page.locator("#phone")).to_be_focused()
    assert tab.problems == []


async def test_a_consultation_is_typed_on_its_own_lines_and_saved_with_ctrl_enter(
    hotline: Hotline, browser: Browser
) -> None:
    """Enter in the text is a new line; Ctrl+Enter saves from anywhere. A consultation needs
    no address, fault category or phone, and the category row is not shown for it."""
    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "张伟")
    await expect(page.locator("#kind-repair")).to_be_focused()
    kb = page.keyboard
    await kb.press("ArrowRight")  # consultation
    await expect(page.locator("#kind-consultation")).to_be_checked()
    await expect(page.locator("#category-field")).to_be_hidden()
    await kb.press("Tab")  # the location: the category row is skipped
    await expect(page.locator("#fault_location")).to_be_focused()
    await kb.press("Tab")  # severity: none chosen, the first chip takes the focus
    await kb.press("Tab")
    await expect(page.locator("#description")).to_be_focused()
    await kb.type("暖气费怎么交?")
    await kb.press("Enter")
    await kb.type("问营业厅地址")
    await expect(page.locator("#saved")).to_be_hidden()
    await kb.press("Control+Enter")
    await expect(page.locator("#saved")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#saved-summary")).to_contain_text("Consultation")
    title = await page.locator("#saved-title").text_content()
    assert title
    found = await api_json(page, f"/api/tickets/{title.split()[1]}")
    assert found["body"]["description"] == "暖气费怎么交?\n问营业厅地址"
    assert found["body"]["kind"] == "consultation"
    await page.locator("#new-ticket").press("Enter")  # back to an empty form, focus on kind
    await expect(page.locator("#kind-repair")).to_be_focused()
    await expect(page.locator("#description")).to_have_value("")
    assert tab.problems == []
