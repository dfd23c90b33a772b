"""Transcripts on the pages (issue 16) in a real Chromium against the real app: on the desk's
ticket view, beneath the recording's player, the agent reads what was said, the items not
heard first; a character plays from where it was said, by click or by keyboard, and the
phrase found has a mark on the timeline that seeks; a recording in another language says so.
On the QA page a supervisor finds the recording by a word, opens it and hears the word.

The transcript is written to the database as the transcription queue would (speech is off:
these tests are about the pages, the engine's own tests run the model)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from callcenter.auth.service import add_user
from callcenter.recordings.service import Inbound
from callcenter.speech import store as speech_store
from callcenter.speech.model import Char, Transcript
from tests.integration.serving import served
from tests.integration.test_desk_page import PHONE, no_sideways_scroll
from tests.integration.test_live_page import PASSWORD, WAIT_MS, Hotline, log_in, open_tab
from tests.integration.test_station_portal import agent_of
from tests.speech_helpers import tone

pytestmark = pytest.mark.integration

SCREENSHOT_DESK = Path("/tmp/desk_transcript_zh.png")
SCREENSHOT_QA = Path("/tmp/qa_said_en.png")
# What the agent said, a character (or a digit run: 027) every quarter second from 0.5 s.
SAID = ["您", "好", "大", "龙", "供", "暖", "报", "修", "027", "号", "为", "您", "服", "务",
        "请", "问", "您", "家", "暖", "气", "漏", "水", "了", "吗"]  # fmt: skip
LEAK_AT = SAID.index("漏")
OPENING_END = SAID.index("务")
TICKET = {"kind": "repair", "category": "leak", "phone": "13800138000",
          "address": "宏城花园3号楼2单元301", "reporter_name": "王先生"}  # fmt: skip


def start_of(i: int) -> float:
    return 0.5 + i * 0.25


def transcript() -> Transcript:
    chars = tuple(Char(c, start_of(i), start_of(i) + 0.2) for i, c in enumerate(SAID))
    return Transcript(
        text="".join(SAID),
        chars=chars,
        language="zh",
        language_probability=0.98,
        duration=8.0,
        model="whisper-base int8 (test)",
        model_sha256="5" * 64,
    )


# The evidence phrase spotting writes: the opening heard, the address listened for in vain.
FINDINGS = {
    "sheet": "intake",
    "items": [
        {"key": "opening", "zh": "用语第一句", "en": "Opening sentence", "points": 5,
         "found": {"phrase": "您好大龙供暖报修{工号}号为您服务", "heard": "".join(SAID[:14]),
                   "start": start_of(0), "end": start_of(OPENING_END) + 0.2, "confidence": 0.93,
                   "how": "exact", "clauses": 2, "missing": []}},
        {"key": "address", "zh": "复述地址", "en": "Address read back", "points": 10,
         "found": None},
    ],
}  # fmt: skip


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    async with served(
        tmp_path,
        speech={"enabled": "off"},
    ) as h:
        db, clock = h.svc.db(), h.svc.clock
        await add_user(db, clock, "李娜", "agent", PASSWORD, "8001", work_number="027")
        await add_user(db, clock, "zhao", "supervisor", PASSWORD, language="en")
        await h.svc.directory.reload(db)
        yield h


async def recorded_ticket(h: Hotline, tmp_path: Path) -> tuple[str, str, str]:
    """李娜 answers a call and takes its ticket; two recordings of it come in: one heard in
    Mandarin (its transcript and findings stored), one skipped as not Mandarin (Cantonese).
    Returns the ticket's id and the two recordings' ids."""
    call = h.offer("8001", "13800138000")
    h.answer(call, "8001")
    await h.svc.calls().settled()
    agent = await agent_of(h)
    ticket = await agent.call("POST", "/api/tickets", TICKET)
    h.hang_up(call)
    await h.svc.calls().settled()
    ids = []
    recordings = h.svc.recording_service()
    for hz in (440, 660):
        path, _ = tone(tmp_path, hz, seconds=8.0)
        stored = await recordings.add_file(path, Inbound("cli", "t", path.name, call))
        ids.append(stored.recording.id)
    heard, other = ids
    now = h.svc.clock.now()
    async with h.svc.db().begin() as conn:
        await speech_store.put_transcript(conn, heard, transcript(), now)
        await conn.execute(
            update(speech_store.transcripts)
            .where(speech_store.transcripts.c.recording_id == heard)
            .values(findings=json.dumps(FINDINGS, ensure_ascii=False))
        )
        await speech_store.enqueue(conn, [other], now, skipped="not-mandarin: heard yue (p=0.91)")
        await conn.execute(
            update(speech_store.jobs)
            .where(speech_store.jobs.c.recording_id == other)
            .values(language="yue")
        )
    return str(ticket["id"]), heard, other


async def player_time(page: Page, selector: str) -> float:
    seconds: float = await page.locator(selector).evaluate("a => a.currentTime")
    return seconds


async def test_the_ticket_view_shows_the_transcript_and_each_word_and_mark_seeks(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    ticket_id, heard, other = await recorded_ticket(hotline, tmp_path)
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page).to_have_url(f"{hotline.base_url}/desk")
    await page.locator(f'#recent-list button[data-id="{ticket_id}"]').click()
    item = page.locator(f'#saved-recordings li[data-id="{heard}"]')
    view = item.locator(".transcript")
    await expect(view.locator(".tx-text")).to_have_text("".join(SAID), timeout=WAIT_MS)
    # What was not heard comes first: what to listen for.
    await expect(view.locator(".tx-missed-title")).to_have_text("未听到(请重点听):")
    await expect(view.locator(".tx-missed-item")).to_contain_text("复述地址")
    order = await view.evaluate(
        "v => [...v.querySelectorAll('.tx-missed, .tx-heard')].map(e => e.className)"
    )
    assert order == ["tx-missed", "tx-heard"]
    heard_item = view.locator(".tx-heard-item[data-key=opening]")
    await expect(heard_item).to_contain_text("用语第一句")
    await expect(heard_item).to_contain_text("置信度 93%")
    await expect(heard_item).to_contain_text("逐字相符")
    # The opening is marked in the text, named by its item.
    found = view.locator("mark.tx-found")
    await expect(found).to_have_attribute("title", "用语第一句")
    await expect(found).to_have_text("".join(SAID[: OPENING_END + 1]))
    await no_sideways_scroll(page)
    await page.screenshot(path=str(SCREENSHOT_DESK), full_page=True)

    audio = f'#saved-recordings li[data-id="{heard}"] audio'
    # A click on 漏 plays from where it was said; the character being said lights up.
    await view.locator(".tx-char").nth(LEAK_AT).click()
    assert await player_time(page, audio) >= start_of(LEAK_AT) - 0.01
    await expect(view.locator(".tx-now")).to_have_count(1)
    now_at = int(await view.locator(".tx-now").get_attribute("data-i") or -1)
    assert now_at >= LEAK_AT
    await page.locator(audio).evaluate("a => a.pause()")

    # The timeline's mark for the opening, from the keyboard: focus, Enter, the player seeks.
    mark = view.locator(".tx-mark[data-key=opening]")
    await expect(mark).to_have_attribute("aria-label", "用语第一句,0:00")
    await page.locator(audio).evaluate("a => { a.currentTime = 6; }")
    await mark.focus()
    await page.keyboard.press("Enter")
    assert await player_time(page, audio) < 2  # back at the opening, at 0.5 s
    await page.locator(audio).evaluate("a => a.pause()")

    # The text from the keyboard: End chooses the last character, Enter plays from it.
    await view.locator(".tx-text").focus()
    await page.keyboard.press("End")
    await expect(view.locator(".tx-cursor")).to_have_text(SAID[-1])
    await page.keyboard.press("Enter")
    assert await player_time(page, audio) >= start_of(len(SAID) - 1) - 0.01

    # The other recording was Cantonese: no transcript, and why.
    none = page.locator(f'#saved-recordings li[data-id="{other}"] .tx-none')
    await expect(none).to_contain_text("无转写:非普通话")
    await expect(none).to_contain_text("粤语")
    assert tab.problems == []


async def test_a_supervisor_finds_a_recording_by_a_word_and_hears_it(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    _ticket, heard, _other = await recorded_ticket(hotline, tmp_path)
    tab = await open_tab(browser, locale="en-US")
    page = tab.page
    await log_in(page, hotline.base_url, "zhao")
    await expect(page).to_have_url(f"{hotline.base_url}/")
    await page.locator("#qa-link").click()
    await expect(page.locator("#said-title")).to_have_text("Search what was said / 按内容搜索录音")
    await page.locator("#said-words").fill("漏水")
    await page.keyboard.press("Enter")
    result = page.locator("#said-list li")
    await expect(result).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#said-status")).to_contain_text("was said: 1, newest first")
    await expect(result).to_contain_text("李娜 (027)")
    await expect(result).to_contain_text("said at 0:05")
    await expect(result.locator(".qa-said-snippet mark")).to_have_text("漏水")
    opener = result.locator(".qa-said-open")
    await opener.focus()
    await page.keyboard.press("Enter")
    await expect(opener).to_have_attribute("aria-expanded", "true")
    view = result.locator(".transcript")
    await expect(view.locator("mark.tx-hit")).to_have_text("漏水", timeout=WAIT_MS)
    # The player waits just before the words; their mark on the timeline plays them.
    audio = f'#said-list li[data-id="{heard}"] audio'
    hit = view.locator(".tx-mark-hit")
    await expect(hit).to_have_attribute("aria-label", "“漏水” at 0:05")
    await hit.click()
    assert await player_time(page, audio) >= start_of(LEAK_AT) - 0.01
    await expect(view.locator(".tx-now")).to_have_count(1)
    await page.screenshot(path=str(SCREENSHOT_QA), full_page=True)

    # A word nobody said finds nothing, and says so.
    await page.locator("#said-words").fill("不热")
    await page.locator("#said-search").click()
    await expect(page.locator("#said-status")).to_have_text("No transcript holds “不热”.")
    await expect(result).to_have_count(0)
    assert tab.problems == []


async def test_the_search_is_not_offered_to_an_agent(hotline: Hotline, browser: Browser) -> None:
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "李娜")
    await expect(page).to_have_url(f"{hotline.base_url}/desk")
    await page.goto(f"{hotline.base_url}/qa")
    await expect(page.locator("#evals-title")).to_have_text("我的测评")
    await expect(page.locator("#said")).to_be_hidden()
    assert tab.problems == []
