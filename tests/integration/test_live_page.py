"""The login and live pages in a real Chromium against the real app: log in, watch a phone
ring past the limit, see the violation and the answer rate with its denominators, switch
language, watch the PBX event sources, see a failed overflow transfer (溢出转接失败) as a
notice, phones left unknown by a restart, and times in the hotline's zone, not the browser's."""

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
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    expect,
)

from callcenter import signals as t
from callcenter.app import SERVICES, Services, build
from callcenter.auth.service import add_user
from callcenter.config import parse_settings
from callcenter.signals import CommandResult

pytestmark = pytest.mark.integration

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
SHANGHAI = ZoneInfo("Asia/Shanghai")  # web.timezone's default: the zone pages show times in


@dataclass
class Hotline:
    """The running app and a way to drive calls into its tracker, as a PBX would."""

    base_url: str
    svc: Services
    source: str = "test"
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def offer(
        self, extension: str, caller: str, at: datetime | None = None, call_id: str | None = None
    ) -> str:
        """A resident's call rings one phone; returns the call id."""
        call_id = call_id or f"call-{next(self._ids)}@pbx"
        at = at or datetime.now(UTC)
        tracker = self.svc.calls()
        tracker.handle(t.CallOffered(self.source, call_id, "tag", at, caller, "96069"))
        tracker.handle(t.LegRinging(self.source, call_id, "tag", "leg-1", extension, at))
        return call_id

    def answer(self, call_id: str, extension: str, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        self.svc.calls().handle(t.LegAnswered(self.source, call_id, "tag", "leg-1", extension, at))

    def hang_up(self, call_id: str, by: t.HungUpBy = "caller", at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        self.svc.calls().handle(t.CallEnded(self.source, call_id, "tag", at, by))

    def abandon(self, call_id: str, at: datetime | None = None) -> None:
        """The resident hangs up before anyone answers."""
        at = at or datetime.now(UTC)
        self.svc.calls().handle(t.CallAbandoned(self.source, call_id, "tag", at))

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
async def running_hotline(
    tmp_path: Path, rings: dict[str, Any], users: bool = True, **sip: Any
) -> AsyncIterator[Hotline]:
    """The app with its default HEP source listening, and three users (unless `users` is
    false: a restart on the same database)."""
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"},
            "mqtt": {"url": ""},
            "sip": {"hep_listen": "127.0.0.1:0", **sip},
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
    if users:
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


@dataclass
class Tab:
    page: Page
    problems: list[str]


async def open_tab(
    browser: Browser,
    locale: str = "en-US",
    width: int = 1360,
    height: int = 820,
    timezone_id: str | None = None,
) -> Tab:
    """A fresh browser profile; uncaught script errors and CSP refusals are collected."""
    context = await browser.new_context(
        locale=locale, viewport={"width": width, "height": height}, timezone_id=timezone_id
    )
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
    await expect(page.locator("#count-over-limit")).to_have_text("1")
    await expect(page.locator("#rate-value")).to_have_text("66.7%")
    await expect(page.locator("#rate-note")).to_have_text("2 of 3 calls answered within 3 rings")
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
    await expect(page).to_have_title("实时监控 — 供暖报修热线")
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
    await expect(page).to_have_url(f"{hotline.base_url}/desk")  # agents land on the desk
    await page.locator("#live-link").click()
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#user-name")).to_have_text("李娜")
    await expect(page.locator("#desk-link")).to_be_visible()
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


async def over_limit_rows(page: Page) -> int:
    """The ring_limit and late_answer violations the page lists."""
    kinds = page.locator("#violation-rows .kind-ring_limit, #violation-rows .kind-late_answer")
    return await kinds.count()


async def test_the_rate_panel_shows_its_denominators_and_what_it_does_not_count(
    hotline: Hotline, browser: Browser
) -> None:
    now = datetime.now(UTC)
    ago = lambda seconds: now - timedelta(seconds=seconds)  # noqa: E731
    # In time (0.4 s); late (3 s > 3 rings × 0.5 s); a resident who hung up after 0.5 s,
    # before the limit: not counted against the rate. 1 of 2 within the limit.
    on_time = hotline.offer("8002", "13911112222", at=ago(60))
    hotline.answer(on_time, "8002", at=ago(59.6))
    hotline.hang_up(on_time, at=ago(50))
    late = hotline.offer("8001", "13800138000", at=ago(45))
    hotline.answer(late, "8001", at=ago(42))
    hotline.hang_up(late, at=ago(30))
    gave_up = hotline.offer("8002", "02411112222", at=ago(20))
    hotline.abandon(gave_up, at=ago(19.5))
    await hotline.svc.calls().settled()

    tab = await open_tab(browser)
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page.locator("#rate-value")).to_have_text("50%")
    await expect(page.locator("#rate-note")).to_have_text("1 of 2 calls answered within 3 rings")
    await expect(page.locator("#rate-definition")).to_have_text(
        "Answered within the limit ÷ calls received, not counting callers who hung up before"
        " the limit"
    )
    await expect(page.locator("#count-offered")).to_have_text("3")
    await expect(page.locator("#count-answered")).to_have_text("2")
    await expect(page.locator("#count-over-limit")).to_have_text("1")
    await expect(page.locator("#count-abandoned")).to_have_text("1")
    await expect(page.locator("#count-abandoned-in-time")).to_have_text(
        "of which 1 before the limit"
    )
    await expect(page.locator("#count-unanswered")).to_have_text("0")
    await expect(page.locator("#row-lost")).to_be_hidden()  # none lost: no row
    await expect(page.locator("#rate-pending")).to_be_hidden()
    await expect(page.locator("#violation-rows tr")).to_have_count(1)
    assert await over_limit_rows(page) == 1

    # A phone rings now: no verdict yet (pending), then past the limit it counts as a miss.
    hotline.offer("8001", "13800138000")
    await expect(page.locator("#ringing-count")).to_have_text("1")
    await expect(page.locator("#count-over-limit")).to_have_text("2", timeout=WAIT_MS)
    await expect(page.locator("#rate-note")).to_have_text("1 of 3 calls answered within 3 rings")
    await expect(page.locator("#rate-value")).to_have_text("33.3%")
    await expect(page.locator("#violation-rows tr")).to_have_count(2)
    assert await over_limit_rows(page) == 2  # the count is the list's over-limit rows

    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("#rate-note")).to_have_text("3 通来电中 1 通在三声内接听")
    await expect(page.locator("#rate-definition")).to_have_text(
        "限时内接听数 ÷ 来电数（不含在时限前挂机的来电）"
    )
    await expect(page.locator("#count-abandoned-in-time")).to_have_text("其中 1 通在时限前挂机")
    assert tab.problems == []


async def test_a_pending_call_is_named_under_the_rate_and_missing_fields_show_a_dash(
    tmp_path: Path, browser: Browser
) -> None:
    # 5 s rings: a phone ringing now has no verdict for 15 s.
    async with running_hotline(tmp_path, {"cycle_seconds": 5.0, "limit": 3}) as hotline:
        tab = await open_tab(browser)
        page = tab.page
        await log_in(page, hotline.base_url, "wang")
        await expect(page.locator("#rate-note")).to_have_text("No call to count yet today")
        hotline.offer("8001", "13800138000")
        await expect(ringing_row(page, "8001")).to_be_visible()
        await page.reload()  # the rate reloads when a phone stops; a reload asks at once
        await expect(page.locator("#rate-pending")).to_have_text(
            "1 still ringing: not counted until answered or over the limit"
        )
        await expect(page.locator("#rate-value")).to_have_text("—")

        # An older server without the new figures: the page shows dashes, not "undefined".
        await page.route(
            "**/api/stats/answers",
            lambda route: route.fulfill(
                json={
                    "ring_limit": 3,
                    "cycle_seconds": 5.0,
                    "groups": [],
                    "total": {"offered": 4, "answered": 3, "within_limit_rate": 0.5},
                }
            ),
        )
        await page.reload()
        await expect(page.locator("#rate-value")).to_have_text("50%")
        await expect(page.locator("#count-offered")).to_have_text("4")
        await expect(page.locator("#count-over-limit")).to_have_text("—")
        await expect(page.locator("#count-abandoned-in-time")).to_have_text(
            "of which — before the limit"
        )
        await expect(page.locator("#rate-note")).to_have_text(
            "— of — calls answered within 3 rings"
        )
        assert "undefined" not in await page.locator("#rate-panel").inner_text()
        assert tab.problems == []


async def test_phones_ringing_at_a_restart_show_as_unknown_until_they_end(
    tmp_path: Path, browser: Browser
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=2)  # past the 1.5 s limit before the restart
    async with running_hotline(tmp_path, RINGS) as before:
        before.offer("8001", "13800138000", at=started, call_id="lost@pbx")
        before.offer("8002", "13911112222", at=started, call_id="ends@pbx")
        await before.svc.calls().settled()
    # The service restarts: both phones rang when it stopped; whether they still do, it
    # cannot know. One is heard of again (the caller hangs up); the other never: after
    # max_ring_seconds it is lost.
    async with running_hotline(tmp_path, RINGS, users=False, max_ring_seconds=10.0) as hotline:
        tab = await open_tab(browser, timezone_id="America/New_York")
        page = tab.page
        await log_in(page, hotline.base_url, "wang")
        await expect(page.locator("#conn")).to_have_class("conn conn-live")
        lost, ends = ringing_row(page, "8001"), ringing_row(page, "8002")
        await expect(lost).to_have_class("unknown")
        await expect(ends).to_have_class("unknown")
        await expect(page.locator("#ringing-rows tr")).to_have_count(2)
        # "unknown since restart HH:MM", in the hotline's zone (Asia/Shanghai), not ticking.
        restarted = datetime.now(SHANGHAI)
        text = await lost.locator(".rings").inner_text()
        assert text.startswith("unknown since restart ")
        assert text[-5:] in {
            (restarted - timedelta(minutes=m)).strftime("%H:%M") for m in (0, 1)
        }, text
        await asyncio.sleep(1.2)
        assert await lost.locator(".rings").inner_text() == text
        await expect(lost).not_to_have_class("over")  # it rang past the limit; unknown now
        await expect(lost.locator(".badge-over")).to_be_hidden()
        await expect(page.locator("#ringing-count")).to_have_text("0")  # none known to ring
        await expect(page.locator("#ringing-empty")).to_be_hidden()

        await page.get_by_role("button", name="中文").click()
        await expect(lost.locator(".rings")).to_contain_text("重启后状态未知 ")

        hotline.abandon("ends@pbx")
        await expect(ends).to_have_count(0)
        await expect(lost).to_be_visible()
        # The sweeper gives up on the other: phone_stopped (outcome "lost"), call_closed.
        await expect(lost).to_have_count(0, timeout=15_000)
        await expect(page.locator("#row-lost")).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator("#count-lost")).to_have_text("1")
        assert await over_limit_rows(page) == int(
            await page.locator("#count-over-limit").inner_text()
        )
        assert tab.problems == []


async def test_times_are_shown_in_the_hotlines_zone_not_the_browsers(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, timezone_id="America/New_York")
    page = tab.page
    assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (
        "America/New_York"
    )
    await log_in(page, hotline.base_url, "wang")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    me = await (await page.request.get(f"{hotline.base_url}/api/me")).json()
    assert me["timezone"] == "Asia/Shanghai"
    rang_at = datetime.now(UTC)
    hotline.offer("8001", "13800138000", at=rang_at)
    since = ringing_row(page, "8001").locator("td").nth(4)
    await expect(since).to_have_text(rang_at.astimezone(SHANGHAI).strftime("%H:%M:%S"))
    newest = page.locator("#violation-rows tr").first
    await expect(newest).to_contain_text("Still ringing past the limit", timeout=WAIT_MS)
    (violation,) = await (await page.request.get(f"{hotline.base_url}/api/violations")).json()
    at = datetime.fromisoformat(violation["occurred_at"].replace("Z", "+00:00"))
    shanghai = at.astimezone(SHANGHAI).strftime("%H:%M:%S")
    new_york = at.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M:%S")
    await expect(newest.locator("td").first).to_have_text(shanghai)
    assert shanghai != new_york
    await expect(page.locator("#times-zone")).to_have_text("Times in Asia/Shanghai")
    assert tab.problems == []
