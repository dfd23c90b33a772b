"""The live page tells everyone, agents too, when the line probe's calls to the hotline fail:
a red banner (role="alert") naming the number, since when and how the call failed, shown to
a page opened while the line is down and to one already open when it goes down, gone when
a probe call is answered again. Real app, real Chromium; the probe's phone is scripted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, expect

from callcenter.app import SERVICES, build
from callcenter.probe.model import Heard
from callcenter.probe.settings import ProbeSettings
from tests.conftest import settings_for
from tests.integration.test_live_page import RINGS, WAIT_MS, Hotline, log_in, open_tab
from tests.integration.test_live_page_layout import PHONE, assert_fits

pytestmark = pytest.mark.integration

SCREENSHOT = Path("/tmp/live_line_down_360_zh.png")
BUSY = Heard(sip_call_id="p1", first_response=0.01, ring=0.3, final_status=486)
ANSWERED = Heard(sip_call_id="p2", first_response=0.01, ring=0.3, answer=2.0, final_status=200)


class ScriptedPhone:
    def __init__(self, *script: Heard) -> None:
        self.script = list(script)

    async def __call__(self, _settings: ProbeSettings) -> Heard:
        return self.script.pop(0)


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    """A service whose probe's first call (at start) is refused: the line is down."""
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3",
        mqtt={"url": ""},
        rings=RINGS,
        web={"listen": "127.0.0.1:0"},
        probe={
            "enabled": True,
            "registrar": "127.0.0.1:5060",
            "username": "8999",
            "number": "96069",
            "interval_seconds": 3600.0,
        },
    )
    app = build(settings, migrate=True, mqtt=False, probe_call=ScriptedPhone(BUSY, ANSWERED, BUSY))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    hotline = Hotline(f"http://{host}:{port}", app[SERVICES])
    await hotline.user("李娜", "agent", extension="8001")
    try:
        yield hotline
    finally:
        await runner.cleanup()


async def test_the_banner_shows_while_the_line_is_down_and_goes_when_it_answers(
    hotline: Hotline, browser: Browser
) -> None:
    probe = hotline.svc.probe
    assert probe is not None
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")  # an agent: she is told too
    await expect(page).to_have_url(f"{hotline.base_url}/desk")  # where agents land
    await page.goto(f"{hotline.base_url}/")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    banner = page.locator("#line-banner")
    await expect(banner).to_be_visible(timeout=WAIT_MS)  # from the snapshot
    await expect(banner).to_have_attribute("role", "alert")
    await expect(page.locator("#line-title")).to_have_text("热线 96069 拨测未通")
    await expect(page.locator("#line-detail")).to_contain_text("拨测呼叫被拒绝（486）")
    await expect(page.locator("#line-detail")).to_contain_text("自 ")
    await assert_fits(page, "line banner, zh-CN, 360 px")
    await page.screenshot(path=str(SCREENSHOT), full_page=True)
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("#line-title")).to_have_text(
        "Hotline 96069 not answering the line probe"
    )
    await expect(page.locator("#line-detail")).to_contain_text("was refused (486)")

    await probe.probe_once()  # answered: line_up
    await expect(banner).to_be_hidden(timeout=WAIT_MS)
    await probe.probe_once()  # refused again: line_down, live
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#line-detail")).to_contain_text("was refused (486)")
    assert tab.problems == []
