"""The spot-check page in a real Chromium against the real app: a QA lead scores a sample from
the keyboard alone (the wrong station pre-filled with its evidence, one item changed with a
comment, 闪光点, Ctrl+Enter) and the API holds those scores; the agent opens 我的测评 from the
desk on a 360 px phone and disputes with the keyboard; the QA lead revises it; the agent
sees the history. Both languages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, expect

from callcenter.app import SERVICES, build
from callcenter.auth import store as auth_store
from callcenter.auth.service import add_user, create_token
from callcenter.config import parse_settings
from callcenter.qa import store as qa_store
from callcenter.qa.model import Sample
from callcenter.recordings.service import Inbound
from tests.audio import audio
from tests.integration.test_desk_page import PHONE, api_json, no_sideways_scroll
from tests.integration.test_live_page import PASSWORD, RINGS, Hotline, log_in, open_tab
from tests.integration.test_station_portal import Agent, tab_to

pytestmark = pytest.mark.integration

TICKET = {
    "kind": "repair",
    "reporter_name": "张秀英",
    "phone": "13800000001",
    "address": "大龙市幸福里小区三栋二单元502",  # → xingfu in the sample address book
    "category": "not_hot",
    "description": "整屋不热",
    "station": "dongxing",  # the wrong station: the desk pre-fills its deduction
}


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3"},
            "mqtt": {"url": ""},
            "sip": {"hep_listen": "127.0.0.1:0"},
            "rings": RINGS,
            "web": {"listen": "127.0.0.1:0"},
            "recordings": {"root": str(tmp_path / "recordings")},
        }
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    h = Hotline(f"http://{host}:{port}", app[SERVICES])
    db, clock = h.svc.db(), h.svc.clock
    await add_user(db, clock, "李娜", "agent", PASSWORD, "2001", work_number="027")
    await add_user(db, clock, "qa.zhou", "qa_lead", PASSWORD, language="en")
    await h.svc.directory.reload(db)
    try:
        yield h
    finally:
        await runner.cleanup()


async def user_id(h: Hotline, name: str) -> int:
    async with h.svc.db().connect() as conn:
        user = await auth_store.user_by_name(conn, name)
    assert user is not None
    return user.id


async def drawn_sample(h: Hotline) -> str:
    """李娜 answers a recorded call and types a ticket with the wrong station; the QA lead's
    sample of it, written as the drawing service would."""
    call_id = h.offer("2001", "13800000001")
    h.answer(call_id, "2001")
    h.hang_up(call_id)
    await h.svc.calls().settled()
    calls = await api_json_as(h, "GET", "/api/calls?limit=1")
    our_call = calls[0]["id"]
    path = audio().alaw[0]
    rec = await h.svc.recording_service().add_file(path, Inbound("cli", "t", path.name, our_call))
    await api_json_as(h, "POST", "/api/tickets", {**TICKET, "call": our_call})
    sample = Sample(
        id=uuid.uuid4().hex,
        reviewer_id=await user_id(h, "qa.zhou"),
        scope="weekly",
        period="2026-W49",
        seed="test",
        recording_id=rec.recording.id,
        call_id=our_call,
        agent_id=await user_id(h, "李娜"),
        ticket_id=None,
        sheet="intake",
        weight=1.0,
        drawn_at=h.svc.clock.now(),
    )
    async with h.svc.db().begin() as conn:
        await conn.execute(qa_store.qa_samples.insert(), [qa_store.sample_row(sample)])
    return sample.id


async def api_json_as(h: Hotline, method: str, path: str, body: Any = None) -> Any:
    agent = Agent(h, await create_token(h.svc.db(), h.svc.clock, "李娜"))
    return await agent.call(method, path, body)


async def item(page: Page, key: str) -> Any:
    return page.locator(f"#items .qa-item[data-key={key}]")


async def test_a_qa_lead_scores_from_the_keyboard_and_revises_the_agents_dispute(
    hotline: Hotline, browser: Browser
) -> None:
    await drawn_sample(hotline)
    lead_tab = await open_tab(browser, locale="en-US", width=PHONE[0], height=PHONE[1])
    lead = lead_tab.page
    await log_in(lead, hotline.base_url, "qa.zhou")
    await expect(lead).to_have_url(f"{hotline.base_url}/")
    await expect(lead.locator("#qa-link")).to_be_visible()
    await lead.locator("#qa-link").focus()
    await expect(lead.locator("#qa-link")).to_be_focused()
    await lead.keyboard.press("Enter")
    await expect(lead).to_have_url(f"{hotline.base_url}/qa")
    await expect(lead.locator("#queue-list .qa-open")).to_have_count(1)
    await expect(lead.locator(".qa-keys summary")).to_have_text("Keys / 快捷键")
    # The wrong station is pre-filled in full, with what the service saw.
    station = await item(lead, "station")
    await expect(station.locator(".qa-evidence")).to_contain_text("dongxing")
    await expect(station.locator(".qa-deducted")).to_have_value("5")
    await expect(await item(lead, "opening")).to_be_focused()
    await no_sideways_scroll(lead)
    # The opening item: 2 off, with a comment; then 闪光点, the overall comment, save.
    await lead.keyboard.press("Space")  # play, pause: the player answers the keys
    await lead.keyboard.press("Space")
    await lead.keyboard.press("2")
    await lead.keyboard.press("c")
    await lead.keyboard.type("没有报工号")
    await lead.keyboard.press("Escape")
    await expect(await item(lead, "opening")).to_be_focused()
    await lead.keyboard.press("j")
    await expect(await item(lead, "content")).to_be_focused()
    await lead.keyboard.press("g")
    await expect(lead.locator("#good")).to_be_checked()
    # An invalid promise heard (无效承诺): no item scores it, a key marks it; twice undoes.
    promise = lead.locator('#findings input[value="invalid_promise"]')
    for _ in range(3):
        await lead.keyboard.press("p")
    await expect(promise).to_be_checked()
    await expect(lead.locator('#findings input[value="bad_attitude"]')).not_to_be_checked()
    await lead.keyboard.press("o")
    await lead.keyboard.type("耐心")
    await expect(lead.locator("#total")).to_contain_text("−7")
    await lead.keyboard.press("Control+Enter")
    await expect(lead.locator("#save-status")).to_have_text("Saved. No sample left.")
    [evaluation] = (await api_json(lead, "/api/qa/evaluations"))["body"]
    scores = {s["key"]: s for s in evaluation["scores"]}
    assert scores["opening"]["deducted"] == 2 and scores["opening"]["comment"] == "没有报工号"
    assert scores["station"]["deducted"] == 5 and scores["station"]["prefilled"]
    assert evaluation["good_example"] is True and evaluation["comment"] == "耐心"
    assert evaluation["findings"] == ["invalid_promise"]
    assert evaluation["deducted"] == 7

    # The agent, on a phone in Chinese: 我的测评 from the desk, disputes with the keyboard.
    agent_tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    agent = agent_tab.page
    await log_in(agent, hotline.base_url, "李娜")
    await expect(agent).to_have_url(f"{hotline.base_url}/desk")
    await expect(agent.locator("#qa-link")).to_have_text("我的测评 / My evaluations")
    link = agent.locator("#qa-link")
    await link.focus()
    # The desk may still be drawing its header: Enter only once the link holds the focus.
    await expect(link).to_be_focused()
    await agent.keyboard.press("Enter")
    await expect(agent).to_have_url(f"{hotline.base_url}/qa", timeout=15_000)
    await expect(agent.locator("#evals-title")).to_have_text("我的测评", timeout=15_000)
    await expect(agent.locator("#queue")).to_be_hidden()
    await agent.locator("#evals-list .qa-open").first.focus()
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#eval-title")).to_contain_text("待确认")
    await expect(agent.locator("#acknowledge")).to_have_text("签字确认")
    await tab_to(agent, "#dispute-comment", 80)
    await agent.keyboard.type("我报了工号,在第3秒")
    await tab_to(agent, "#dispute")
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#eval-title")).to_contain_text("有异议")
    await no_sideways_scroll(agent)

    # The QA lead sees the dispute first and revises: the opening was right after all.
    await lead.reload()
    await expect(lead.locator("#evals-list .qa-open").first).to_contain_text("disputed")
    await lead.locator("#evals-list .qa-open").first.focus()
    await lead.keyboard.press("Enter")
    await expect(lead.locator("#resolve-form")).to_be_visible()
    await lead.locator("#eval-items .qa-item[data-key=opening] .qa-deducted").fill("0")
    await lead.locator("input[name=decision][value=revise]").focus()
    await lead.keyboard.press("Space")
    await lead.locator("#resolve-comment").fill("听了录音,报了工号")
    await lead.locator("#resolve-comment").press("Tab")
    await lead.keyboard.press("Enter")
    await expect(lead.locator("#eval-title")).to_contain_text("revised")
    [revised] = (await api_json(lead, "/api/qa/evaluations"))["body"]
    assert revised["status"] == "revised" and revised["deducted"] == 5

    # The agent sees every step.
    await agent.reload()
    await agent.locator("#evals-list .qa-open").first.focus()
    await agent.keyboard.press("Enter")
    history = agent.locator("#eval-history li")
    await expect(history).to_have_count(3)
    await expect(history.nth(1)).to_contain_text("我报了工号")
    await expect(history.nth(2)).to_contain_text("改判")
    await no_sideways_scroll(agent)
    assert lead_tab.problems == [] and agent_tab.problems == []
