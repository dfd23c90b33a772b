"""The live page's incidents (片区故障) in a real Chromium against the real app: the
department head watches an incident opened and its reports and calls counted as tickets join;
she confirms the service's proposal with its cause and expected repair time (typed on the
hotline's clock from a browser in another zone), dismisses another, and closes the incident
with what was repaired; a team lead opens one on a phone, told beside each field what the API
refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from callcenter.auth.service import create_token
from tests.integration.test_desk_incident import (
    DONGXING,
    Lead,
    incident_hotline,
    open_dongxing,
)
from tests.integration.test_desk_page import PHONE, no_sideways_scroll
from tests.integration.test_live_page import WAIT_MS, Hotline, Tab, log_in, open_tab

pytestmark = pytest.mark.integration

SCREENSHOT_PHONE = Path("/tmp/live_incidents_phone_zh.png")
SCREENSHOT = Path("/tmp/live_incidents_zh.png")
SCREENSHOT_FORM = Path("/tmp/live_incident_form_phone_zh.png")


async def as_agent(hotline: Hotline, lead: Lead) -> Lead:
    token = await create_token(hotline.svc.db(), hotline.svc.clock, "李娜")
    return Lead(lead.http, lead.base_url, {"Authorization": f"Bearer {token}"})


def repair(address: str, phone: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "repair", "category": "ice_cold", "address": address, "phone": phone, **fields}


async def signed_in(browser: Browser, hotline: Hotline, name: str, **tab: Any) -> Tab:
    opened = await open_tab(browser, locale="zh-CN", **tab)
    await log_in(opened.page, hotline.base_url, name)
    await expect(opened.page).to_have_url(f"{hotline.base_url}/")
    await expect(opened.page.locator("#conn")).to_have_class("conn conn-live")
    return opened


async def test_the_head_watches_an_incident_take_reports_and_calls(
    tmp_path: Path, browser: Browser
) -> None:
    async with incident_hotline(tmp_path) as (hotline, lead):
        agent = await as_agent(hotline, lead)
        tab = await signed_in(browser, hotline, "boss")
        page = tab.page
        panel = page.locator("#incidents-panel")
        await expect(panel).to_contain_text("没有进行中的片区故障。")

        incident = await open_dongxing(lead)
        item = panel.locator(f'li[data-incident="{incident["id"]}"]')
        await expect(item).to_contain_text("东兴里", timeout=WAIT_MS)
        await expect(item).to_contain_text("原因：主管道爆裂")
        await expect(item).to_contain_text("预计修复：未定")
        await expect(item).to_contain_text("维修站：东兴")
        await expect(item).to_contain_text("已报修 0 单 · 来电 0 次")
        await expect(page.locator("#incidents-count")).to_have_text("1")

        # A resident of 东兴里 calls; the agent takes the ticket on the call.
        call = hotline.offer("8001", "13800000007")
        hotline.answer(call, "8001")
        await hotline.svc.calls().settled()
        body = repair("东兴里5号楼1单元101", "13800000007")
        taken = await agent.call("POST", "/api/tickets", body, status=201)
        assert taken["incident"] == incident["id"] and len(taken["calls"]) == 1
        await expect(item).to_contain_text("已报修 1 单 · 来电 1 次", timeout=WAIT_MS)
        # Another, without a call (typed afterwards): one more report, no more calls.
        await agent.call("POST", "/api/tickets", repair("东兴里7号楼", "13800000008"), status=201)
        await expect(item).to_contain_text("已报修 2 单 · 来电 1 次", timeout=WAIT_MS)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)
        assert tab.problems == []


async def test_the_head_confirms_a_proposal_dismisses_another_and_closes_the_incident(
    tmp_path: Path, browser: Browser
) -> None:
    async with incident_hotline(tmp_path, incidents={"propose_households": 2}) as (hotline, lead):
        agent = await as_agent(hotline, lead)
        # The head is in Berlin this week: the times she types are still the hotline's.
        tab = await signed_in(browser, hotline, "boss", timezone_id="Europe/Berlin")
        page = tab.page
        panel = page.locator("#incidents-panel")
        for n in (1, 2):
            body = repair(f"宏城花园3号楼2单元30{n}", f"1390000000{n}", category="not_hot")
            await agent.call("POST", "/api/tickets", body, status=201)
        for n in (3, 4):
            await agent.call(
                "POST",
                "/api/tickets",
                repair(f"东兴里5号楼1单元10{n}", f"1390000000{n}"),
                status=201,
            )
        [hongcheng, dongxing] = sorted(
            await lead.call("GET", "/api/incidents?status=proposed"),
            key=lambda i: "东兴" in i["area_label"],
        )
        proposed = panel.locator(f'li[data-incident="{hongcheng["id"]}"]')
        await expect(proposed).to_contain_text("待确认", timeout=WAIT_MS)
        await expect(proposed).to_contain_text("已报修 2 单")

        await proposed.get_by_role("button", name="确认").click()
        cause = proposed.get_by_label("故障原因")
        await expect(cause).to_be_focused()
        await expect(cause).to_have_value(hongcheng["cause"])  # the service's words, to correct
        await cause.fill("换热站停泵")
        await proposed.get_by_label("预计修复时间（Asia/Shanghai）").fill("2030-01-01T08:00")
        await cause.press("Control+Enter")
        await expect(proposed).not_to_contain_text("待确认", timeout=WAIT_MS)
        await expect(proposed).to_contain_text("原因：换热站停泵")
        await expect(page.locator("#incidents-done")).to_contain_text("已确认片区故障")
        found = await lead.call("GET", f"/api/incidents/{hongcheng['id']}")
        assert found["status"] == "open" and found["cause"] == "换热站停泵"
        assert found["expected_repair_at"] == "2030-01-01T00:00:00.000Z"  # 08:00 in Shanghai

        other = panel.locator(f'li[data-incident="{dongxing["id"]}"]')
        await other.get_by_role("button", name="不是同一故障").click()
        await other.get_by_label("撤销原因").fill("两户各自阀门问题")
        await other.get_by_role("button", name="撤销").click()
        await expect(other).to_have_count(0, timeout=WAIT_MS)
        assert (await lead.call("GET", f"/api/incidents/{dongxing['id']}"))["status"] == "dismissed"

        await proposed.get_by_role("button", name="已修复，结束").click()
        await proposed.get_by_role("button", name="结束片区故障").click()
        error = proposed.locator('[data-error-for="note"]')
        await expect(error).to_have_text("请填写修复情况。", timeout=WAIT_MS)  # beside its field
        note = proposed.get_by_label("修复情况")
        await expect(note).to_be_focused()
        await note.fill("换热站水泵更换完毕")
        await note.press("Control+Enter")
        await expect(proposed).to_have_count(0, timeout=WAIT_MS)
        await expect(page.locator("#incidents-done")).to_contain_text("片区故障已结束")
        await expect(panel).to_contain_text("没有进行中的片区故障。")
        closed = await lead.call("GET", f"/api/incidents/{hongcheng['id']}")
        assert closed["status"] == "closed" and closed["note"] == "换热站水泵更换完毕"
        assert tab.problems == []


async def test_a_team_lead_opens_an_incident_on_a_phone_told_what_each_field_lacks(
    tmp_path: Path, browser: Browser
) -> None:
    async with incident_hotline(tmp_path) as (hotline, lead):
        await open_dongxing(lead)
        tab = await signed_in(browser, hotline, "wang", width=PHONE[0], height=PHONE[1])
        page = tab.page
        panel = page.locator("#incidents-panel")
        await expect(panel.locator("li.incident")).to_contain_text("东兴里")
        # A team lead opens incidents; confirming and closing are the department head's.
        await expect(panel.get_by_role("button", name="已修复，结束")).to_have_count(0)

        await panel.get_by_role("button", name="登记片区故障").click()
        await expect(panel.get_by_label("区域范围")).to_be_focused()
        await panel.get_by_label("名称").fill("火星小区")
        await panel.get_by_label("故障原因").fill("主管道爆裂")
        await panel.get_by_role("button", name="登记", exact=True).click()
        area_error = panel.locator('[data-error-for="area"]')
        await expect(area_error).to_contain_text("地址簿中找不到", timeout=WAIT_MS)
        await expect(panel.get_by_label("名称")).to_be_focused()

        # 幸福里 is split between two stations: the form asks whose network failed.
        await panel.get_by_label("名称").fill("幸福里")
        await panel.get_by_role("button", name="登记", exact=True).click()
        station = panel.get_by_label("故障所属维修站")
        await expect(station).to_be_visible(timeout=WAIT_MS)
        await expect(panel.locator('[data-error-for="station"]')).to_contain_text("多个维修站")
        await expect(area_error).to_be_hidden()
        await no_sideways_scroll(page)
        await page.locator("#incidents-panel").screenshot(path=str(SCREENSHOT_FORM))
        await station.select_option("xingfu")
        await panel.get_by_role("button", name="登记", exact=True).click()
        await expect(page.locator("#incidents-done")).to_contain_text("已登记片区故障：幸福里")
        await expect(panel.locator("li.incident")).to_have_count(2, timeout=WAIT_MS)
        await expect(page.locator("#incident-open-form")).to_be_hidden()
        await expect(page.locator("#incident-open-button")).to_be_focused()
        opened = await lead.call("GET", "/api/incidents?status=open")
        assert sorted(i["station"] for i in opened) == ["dongxing", "xingfu"]
        await no_sideways_scroll(page)
        await page.screenshot(path=str(SCREENSHOT_PHONE), full_page=True)
        assert tab.problems == []


async def test_an_agent_sees_the_incidents_without_the_leads_buttons(
    tmp_path: Path, browser: Browser
) -> None:
    async with incident_hotline(tmp_path) as (hotline, lead):
        await lead.call("POST", "/api/incidents", {"area": DONGXING, "cause": "爆管"}, status=201)
        opened = await open_tab(browser, locale="zh-CN")
        page = opened.page
        await log_in(page, hotline.base_url, "李娜")
        await expect(page).to_have_url(f"{hotline.base_url}/desk")
        await page.goto(f"{hotline.base_url}/")
        panel = page.locator("#incidents-panel")
        await expect(panel.locator("li.incident")).to_contain_text("爆管", timeout=WAIT_MS)
        await expect(panel.locator("button:visible")).to_have_count(0)
        assert opened.problems == []
