"""The live page shows when the service is degraded: it asks /api/health on load and every 5 s,
and a red banner at the top (role="alert") lists the server's reasons, verbatim, under a
translated heading, until the service is well again. A health check that cannot be made says
"health unknown" in the connection status, not "degraded". Real app, real Chromium."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, Route, expect

from callcenter.app import SERVICES, build
from tests.conftest import settings_for
from tests.fakes.ami_server import FakeAmiServer
from tests.integration.test_live_page import (
    RINGS,
    WAIT_MS,
    Hotline,
    log_in,
    open_tab,
)
from tests.integration.test_live_page_layout import PHONE, assert_fits

pytestmark = pytest.mark.integration

POLL_MS = 5_000  # the page asks /api/health this often while live
SCREENSHOT_ZH = Path("/tmp/live_health_360_zh.png")
SCREENSHOT_EN = Path("/tmp/live_health_360_en.png")
SCREENSHOT_REASONS = Path("/tmp/live_health_360_zh_reasons.png")
SCREENSHOT_UNKNOWN = Path("/tmp/live_health_unknown_360_zh.png")
AMI_USER, AMI_SECRET = "hotline", "s3cret-不告诉你"  # FakeAmiServer's defaults


def free_port() -> int:
    """A local TCP port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def hotline_with(tmp_path: Path, **sections: Any) -> AsyncIterator[Hotline]:
    """The app as `serve` builds it from these config sections, and a team lead, wang."""
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3",
        mqtt={"url": ""},
        rings=RINGS,
        web={"listen": "127.0.0.1:0"},
        **sections,
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hotline = Hotline(f"http://{host}:{port}", app[SERVICES])
    await hotline.user("wang", "team_lead", language="en")
    try:
        yield hotline
    finally:
        await runner.cleanup()


@pytest.fixture
async def pbx_port() -> int:
    return free_port()


@pytest.fixture
async def degraded_hotline(tmp_path: Path, pbx_port: int) -> AsyncIterator[Hotline]:
    """An AMI source whose PBX is not up (it keeps retrying), counted as down at once."""
    ami = {
        "id": "ast1",
        "kind": "ami",
        "host": "127.0.0.1",
        "port": pbx_port,
        "username": AMI_USER,
        "secret": AMI_SECRET,
    }
    async with hotline_with(tmp_path, pbx=[ami], health={"source_down_seconds": 0}) as hotline:
        yield hotline


@pytest.fixture
async def well_hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    """The default HEP source, listening: nothing wrong."""
    async with hotline_with(tmp_path) as hotline:
        yield hotline


async def banner_is_above_the_page(page: Page) -> None:
    """In the flow at the top, not laid over the panels."""
    banner = await page.locator("#health-banner").bounding_box()
    main = await page.locator("main").bounding_box()
    assert banner and main and banner["y"] + banner["height"] <= main["y"] + 0.5, (banner, main)
    assert await page.locator("#health-banner").evaluate("el => getComputedStyle(el).position") in (
        "static",
        "relative",
    )


async def test_a_source_down_shows_the_degraded_banner_until_it_is_back(
    degraded_hotline: Hotline, pbx_port: int, browser: Browser
) -> None:
    hotline = degraded_hotline
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    health = await page.request.get(f"{hotline.base_url}/api/health")  # not signed in yet
    assert health.status == 503 and await health.json() == {"status": "degraded"}
    await log_in(page, hotline.base_url, "wang")  # the profile says en
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    banner = page.locator("#health-banner")
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await expect(banner).to_have_attribute("role", "alert")
    await expect(banner.locator(".health-title")).to_have_text("Service degraded")
    reasons = banner.locator("#health-reasons li")
    await expect(reasons).to_have_count(1)
    reason = await reasons.first.inner_text()
    assert reason.startswith("source ast1: "), reason  # as the server gave it
    assert await reasons.first.get_attribute("lang") == "en"
    await expect(page.locator("#conn-health")).to_be_hidden()  # known: degraded
    await expect(page.locator("#ringing-panel")).to_be_visible()
    await banner_is_above_the_page(page)
    await assert_fits(page, "degraded banner, en, 360 px")
    await page.screenshot(path=str(SCREENSHOT_EN), full_page=True)

    # In Chinese: the heading is translated, the server's reason stays as it was sent.
    await page.get_by_role("button", name="中文").click()
    await expect(banner.locator(".health-title")).to_have_text("服务降级")
    await expect(banner.locator(".health-reasons-heading")).to_have_text("服务器报告的原因：")
    await expect(reasons.first).to_contain_text("source ast1: ")
    await assert_fits(page, "degraded banner, zh-CN, 360 px")
    await page.screenshot(path=str(SCREENSHOT_ZH), full_page=True)

    # The PBX comes up: the source connects on its next retry, the next check is ok.
    pbx = FakeAmiServer(username=AMI_USER, secret=AMI_SECRET)
    pbx.port = pbx_port
    await pbx.start()
    try:
        await expect(page.locator("#source-list .source-state")).to_have_text(
            "已连接", timeout=40_000
        )
        await expect(banner).to_be_hidden(timeout=POLL_MS + WAIT_MS)
        await expect(reasons).to_have_count(0)
    finally:
        await pbx.stop()
    assert tab.problems == []


async def test_all_well_shows_no_banner_and_a_failed_check_says_health_unknown(
    well_hotline: Hotline, browser: Browser
) -> None:
    hotline = well_hotline
    tab = await open_tab(browser)
    page = tab.page
    async with page.expect_response(lambda r: r.url.endswith("/api/health")) as first:
        await log_in(page, hotline.base_url, "wang")
    answer = await first.value
    assert answer.status == 200
    body = await answer.json()
    assert body["status"] == "ok" and body["reasons"] == []  # signed in: the details too
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#health-banner")).to_be_hidden()
    await expect(page.locator("#conn-health")).to_be_hidden()

    # The check itself fails (the network, not the service): unknown, not degraded.
    await page.route("**/api/health", lambda route: route.abort())
    await expect(page.locator("#conn-health")).to_be_visible(timeout=POLL_MS + WAIT_MS)
    await expect(page.locator("#conn")).to_contain_text("Live")
    await expect(page.locator("#conn-health")).to_have_text("health unknown")
    await expect(page.locator("#health-banner")).to_be_hidden()
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    await assert_fits(page, "health unknown, en, 360 px")
    await page.get_by_role("button", name="中文").click()
    await expect(page.locator("#conn-health")).to_have_text("服务状态未知")
    await assert_fits(page, "health unknown, zh-CN, 360 px")
    await page.locator(".topbar").screenshot(path=str(SCREENSHOT_UNKNOWN))

    # It answers again: the note goes at the next check.
    await page.unroute("**/api/health")
    await expect(page.locator("#conn-health")).to_be_hidden(timeout=POLL_MS + WAIT_MS)
    await expect(page.locator("#health-banner")).to_be_hidden()
    assert tab.problems == []


async def test_long_reasons_wrap_on_a_phone_and_a_bare_degraded_says_no_details(
    well_hotline: Hotline, browser: Browser
) -> None:
    # What a signed-in user gets when several things are wrong, one with a long unbroken id;
    # and what anyone gets when the server cannot check the session (its database is down).
    reasons = [
        "calls: saving is 12 s behind",
        "calls: saving has failed 3 times",
        "source pbx-north-district-heating-station-7: backoff for 42 s",
        "mqtt: 1500 messages waiting",
    ]
    answers = [{"status": "degraded", "reasons": reasons}]

    async def health(route: Route) -> None:
        await route.fulfill(status=503, json=answers[-1])

    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await page.route("**/api/health", health)
    await log_in(page, well_hotline.base_url, "wang")
    await page.get_by_role("button", name="中文").click()
    banner = page.locator("#health-banner")
    await expect(banner.locator("#health-reasons li")).to_have_text(reasons)
    await expect(banner.locator("#health-no-reasons")).to_be_hidden()
    await banner_is_above_the_page(page)
    await assert_fits(page, "four reasons, zh-CN, 360 px")
    await banner.screenshot(path=str(SCREENSHOT_REASONS))

    answers.append({"status": "degraded"})
    await expect(banner.locator("#health-no-reasons")).to_have_text(
        "服务器未提供详情。", timeout=POLL_MS + WAIT_MS
    )
    await expect(banner.locator("#health-reasons li")).to_have_count(0)
    await expect(banner.locator(".health-reasons-heading")).to_be_hidden()
    await expect(banner.locator(".health-title")).to_have_text("服务降级")

    answers.append({"status": "ok"})
    await expect(banner).to_be_hidden(timeout=POLL_MS + WAIT_MS)
    assert tab.problems == []
