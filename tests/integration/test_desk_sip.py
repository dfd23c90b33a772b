"""The desk on real SIP: a SIPp resident calls through a real Kamailio whose siptrace mirrors
every message as HEP3 to the service; the agent's SIPp phone rings, her desk in Chromium pops
the caller, she types the ticket with the keyboard only while on the call and saves it; the
call ends, its recording comes in and plays on the ticket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, expect

from callcenter.app import SERVICES, Services, build
from callcenter.auth import service as auth_service
from callcenter.recordings.service import Inbound
from tests.audio import audio
from tests.conftest import settings_for
from tests.integration import bench
from tests.integration.test_desk_page import api_json
from tests.integration.test_live_page import PASSWORD, log_in, open_tab

pytestmark = pytest.mark.integration

WAIT_MS = 8_000


@pytest.fixture
async def service(
    kamailio: bench.KamailioProxy, hep_port: int, tmp_path: Path
) -> AsyncIterator[tuple[Services, str]]:
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3",
        sip={"hep_listen": f"127.0.0.1:{hep_port}"},
        rings={"cycle_seconds": 5.0, "limit": 3},
        recordings={"root": str(tmp_path / "recordings")},
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    port = bench.free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    svc = app[SERVICES]
    await auth_service.add_user(
        svc.db(), svc.clock, "li.na", "agent", PASSWORD, "2001", work_number="031"
    )
    await svc.directory.reload(svc.db())
    try:
        yield svc, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_sip_call_pops_the_caller_and_the_ticket_gets_its_recording(
    service: tuple[Services, str],
    kamailio: bench.KamailioProxy,
    browser: Browser,
    tmp_path: Path,
) -> None:
    svc, base = service
    tab = await open_tab(browser, locale="zh-CN", width=360, height=740)
    page = tab.page
    await log_in(page, base, "li.na")
    await expect(page).to_have_url(f"{base}/desk")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    await expect(page.locator("#kind-repair")).to_be_focused()

    # The phone rings 1.5 s, she answers, the resident talks for 8 s more and hangs up.
    call = asyncio.create_task(
        bench.place_call(kamailio, 2001, answer_after_ms=1500, caller_hangs_up_after_ms=8000)
    )
    await expect(page.locator("#pop-caller")).to_have_text("13800000001", timeout=WAIT_MS)
    await expect(page.locator("#pop-state")).to_have_text("正在响铃")
    await expect(page.locator("#pop-history-status")).to_have_text("")  # history came
    await expect(page.locator("#pop-state")).to_have_text("通话中", timeout=WAIT_MS)

    kb = page.keyboard
    await kb.press("Tab")
    await kb.press("Space")  # 不热
    await kb.press("Tab")
    await kb.type("客厅暖气片")
    await kb.press("Tab")
    await kb.press("Space")  # 轻微
    await kb.press("Tab")
    await kb.type("暖气不热")
    await kb.press("Tab")
    await kb.type("宏城花园5号楼1单元202")
    await expect(page.locator("#station")).to_have_value("hongcheng", timeout=WAIT_MS)
    await kb.press("Tab")
    await kb.press("Tab")
    await kb.type("赵女士")
    await kb.press("Tab")
    await expect(page.locator("#phone")).to_have_value("13800000001")
    await kb.press("Enter")
    await expect(page.locator("#saved")).to_be_visible(timeout=WAIT_MS)
    title = await page.locator("#saved-title").text_content()
    assert title
    ticket_id = title.split()[1]
    ticket = (await api_json(page, f"/api/tickets/{ticket_id}"))["body"]
    assert ticket["station"] == "hongcheng" and ticket["phone"] == "13800000001"
    assert len(ticket["calls"]) == 1  # the call she was on

    result = await call
    await expect(page.locator("#pop-state")).to_have_text("通话已结束", timeout=WAIT_MS)
    path = audio().copy("ulaw", tmp_path)
    await svc.recording_service().add_file(path, Inbound("cli", "t", path.name, result.call_id))
    player = page.locator("#saved-recordings audio")
    await expect(player).to_have_count(1, timeout=WAIT_MS)
    duration = await player.evaluate(
        """a => new Promise((resolve) => {
          const go = () => resolve(a.duration);
          if (a.readyState >= 1) go(); else a.addEventListener("loadedmetadata", go);
        })"""
    )
    assert duration > 1
    assert tab.problems == []
