"""The login and live pages in a real Chromium against the real app: log in, watch a phone
ring past the limit, see the violation and the answer rate, switch language, watch the PBX
event sources, and see a failed overflow transfer (溢出转接失败) as a notice."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    async_playwright,
    expect,
)

from callcenter import signals as t
from callcenter.app import build
from callcenter.auth.service import add_user
from callcenter.config import parse_settings
from callcenter.telephony.source import CommandResult
from callcenter.web.keys import SERVICES, Services

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct-horse-1"
SCREENSHOT = Path("/tmp/live_page.png")
SCREENSHOT_ZH = Path("/tmp/live_page_zh.png")
SCREENSHOT_SOURCES = Path("/tmp/live_sources.png")
SCREENSHOT_SOURCES_ZH = Path("/tmp/live_sources_zh.png")
SCREENSHOT_SOURCE_ERROR = Path("/tmp/live_sources_error.png")
RINGS = {"cycle_seconds": 0.5, "limit": 3}
# 8001 goes to the overflow target at the ring limit, 8002 to another one.
OVERFLOW_RINGS = {
    **RINGS,
    "actions": [
        {"extension": "8001", "on_ring_limit": "overflow", "target": "9000@overflow"},
        {"extension": "8002", "on_ring_limit": "overflow", "target": "9100@overflow"},
    ],
}
# The ring limit fires 1.5 s after ringing starts (3 × 0.5 s); leave room for a busy machine.
WAIT_MS = 8_000


@dataclass
class Hotline:
    """The running app and a way to drive calls into its tracker, as a PBX would."""

    base_url: str
    svc: Services
    source: str = "test"
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def offer(self, extension: str, caller: str, at: datetime | None = None) -> str:
        """A resident's call rings one phone; returns the call id."""
        call_id = f"call-{next(self._ids)}@pbx"
        at = at or datetime.now(UTC)
        tracker = self.svc.calls()
        tracker.handle(t.CallOffered(self.source, call_id, "tag", at, caller, "96069"))
        tracker.handle(t.LegRinging(self.source, call_id, "tag", "leg-1", extension, at))
        return call_id

    def answer(self, call_id: str, extension: str, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        self.svc.calls().handle(t.LegAnswered(self.source, call_id, "tag", "leg-1", extension, at))

    def hang_up(self, call_id: str, by: t.HungUpBy = "caller") -> None:
        now = datetime.now(UTC)
        self.svc.calls().handle(t.CallEnded(self.source, call_id, "tag", now, by))

    def abandon(self, call_id: str) -> None:
        now = datetime.now(UTC)
        self.svc.calls().handle(t.CallAbandoned(self.source, call_id, "tag", now))

    async def user(
        self, name: str, role: str, extension: str | None = None, language: str | None = None
    ) -> None:
        await add_user(
            self.svc.db(), self.svc.clock, name, role, PASSWORD, extension, language=language
        )
        await self.svc.directory.reload(self.svc.db())  # the tracker names agents at once


@dataclass
class FakeRedirector:
    """Stands in for an AMI/ESL source's redirect: answers as the PBX would, per SIP call id
    (failing unless told otherwise), and remembers what it was asked."""

    succeed: set[str] = field(default_factory=set)
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    async def redirect(self, call_id: str, leg_id: str, target: str) -> CommandResult:
        self.asked.append((call_id, leg_id, target))
        if call_id in self.succeed:
            return CommandResult(True, "Response: Success")
        return CommandResult(False, "Error: Channel not found")


@asynccontextmanager
async def running_hotline(tmp_path: Path, rings: dict[str, Any]) -> AsyncIterator[Hotline]:
    """The app with its default HEP source listening, and three users."""
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"},
            "mqtt": {"url": ""},
            "sip": {"hep_listen": "127.0.0.1:0"},
            "rings": rings,
            "web": {"listen": "127.0.0.1:0"},
        }
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hotline = Hotline(f"http://{host}:{port}", app[SERVICES])
    await hotline.user("李娜", "agent", extension="8001")
    await hotline.user("张伟", "agent", extension="8002")
    await hotline.user("wang", "team_lead", language="en")
    try:
        yield hotline
    finally:
        await runner.cleanup()


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with running_hotline(tmp_path, RINGS) as hotline:
        yield hotline


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Tab:
    page: Page
    problems: list[str]


async def open_tab(browser: Browser, locale: str = "en-US") -> Tab:
    """A fresh browser profile; uncaught script errors and CSP refusals are collected."""
    context = await browser.new_context(locale=locale, viewport={"width": 1360, "height": 820})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            problems.append(f"console: {msg.text}")  # e.g. "Refused to … Content Security Policy"

    page.on("console", console)
    return Tab(page, problems)


async def log_in(page: Page, base_url: str, name: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base_url}/login")
    await page.locator("#name").fill(name)
    await page.locator("#password").fill(password)
    await page.locator("#login-submit").click()


def ringing_row(page: Page, extension: str) -> Locator:
    return page.locator("#ringing-rows tr", has_text=extension)


async def test_wrong_password_shows_the_error_then_login_opens_the_live_page(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "wang", "not-the-password")
    await expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    await expect(page).to_have_url(f"{hotline.base_url}/login")

    await page.locator("#password").fill(PASSWORD)
    await page.locator("#login-submit").click()
    await expect(page).to_have_url(f"{hotline.base_url}/")
    await expect(page.locator("#user-name")).to_have_text("wang")
    await expect(page.locator("#user-role")).to_have_text("Team lead (领班)")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#ringing-empty")).to_have_text("No phone is ringing.")
    assert tab.problems == []


async def test_login_error_is_translated_in_a_chinese_browser(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, locale="zh-CN")
    page = tab.page
    await log_in(page, hotline.base_url, "wang", "not-the-password")
    await expect(page.locator("h1")).to_have_text("登录")
    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    assert tab.problems == []


async def test_a_phone_ringing_past_the_limit_turns_red_and_its_violation_is_listed(
    hotline: Hotline, browser: Browser
) -> None:
    # One call answered in time before the page opens, so the rate has something to show.
    early = datetime.now(UTC) - timedelta(seconds=30)
    first = hotline.offer("8002", "13911112222", at=early)
    hotline.answer(first, "8002", at=early + timedelta(seconds=0.7))
    hotline.hang_up(first)
    await hotline.svc.calls().settled()

    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#rate-value")).to_have_text("100%")
    await expect(page.locator("#count-offered")).to_have_text("1")

    late = hotline.offer("8001", "13800138000")
    row = ringing_row(page, "8001")
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("李娜")
    await expect(row).to_contain_text("13800138000")  # a team lead sees the full number
    await expect(page.locator("#ringing-count")).to_have_text("1")

    # After 3 rings × 0.5 s the row turns red and the violation is prepended.
    await expect(row).to_have_class("over", timeout=WAIT_MS)
    await expect(row).to_contain_text("Over limit")
    newest = page.locator("#violation-rows tr").first
    await expect(newest).to_contain_text("Still ringing past the limit", timeout=WAIT_MS)
    await expect(newest).to_contain_text("8001")
    await expect(newest).to_contain_text("李娜")

    # A second phone rings: fresh, not red. Picture the page with both.
    fresh_at = datetime.now(UTC)
    fresh = hotline.offer("8002", "02488776655", at=fresh_at)
    fresh_row = ringing_row(page, "8002")
    await expect(fresh_row).to_be_visible()
    await expect(fresh_row).not_to_have_class("over")
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    # 8002 answers in time (its answer stamped 0.4 s after ringing), 8001 answers late and
    # the agent hangs up first: both rows go, and the rate becomes 2 of 3 answered in time.
    hotline.answer(fresh, "8002", at=fresh_at + timedelta(seconds=0.4))
    hotline.hang_up(fresh)
    hotline.answer(late, "8001")
    await expect(fresh_row).to_have_count(0)
    await expect(row).to_have_count(0)
    await expect(page.locator("#ringing-empty")).to_be_visible()
    hotline.hang_up(late, by="agent")
    await expect(newest).to_contain_text("Agent hung up first", timeout=WAIT_MS)
    await expect(page.locator("#count-offered")).to_have_text("3", timeout=WAIT_MS)
    await expect(page.locator("#count-answered")).to_have_text("3")
    await expect(page.locator("#count-late")).to_have_text("1")
    await expect(page.locator("#rate-value")).to_have_text("66.7%")
    assert tab.problems == []


async def test_language_switch_shows_chinese_and_is_remembered(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page.locator("#ringing-title")).to_contain_text("Phones ringing now")
    call = hotline.offer("8001", "13800138000")
    await expect(ringing_row(page, "8001")).to_have_class("over", timeout=WAIT_MS)

    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("#ringing-title")).to_contain_text("正在振铃")
    await expect(page.locator("#violations-title")).to_have_text("最新违规")
    await expect(page.locator("#rate-title")).to_have_text("今日三声内接听率")
    await expect(page.locator("#user-role")).to_have_text("领班")
    await expect(ringing_row(page, "8001")).to_contain_text("超时")
    await expect(page.locator("#violation-rows tr").first).to_contain_text("超过响铃次数未接")
    await expect(page).to_have_title("实时监控 — 供热抢修热线")
    await page.screenshot(path=str(SCREENSHOT_ZH), full_page=True)

    # The switch beats the profile's language (en) on the next visit too.
    await page.reload()
    await expect(page.locator("#ringing-title")).to_contain_text("正在振铃")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#ringing-title")).to_contain_text("Phones ringing now")
    hotline.abandon(call)
    await expect(ringing_row(page, "8001")).to_have_count(0)
    assert tab.problems == []


async def test_profile_language_wins_over_the_browser_language(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, locale="zh-CN")
    page = tab.page
    await log_in(page, hotline.base_url, "wang")  # the form is Chinese, the profile says en
    await expect(page.locator("#ringing-title")).to_contain_text("Phones ringing now")
    assert tab.problems == []


async def test_an_agent_sees_the_live_page_without_the_rate_panel(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#user-name")).to_have_text("李娜")
    await expect(page.locator("#rate-panel")).to_be_hidden()  # 403 from /api/stats/answers
    await expect(page.locator("#sources-panel")).to_be_hidden()  # 403 from /api/sources
    await expect(page.locator("main")).to_have_class("grid no-stats")  # one column
    await expect(page.locator("#ringing-panel")).to_be_visible()
    # A colleague's phone first, then her own: both ring past the limit, in that order.
    hotline.offer("8002", "13911112222")
    await expect(ringing_row(page, "8002")).to_be_visible()
    hotline.offer("8001", "13800138000")
    row = ringing_row(page, "8001")
    await expect(row).to_contain_text("13800138000")
    await expect(row).to_have_class("over", timeout=WAIT_MS)
    violations = page.locator("#violation-rows tr")
    await expect(violations.first).to_contain_text("Still ringing past the limit", timeout=WAIT_MS)
    await expect(violations.first).to_contain_text("8001")
    await expect(violations).to_have_count(1)  # the colleague's violation is not hers to see
    assert tab.problems == []


async def test_the_page_reconnects_and_redraws_from_the_new_snapshot(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await hotline.svc.hub.close()  # the server drops every live client
    await expect(page.locator("#conn")).to_have_class("conn conn-reconnecting")
    await expect(page.locator("#conn")).to_contain_text("retrying in")
    # While the page is away a phone starts ringing: the new snapshot brings it.
    hotline.offer("8002", "13911112222")
    await expect(page.locator("#conn")).to_have_class("conn conn-live", timeout=WAIT_MS)
    await expect(ringing_row(page, "8002")).to_contain_text("张伟")
    assert tab.problems == []


async def test_signed_out_visitors_are_sent_to_the_login_page(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser)
    page = tab.page
    await page.goto(f"{hotline.base_url}/")
    await expect(page).to_have_url(f"{hotline.base_url}/login")
    await log_in(page, hotline.base_url, "wang")
    await expect(page).to_have_url(f"{hotline.base_url}/")
    await page.locator("#logout").click()
    await expect(page).to_have_url(f"{hotline.base_url}/login")
    await page.goto(f"{hotline.base_url}/")
    await expect(page).to_have_url(f"{hotline.base_url}/login")
    assert tab.problems == []


async def test_the_team_lead_sees_the_event_sources_refreshed_every_five_seconds(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    source = page.locator("#source-list li[data-source='hep']")
    await expect(source).to_contain_text("hep")
    await expect(source.locator(".source-kind")).to_have_text("HEP")
    await expect(source.locator(".source-state")).to_have_text("Listening")
    await expect(source.locator(".source-dot")).to_have_class("source-dot tone-ok")
    host, port = hotline.svc.hep_address or ("", 0)
    await expect(source.locator(".source-address")).to_have_text(f"{host}:{port}")
    await expect(source).to_contain_text("no events yet")
    await expect(source).to_contain_text("errors: 0")
    await expect(source.locator(".source-error")).to_have_count(0)

    # A datagram that is no HEP: the source counts an error; the next poll shows it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"not a HEP packet", (host, port))
    await expect(source.locator(".source-errors")).to_have_text("errors: 1", timeout=WAIT_MS)
    await expect(source.locator(".source-error")).to_contain_text("Last error: dropped bad input")
    await page.locator("#sources-panel").screenshot(path=str(SCREENSHOT_SOURCE_ERROR))
    assert tab.problems == []


@pytest.fixture
async def overflow_hotline(tmp_path: Path) -> AsyncIterator[tuple[Hotline, FakeRedirector]]:
    async with running_hotline(tmp_path, OVERFLOW_RINGS) as hotline:
        assert hotline.svc.actions is not None
        fake = FakeRedirector()
        hotline.svc.actions.redirectors = {hotline.source: fake}
        yield hotline, fake


async def test_a_failed_overflow_transfer_shows_a_notice_until_dismissed(
    overflow_hotline: tuple[Hotline, FakeRedirector], browser: Browser
) -> None:
    hotline, fake = overflow_hotline
    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#source-list li[data-source='hep']")).to_be_visible()
    await expect(page.locator("#notices")).to_be_hidden()

    # 8002's transfer works: its row says where the caller went. 8001's fails: a red notice.
    sent = hotline.offer("8002", "13911112222")
    fake.succeed.add(sent)
    await asyncio.sleep(0.3)  # 8002 rang first: it sits on top
    hotline.offer("8001", "13800138000")
    await asyncio.sleep(1.5)  # 3 rings × 0.5 s
    notice = page.locator("#notice-list li")
    await expect(notice).to_have_count(1, timeout=WAIT_MS)
    await expect(notice).to_contain_text(
        "Overflow failed: 8001 → 9000@overflow: Error: Channel not found"
    )
    await expect(notice).to_contain_text("李娜")
    await expect(notice).to_have_attribute("role", "alert")
    badge = ringing_row(page, "8002").locator(".badge-overflow")
    await expect(badge).to_have_text("Sent to overflow → 9100@overflow", timeout=WAIT_MS)
    await expect(ringing_row(page, "8001").locator(".badge-overflow")).to_be_hidden()
    assert sorted(target for _, _, target in fake.asked) == ["9000@overflow", "9100@overflow"]
    # The violations panel stays as it was: the ring-limit violations only.
    await expect(page.locator("#violation-rows tr")).to_have_count(2, timeout=WAIT_MS)
    await page.screenshot(path=str(SCREENSHOT_SOURCES), full_page=True)

    await page.get_by_role("button", name="中文").click()
    await expect(notice).to_contain_text(
        "溢出转接失败： 8001 → 9000@overflow：Error: Channel not found"
    )
    await expect(badge).to_have_text("转溢出 → 9100@overflow")
    await expect(page.locator("#sources-title")).to_have_text("事件源")
    await expect(page.locator("#source-list .source-state")).to_have_text("监听中")
    await page.screenshot(path=str(SCREENSHOT_SOURCES_ZH), full_page=True)

    # It stays (a reconnect does not clear it) until someone dismisses it.
    await hotline.svc.hub.close()
    await expect(page.locator("#conn")).to_have_class("conn conn-live", timeout=WAIT_MS)
    await expect(notice).to_have_count(1)
    await notice.get_by_role("button", name="关闭").click()
    await expect(page.locator("#notices")).to_be_hidden()
    assert tab.problems == []
