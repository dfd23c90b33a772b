"""The incident banner (片区故障) on the desk in a real Chromium against the real app: a
resident of 东兴里 calls while a burst main has the whole community cold; the desk says so
with the cause and the expected repair time, and one key (F8) takes the ticket linked to the
incident; the same household calling again is added to that ticket. Typing an address
inside the area shows the banner too; a proposal the head has not confirmed is only a hint,
without the key. It fits a 360 px phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, Page, expect

from callcenter.auth.service import add_user, create_token
from tests.integration.serving import served
from tests.integration.test_desk_page import PHONE, no_sideways_scroll
from tests.integration.test_live_page import PASSWORD, WAIT_MS, Hotline, log_in, open_tab

pytestmark = pytest.mark.integration

SCREENSHOT_PHONE = Path("/tmp/desk_incident_phone_zh.png")
SCREENSHOT_HINT = Path("/tmp/desk_incident_hint_en.png")
CALLER = "13800000042"
DONGXING = [{"kind": "community", "name": "东兴里"}]
# 2030-01-01 08:00 in Shanghai, the hotline's zone.
EXPECTED = "2030-01-01T00:00:00Z"


@dataclass
class Lead:
    """The department head (or any user) at the API, with a bearer token."""

    http: ClientSession
    base_url: str
    headers: dict[str, str]

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.http.request(
            method, self.base_url + path, json=body, headers=self.headers
        ) as response:
            answer = await response.json()
            assert response.status == status, answer
            return answer


@asynccontextmanager
async def incident_hotline(tmp_path: Path, **sections: Any) -> AsyncIterator[tuple[Hotline, Lead]]:
    """The app with an agent (李娜, 8001, zh-CN; 张伟, 8002, en), a team lead (wang) and the
    department head (boss, qa_lead), and the head's bearer token."""
    async with served(tmp_path, **sections) as hotline:
        svc = hotline.svc
        users = [
            ("李娜", "agent", "8001", "007", "zh-CN"),
            ("张伟", "agent", "8002", "008", "en"),
            ("wang", "team_lead", None, None, "zh-CN"),
            ("boss", "qa_lead", None, None, "zh-CN"),
        ]
        for name, role, extension, work_number, language in users:
            await add_user(
                svc.db(), svc.clock, name, role, PASSWORD, extension,
                work_number=work_number, language=language,
            )  # fmt: skip
        await svc.directory.reload(svc.db())
        token = await create_token(svc.db(), svc.clock, "boss")
        async with ClientSession() as http:
            yield hotline, Lead(http, hotline.base_url, {"Authorization": f"Bearer {token}"})


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[tuple[Hotline, Lead]]:
    async with incident_hotline(tmp_path) as both:
        yield both


async def as_agent(page: Page, method: str, path: str, body: Any = None) -> Any:
    """A request with the page's session (the browser's cookie), as the desk makes them."""
    return await page.evaluate(
        """async ([method, path, body]) => {
          const init = {method, headers: {"Content-Type": "application/json"}};
          if (body !== null) init.body = JSON.stringify(body);
          const r = await fetch(path, init);
          return {status: r.status, body: await r.json()};
        }""",
        [method, path, body],
    )


async def open_dongxing(lead: Lead, **fields: Any) -> dict[str, Any]:
    body = {"area": DONGXING, "cause": "主管道爆裂", **fields}
    opened: dict[str, Any] = await lead.call("POST", "/api/incidents", body, status=201)
    return opened


async def test_a_caller_from_the_area_is_reported_with_one_key_and_again_added_to_that_ticket(
    desk: tuple[Hotline, Lead], browser: Browser
) -> None:
    hotline, lead = desk
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    # Last winter this resident asked about the fee from her flat in 东兴里.
    earlier = await as_agent(
        page, "POST", "/api/tickets",
        {"kind": "consultation", "phone": CALLER, "address": "东兴里5号楼1单元302",
         "description": "问收费"},
    )  # fmt: skip
    assert earlier["status"] == 201, earlier
    incident = await open_dongxing(lead, expected_repair_at=EXPECTED)
    banner = page.locator("#incident-banner")
    await expect(banner).to_be_hidden()

    call = hotline.offer("8001", CALLER)
    await expect(page.locator("#pop-caller")).to_have_text(CALLER)
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await expect(banner).to_contain_text("片区故障")
    await expect(banner).to_contain_text("东兴里")
    await expect(banner).to_contain_text("原因：主管道爆裂")
    await expect(banner).to_contain_text("预计修复：")
    await expect(banner).to_contain_text("08:00")  # the hotline's local time
    await expect(banner).to_contain_text("已报修 0 单 · 来电 0 次")
    key = banner.get_by_role("button", name="片区故障报修")
    await expect(key).to_contain_text("F8")
    await expect(key).to_have_attribute("aria-keyshortcuts", "F8")
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_PHONE), full_page=True)

    hotline.answer(call, "8001")
    await expect(page.locator("#pop-state")).to_have_text("通话中")
    await hotline.svc.calls().settled()
    await page.keyboard.press("F8")
    result = page.locator("#incident-result")
    await expect(result).to_contain_text("已生成报修单", timeout=WAIT_MS)
    await expect(page.locator("#saved")).to_be_visible()
    title = await page.locator("#saved-title").text_content()
    assert title
    ticket_id = title.split()[1]
    await expect(result).to_contain_text(ticket_id)
    ticket = (await as_agent(page, "GET", f"/api/tickets/{ticket_id}"))["body"]
    assert ticket["kind"] == "repair" and ticket["phone"] == CALLER
    assert ticket["incident"] == incident["id"]
    assert ticket["address_standard"].endswith("东兴里5号楼1单元302室")  # the flat on record
    first_call = [c["id"] for c in ticket["calls"] if c["caller"] == CALLER and c["answered_at"]]
    assert len(ticket["calls"]) == 1 and len(first_call) == 1  # the call she is on
    # The banner counts what the incident took (the live message, within a second).
    await expect(banner).to_contain_text("已报修 1 单 · 来电 1 次", timeout=WAIT_MS)

    # The same household calls again: no second ticket, the call joins the first.
    hotline.hang_up(call)
    again = hotline.offer("8001", CALLER)
    await expect(page.locator("#pop-state")).to_have_text("正在响铃")
    hotline.answer(again, "8001")
    await hotline.svc.calls().settled()
    await expect(key).to_be_visible(timeout=WAIT_MS)
    await expect(result).to_be_hidden()  # the last call's result went with it
    # This time from the keyboard without the one key: back to the banner's button, Enter.
    for _ in range(40):
        if await key.evaluate("b => b === document.activeElement"):
            break
        await page.keyboard.press("Shift+Tab")
    await expect(key).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(result).to_contain_text("该户已报修", timeout=WAIT_MS)
    await expect(result).to_contain_text(ticket_id)
    ticket = (await as_agent(page, "GET", f"/api/tickets/{ticket_id}"))["body"]
    calls = [c["id"] for c in ticket["calls"] if c["caller"] == CALLER]
    assert len(calls) == 2 and first_call[0] in calls  # this call, on the same ticket
    found = await lead.call("GET", f"/api/incidents/{incident['id']}")
    assert (found["tickets"], found["calls"]) == (1, 2)
    assert tab.problems == []


async def test_typing_an_address_in_the_area_shows_the_banner_and_a_proposal_only_hints(
    tmp_path: Path, browser: Browser
) -> None:
    async with incident_hotline(tmp_path, incidents={"propose_households": 2}) as (hotline, lead):
        await open_dongxing(lead)  # no expected time given
        tab = await open_tab(browser, locale="en-US")
        page = tab.page
        await log_in(page, hotline.base_url, "张伟")
        await expect(page.locator("#conn")).to_have_class("conn conn-live")
        # Two households of 宏城花园 without heat: the service proposes one fault.
        for n in (1, 2):
            taken = await as_agent(
                page, "POST", "/api/tickets",
                {"kind": "repair", "category": "not_hot", "phone": f"1390000000{n}",
                 "address": f"宏城花园3号楼2单元30{n}"},
            )  # fmt: skip
            assert taken["status"] == 201, taken
        banner = page.locator("#incident-banner")

        address = page.locator("#address")
        await address.fill("大龙市东兴里五号楼一单元303")
        await expect(banner).to_be_visible(timeout=WAIT_MS)
        await expect(banner).to_contain_text("Area outage (片区故障)")
        await expect(banner).to_contain_text("Cause: 主管道爆裂")
        await expect(banner).to_contain_text("Expected repair: not given")
        await expect(banner).to_contain_text("The address typed is inside the area")
        key = banner.get_by_role("button", name="Report as part of this outage")
        await expect(key).to_be_visible()

        await address.fill("幸福里3号楼2单元502")  # another station's area
        await expect(banner).to_be_hidden(timeout=WAIT_MS)

        await address.fill("宏城花园3号楼2单元303")
        await expect(banner).to_contain_text("Possibly one fault: 2 reports from", timeout=WAIT_MS)
        await expect(banner).to_contain_text("Not confirmed by the department head yet")
        await expect(banner.locator("button")).to_have_count(0)  # no one key for a proposal
        await page.keyboard.press("F8")  # nothing to report: the form stays
        await expect(page.locator("#ticket-panel")).to_be_visible()
        await page.screenshot(path=str(SCREENSHOT_HINT), full_page=True)
        assert tab.problems == []


async def test_a_first_time_caller_is_reported_at_the_address_she_gives(
    desk: tuple[Hotline, Lead], browser: Browser
) -> None:
    """A caller never heard before: the banner comes from the address as it is typed, and the
    key, pressed in the address field, reports her there."""
    hotline, lead = desk
    await open_dongxing(lead)
    tab = await open_tab(browser, locale="zh-CN")
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page.locator("#conn")).to_have_class("conn conn-live")
    call = hotline.offer("8001", "13700000001")
    hotline.answer(call, "8001")
    await hotline.svc.calls().settled()
    await expect(page.locator("#pop-state")).to_have_text("通话中")
    await page.locator("#address").fill("东兴里6号楼2单元402")
    banner = page.locator("#incident-banner")
    await expect(banner).to_contain_text("填写的住址在故障区域内", timeout=WAIT_MS)
    await page.locator("#address").fill("")
    await expect(banner).to_be_hidden(timeout=WAIT_MS)
    await page.locator("#address").fill("东兴里6号楼2单元402")
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await page.locator("#address").press("F8")
    await expect(page.locator("#incident-result")).to_contain_text("已生成报修单", timeout=WAIT_MS)
    tickets = await lead.call("GET", "/api/tickets?phone=13700000001")
    assert [t["address"] for t in tickets] == ["东兴里6号楼2单元402"]
    assert tab.problems == []
