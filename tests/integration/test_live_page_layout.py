"""The pages on a phone: the live page and the login page fit a 360 px screen and a 540 px one
with every panel filled (ringing phones, one unknown since a restart, overflow badges, a
failed-transfer notice, violations, an event source with an error) — no sideways scrolling —
and a keyboard user always sees where the focus is. Screenshots in Chinese go to /tmp."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.integration.test_live_page import (
    OVERFLOW_RINGS,
    PASSWORD,
    WAIT_MS,
    FakeRedirector,
    Hotline,
    log_in,
    open_tab,
    ringing_row,
    running_hotline,
)

pytestmark = pytest.mark.integration

PHONE = (360, 740)
SMALL_TABLET = (540, 800)
DESKTOP = (1360, 820)
# A name with no place to break a line: the narrow layout must wrap it, not scroll sideways.
LONG_NAME = "ouyang.nana-night-shift-customer-service-team-3"
SHOTS = Path("/tmp")


@pytest.fixture
async def busy_hotline(tmp_path: Path) -> AsyncIterator[tuple[Hotline, FakeRedirector]]:
    """A hotline on a busy morning, restarted once while a phone rang."""
    async with running_hotline(tmp_path, OVERFLOW_RINGS) as before:
        await before.user(LONG_NAME, "agent", extension="80031234567890")
        before.offer("80031234567890", "13700001111", call_id="before-restart@pbx")
        await before.svc.calls().settled()
    async with running_hotline(tmp_path, OVERFLOW_RINGS, users=False) as hotline:
        assert hotline.svc.actions is not None
        fake = FakeRedirector()
        hotline.svc.actions.redirectors = {hotline.source: fake}
        yield hotline, fake


async def fill_the_page(hotline: Hotline, fake: FakeRedirector, page: Page) -> None:
    """Answered, late and abandoned calls; phones ringing past the limit, one sent to overflow
    and one whose overflow failed; an event source with an error."""
    now = datetime.now(UTC)
    answered = hotline.offer("8002", "13911112222", at=now - timedelta(seconds=60))
    hotline.answer(answered, "8002", at=now - timedelta(seconds=57))  # late
    hotline.hang_up(answered, by="agent")
    gave_up = hotline.offer("8001", "02488776655", at=now - timedelta(seconds=40))
    hotline.abandon(gave_up, at=now - timedelta(seconds=39.8))
    sent = hotline.offer("8002", "13911113333")
    fake.succeed.add(sent)
    await asyncio.sleep(0.3)
    hotline.offer("8001", "13800138000")  # its overflow fails: a notice
    host, port = hotline.svc.hep_address or ("", 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"not a HEP packet", (host, port))
    await expect(page.locator("#notice-list li")).to_have_count(1, timeout=WAIT_MS)
    await expect(ringing_row(page, "8002").locator(".badge-overflow")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(page.locator("#source-list .source-errors")).to_be_visible(timeout=WAIT_MS)
    # ring_limit: the phone unknown since the restart (its deadline fell), 8001 and 8002;
    # late_answer: the answered call; hung_up_first: its agent hung up.
    await expect(page.locator("#violation-rows tr")).to_have_count(5, timeout=WAIT_MS)
    await expect(page.locator("#count-over-limit")).to_have_text("4", timeout=WAIT_MS)
    await expect(ringing_row(page, "80031234567890")).to_have_class("unknown")


async def overflow_x(page: Page) -> dict[str, int]:
    """How far the page is wider than the screen, and what sticks out, if anything."""
    return await page.evaluate(
        """() => {
          const root = document.documentElement;
          const out = { scroll: root.scrollWidth, client: root.clientWidth, culprits: [] };
          for (const el of document.body.querySelectorAll("*")) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > root.clientWidth + 0.5) {
              out.culprits.push(`${el.tagName}#${el.id}.${el.className} → ${box.right}`);
            }
          }
          out.culprits = out.culprits.slice(0, 8);
          return out;
        }"""
    )


async def assert_fits(page: Page, what: str) -> None:
    await page.wait_for_timeout(100)  # one layout after the resize
    box = await overflow_x(page)
    assert box["scroll"] <= box["client"], f"{what}: {box}"


async def test_the_live_page_fits_a_phone_screen_with_every_panel_filled(
    busy_hotline: tuple[Hotline, FakeRedirector], browser: Browser
) -> None:
    hotline, fake = busy_hotline
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await page.get_by_role("button", name="中文").click()  # the lead's profile says en
    await expect(page.locator(".topbar .brand")).to_have_text("供暖报修热线")
    await fill_the_page(hotline, fake, page)
    await expect(ringing_row(page, "8001")).to_contain_text("超时")

    for width, height in (PHONE, SMALL_TABLET, DESKTOP):
        await page.set_viewport_size({"width": width, "height": height})
        await assert_fits(page, f"live page, zh-CN, {width} px")
    await page.screenshot(path=str(SHOTS / "live_desktop_zh.png"), full_page=True)
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    await page.wait_for_timeout(100)
    await page.screenshot(path=str(SHOTS / "live_360_zh.png"), full_page=True)
    for part in ("topbar", "notices", "rate-panel", "sources-panel", "ringing-panel"):
        shot = SHOTS / f"live_360_zh_{part}.png"
        await page.locator(f".{part}" if part == "topbar" else f"#{part}").screenshot(path=shot)
    await page.locator("#violations-panel").screenshot(path=SHOTS / "live_360_zh_violations.png")

    # On a phone the tables are cards: the heads are hidden, each value says what it is.
    await expect(page.locator("#ringing-panel thead")).to_have_css("position", "absolute")
    rings = ringing_row(page, "8001").locator(".cell-rings")
    assert (await rings.evaluate("el => getComputedStyle(el, '::before').content")) == '"响铃声数 "'
    unknown = ringing_row(page, "80031234567890")
    await expect(unknown).to_contain_text("重启后状态未知")
    await expect(unknown).to_contain_text(LONG_NAME)

    await page.get_by_role("button", name="English").click()
    await expect(page.locator(".topbar .brand")).to_have_text("Heating Repair Hotline")
    for width, height in (
        PHONE,
        (414, 800),
        SMALL_TABLET,
        (640, 800),
        (700, 800),
        (768, 800),
        (860, 800),
        (1024, 768),
        DESKTOP,
    ):
        await page.set_viewport_size({"width": width, "height": height})
        await assert_fits(page, f"live page, en, {width} px")
        if width in (SMALL_TABLET[0], 768, 1024):
            await page.screenshot(path=str(SHOTS / f"live_{width}_en.png"), full_page=True)
    await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    await page.wait_for_timeout(100)
    await page.screenshot(path=str(SHOTS / "live_360_en.png"), full_page=True)
    assert tab.problems == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_the_login_page_fits_a_phone_screen(
    busy_hotline: tuple[Hotline, FakeRedirector], browser: Browser, locale: str
) -> None:
    hotline, _ = busy_hotline
    tab = await open_tab(browser, locale=locale, width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "wang", "not-the-password")  # the error shows too
    await expect(page.locator("#login-error")).to_be_visible()
    for width, height in (PHONE, SMALL_TABLET, DESKTOP):
        await page.set_viewport_size({"width": width, "height": height})
        await assert_fits(page, f"login page, {locale}, {width} px")
    if locale == "zh-CN":
        await expect(page.locator(".login-top .brand")).to_have_text("供暖报修热线")
        await page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        await page.wait_for_timeout(100)
        await page.screenshot(path=str(SHOTS / "login_360_zh.png"), full_page=True)
    assert tab.problems == []


async def focus_ring(page: Page) -> dict[str, str]:
    """The focused element and the outline it draws."""
    return await page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          return {
            id: el.id || el.dataset.lang || el.className || el.tagName,
            style: style.outlineStyle,
            width: style.outlineWidth,
            visible: String(el.matches(":focus-visible")),
          };
        }"""
    )


async def assert_ring(page: Page, expected_id: str) -> None:
    ring = await focus_ring(page)
    assert ring["id"] == expected_id, ring
    assert ring["visible"] == "true" and ring["style"] == "solid", ring
    assert float(ring["width"].removesuffix("px")) >= 2, ring


async def test_a_keyboard_user_signs_in_and_sees_the_focus_everywhere(
    busy_hotline: tuple[Hotline, FakeRedirector], browser: Browser
) -> None:
    hotline, fake = busy_hotline
    tab = await open_tab(browser, width=PHONE[0], height=PHONE[1])
    page = tab.page
    await page.goto(f"{hotline.base_url}/login")
    await expect(page.locator("#name")).to_be_focused()
    await page.keyboard.type("wang")
    await page.keyboard.press("Tab")
    await assert_ring(page, "password")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Tab")
    await assert_ring(page, "login-submit")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Shift+Tab")
    await assert_ring(page, "en")  # the language switch, before the form
    # The switch does not clip the ring (it used to hide its overflow).
    clip = await page.locator(".login-top .lang-switch").evaluate(
        "el => getComputedStyle(el).overflow"
    )
    assert clip == "visible"
    await page.keyboard.press("Tab")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # in the password field: submits
    await expect(page).to_have_url(f"{hotline.base_url}/")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")

    # A failed transfer: its notice's button is reachable and dismissable from the keyboard.
    hotline.offer("8001", "13800138000")
    await expect(page.locator("#notice-list li")).to_have_count(1, timeout=WAIT_MS)
    brand = page.locator(".topbar .brand")
    await brand.click()  # Tab goes on from here
    # The desk's link first: a lead follows every agent's tickets there.
    links = ("desk-link", "qa-link", "reports-link")
    for expected in (*links, "zh-CN", "en", "logout", "notice-close"):
        await page.keyboard.press("Tab")
        await assert_ring(page, expected)
    await page.keyboard.press("Enter")
    await expect(page.locator("#notices")).to_be_hidden()
    # The language switch works from the keyboard too.
    await brand.click()
    for _ in range(4):  # the desk, the spot checks, the reports, then the language
        await page.keyboard.press("Tab")
    await assert_ring(page, "zh-CN")
    await page.keyboard.press("Enter")
    await expect(page.locator("#ringing-title")).to_contain_text("正在振铃")
    assert fake.asked and tab.problems == []
