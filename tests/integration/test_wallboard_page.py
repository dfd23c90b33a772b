"""The wallboard (大屏) in a real Chromium against the real app: opened with its token (no
login), a call through the hotline's tracker moves its figures without a reload, a token
revoked through the API turns the screen into the revoked message, a bad token shows its
message and asks nothing more, a dropped connection is said and healed; on a 1920×1080 TV in
English and a phone in Chinese. Screenshots go to /tmp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, Page, Request, expect

from callcenter.auth.service import create_token
from tests.integration.test_live_page import Hotline, open_tab, running_hotline

pytestmark = pytest.mark.integration

RINGS = {"cycle_seconds": 0.5, "limit": 3}
TV = (1920, 1080)
PHONE = (390, 844)
SHOTS = Path("/tmp")
CALLER = "13800138000"


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with running_hotline(tmp_path, RINGS) as hotline:
        await hotline.user("boss", "supervisor")
        yield hotline


async def boss_api(hotline: Hotline) -> dict[str, str]:
    token = await create_token(hotline.svc.db(), hotline.svc.clock, "boss")
    return {"Authorization": f"Bearer {token}"}


async def new_board(hotline: Hotline, who: dict[str, str]) -> dict[str, str]:
    async with ClientSession() as http:
        response = await http.post(
            f"{hotline.base_url}/api/wallboard/tokens", json={"name": "大厅电视"}, headers=who
        )
        assert response.status == 201, await response.text()
        body: dict[str, str] = await response.json()
    return body


async def revoke(hotline: Hotline, who: dict[str, str], token_id: object) -> None:
    async with ClientSession() as http:
        url = f"{hotline.base_url}/api/wallboard/tokens/{token_id}"
        response = await http.delete(url, headers=who)
        assert response.status == 200, await response.text()


async def open_board(
    browser: Browser, url: str, locale: str = "en-US", size: tuple[int, int] = TV
) -> tuple[Page, list[str]]:
    tab = await open_tab(browser, locale=locale, width=size[0], height=size[1])
    await tab.page.goto(url)
    return tab.page, tab.problems


async def test_a_call_coming_in_moves_the_board_without_a_reload(
    hotline: Hotline, browser: Browser
) -> None:
    board = await new_board(hotline, await boss_api(hotline))
    page, problems = await open_board(browser, board["url"])
    await expect(page.locator("#wall-conn")).to_have_text("Live")
    await expect(page.locator("#wall-offered")).to_have_text("0")
    await expect(page.locator("#wall-rate-verdict")).to_have_text("No calls counted yet today")
    await expect(page.locator("form")).to_have_count(0)  # never a login form
    await page.evaluate("window.sameDocument = true")

    call = hotline.offer("8001", CALLER)
    await expect(page.locator("#wall-ringing-count")).to_have_text("1")
    await expect(page.locator("#wall-offered")).to_have_text("1")
    await expect(page.locator("#wall-ringing-longest")).to_contain_text("Longest")
    hotline.answer(call, "8001", at=datetime.now(UTC))
    await expect(page.locator("#wall-answered")).to_have_text("1")
    await expect(page.locator("#wall-ringing-count")).to_have_text("0")
    # A late one: the rule is missed, said in words as well as in red.
    late = hotline.offer("8002", CALLER, at=datetime.now(UTC) - timedelta(seconds=3))
    hotline.answer(late, "8002")
    await expect(page.locator("#wall-rate-value")).to_have_text("50%")
    verdict = page.locator("#wall-rate-verdict")
    await expect(verdict).to_have_text("✗ Below the rule: 1 not answered within 3 rings")
    await expect(verdict).to_have_class("wall-verdict bad")
    await expect(page.locator("#wall-violations")).not_to_have_text("0")
    assert await page.evaluate("window.sameDocument") is True  # no reload happened
    assert CALLER not in await page.locator("body").inner_text()
    await page.screenshot(path=str(SHOTS / "wallboard_tv.png"))
    # The figures fill the TV without scrolling.
    assert await page.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1"), (
        "the board scrolls on a 1920×1080 screen"
    )
    assert problems == []


async def test_revoking_the_token_turns_the_board_into_the_revoked_message(
    hotline: Hotline, browser: Browser
) -> None:
    boss = await boss_api(hotline)
    board = await new_board(hotline, boss)
    page, problems = await open_board(browser, f"{board['url']}&lang=zh-CN")
    await expect(page.locator("#wall-conn")).to_have_text("实时")
    await expect(page.locator("#wall-rate-title")).to_have_text("响铃三声内接听率")

    await revoke(hotline, boss, board["id"])
    blocked = page.locator("#wall-blocked")
    await expect(blocked).to_be_visible()
    await expect(page.locator("#wall-blocked-title")).to_have_text("此大屏链接已被撤销")
    await expect(page.locator("#wall-board")).to_be_hidden()
    await expect(page.locator("#wall-offered")).to_have_text("—")  # no figure left behind
    await page.screenshot(path=str(SHOTS / "wallboard_revoked_zh.png"))
    # Opened again later, the revoked link says the same at once.
    again, _ = await open_board(browser, board["url"])
    await expect(again.locator("#wall-blocked-title")).to_have_text(
        "This wallboard link has been revoked"
    )
    assert problems == []


async def test_a_bad_token_shows_its_message_and_asks_nothing_more(
    hotline: Hotline, browser: Browser
) -> None:
    tab = await open_tab(browser, width=TV[0], height=TV[1])
    asked: list[str] = []

    def record(request: Request) -> None:
        if "/api/" in request.url:
            asked.append(request.url)

    tab.page.on("request", record)
    await tab.page.goto(f"{hotline.base_url}/wallboard?token=wb_not-a-real-token")
    await expect(tab.page.locator("#wall-blocked-title")).to_have_text(
        "This wallboard link is not valid"
    )
    await expect(tab.page.locator("#wall-board")).to_be_hidden()
    # Long enough for a retry loop's first backoffs (1 s, 2 s) to have shown themselves.
    await tab.page.wait_for_timeout(3500)
    assert len(asked) == 1, asked
    missing = await open_tab(browser)
    await missing.page.goto(f"{hotline.base_url}/wallboard")
    await expect(missing.page.locator("#wall-blocked-title")).to_have_text(
        "The address has no wallboard token"
    )
    assert tab.problems == [] and missing.problems == []


async def test_a_dropped_connection_is_said_and_healed(hotline: Hotline, browser: Browser) -> None:
    board = await new_board(hotline, await boss_api(hotline))
    page, problems = await open_board(browser, board["url"])
    conn = page.locator("#wall-conn")
    await expect(conn).to_have_text("Live")
    await hotline.svc.wallboard_hub().close()  # as a restart or a network drop would
    await expect(conn).to_have_text("Connection lost, reconnecting…")
    await expect(page.locator("#wall-board")).to_have_class("wall-board stale")
    await expect(conn).to_have_text("Live", timeout=15_000)
    hotline.offer("8001", CALLER)
    await expect(page.locator("#wall-ringing-count")).to_have_text("1")
    assert problems == []


async def test_on_a_phone_in_chinese_nothing_scrolls_sideways(
    hotline: Hotline, browser: Browser
) -> None:
    board = await new_board(hotline, await boss_api(hotline))
    call = hotline.offer("8001", CALLER)
    hotline.abandon(call)
    page, problems = await open_board(browser, board["url"], locale="zh-CN", size=PHONE)
    await expect(page.locator("#wall-conn")).to_have_text("实时")
    await expect(page.locator("#wall-abandoned")).to_have_text("1")
    await expect(page.get_by_text("放弃", exact=True)).to_be_visible()
    await expect(page.get_by_text("未结工单", exact=True)).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the page is {width} px wide on a {PHONE[0]} px phone"
    await page.screenshot(path=str(SHOTS / "wallboard_phone_zh.png"), full_page=True)
    assert problems == []


async def test_todays_charts_are_on_the_board_and_it_still_fits_the_tv(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    for n in range(3):
        call = hotline.offer(f"800{n}", CALLER)
        hotline.answer(call, f"800{n}", at=datetime.now(UTC))
    board = await new_board(hotline, await boss_api(hotline))
    page, problems = await open_board(browser, f"{board['url']}&lang=zh-CN")
    await expect(page.locator("#wall-offered")).to_have_text("3")
    charts = page.locator("#wall-charts img")
    await expect(charts).to_have_count(2)
    for img in await charts.all():
        await expect(img).to_be_visible()
        await expect(img).to_have_js_property("complete", True)
        assert await img.evaluate("(i) => i.naturalWidth") > 0, await img.get_attribute("src")
    hourly = page.locator('#wall-charts img[data-chart="hourly"]')
    assert "每小时来电" in (await hourly.get_attribute("alt") or "")
    await page.screenshot(path=str(tmp_path / "wallboard_charts.png"))
    # Everything on one TV screen: nobody scrolls a TV.
    assert await page.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1"), (
        tmp_path / "wallboard_charts.png"
    )
    assert problems == []
