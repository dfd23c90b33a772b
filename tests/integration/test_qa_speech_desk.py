"""The scoring desk with the transcript, on the real model (callcenter[speech]) in a real
Chromium: a call spliced from the corpus's real Mandarin clips is recorded, the service's
worker transcribes it and finds the sheet's phrases; the QA lead sees the transcript beside
the player, the item not heard focused first and marked, a heard one played from its mark,
confirms the suggestions from the keyboard and saves; the evaluation keeps the evidence.

The intake sheet is the shipped one with the clips' words as its opening and closing
phrases: Whisper base hears read speech, and the corpus has no recorded call
that follows our script."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from callcenter.auth.service import add_user
from callcenter.qa import store as qa_store
from callcenter.qa.model import Sample
from callcenter.recordings.service import Inbound
from callcenter.speech import store as speech_store
from tests.audio import CORPUS
from tests.integration.serving import served
from tests.integration.test_desk_page import PHONE, api_json, no_sideways_scroll
from tests.integration.test_live_page import PASSWORD, Hotline, log_in, open_tab
from tests.integration.test_qa_desk import TICKET, api_json_as, user_id
from tests.waiting import eventually

pytestmark = pytest.mark.integration

# The clips and where they are put: 1.5 s of silence, 0122, 2 s, 0121, 1 s (8 kHz µ-law).
CONFIG_QA = Path(__file__).resolve().parents[2] / "config" / "qa"
# The intake sheet as shipped, its opening and closing phrases the clips' words.
PHRASES = {
    "您好，大龙供暖报修{工号}为您服务，请问您有什么问题": "一二线城市虽然也处于调整中",
    "好！维修人员会尽快跟您联系。感谢您的来电。再见！": "甚至出现交易几乎停滞的情况",
}
FIRST_AT = 1.5
SECOND_AT = FIRST_AT + 4.115 + 2.0  # BAC009S0764W0122 lasts 4.115 s


def spliced_call(folder: Path) -> Path:
    parts = []
    for i, seconds in enumerate((FIRST_AT, 2.0, 1.0)):
        parts.append(folder / f"silence{i}.wav")
        subprocess.run(
            ["sox", "-R", "-n", "-r", "16000", "-b", "16", "-c", "1", str(parts[-1]),
             "trim", "0", str(seconds)],
            check=True, capture_output=True,
        )  # fmt: skip
    a, b = CORPUS / "BAC009S0764W0122.wav", CORPUS / "BAC009S0764W0121.wav"
    call = folder / "call-8k.wav"
    subprocess.run(
        ["sox", "-R", str(parts[0]), str(a), str(parts[1]), str(b), str(parts[2]),
         "-r", "8000", "-e", "u-law", str(call)],
        check=True, capture_output=True,
    )  # fmt: skip
    return call


@pytest.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[Hotline]:
    sheets = tmp_path / "qa"
    sheets.mkdir()
    intake = (CONFIG_QA / "intake.toml").read_text(encoding="utf-8")
    for said, clip in PHRASES.items():
        assert said in intake
        intake = intake.replace(said, clip)
    (sheets / "intake.toml").write_text(intake, encoding="utf-8")
    callback = (CONFIG_QA / "callback.toml").read_text(encoding="utf-8")
    (sheets / "callback.toml").write_text(callback, encoding="utf-8")
    async with served(
        tmp_path,
        qa={"checklists_dir": str(sheets)},
        # The real engine: start-up fails if the extra is missing, never a silent skip.
        speech={"enabled": True},
    ) as h:
        db, clock = h.svc.db(), h.svc.clock
        await add_user(db, clock, "李娜", "agent", PASSWORD, "2001", work_number="027")
        await add_user(db, clock, "qa.zhou", "qa_lead", PASSWORD, language="en")
        await h.svc.directory.reload(db)
        yield h


async def transcribed_sample(h: Hotline, folder: Path) -> tuple[str, str]:
    """李娜 answers, types the ticket; the call's recording arrives and is transcribed by
    the real model; the QA lead's sample of it. Returns (sample id, recording id)."""
    call_id = h.offer("2001", "13800000001")
    h.answer(call_id, "2001")
    h.hang_up(call_id)
    await h.svc.calls().settled()
    our_call = (await api_json_as(h, "GET", "/api/calls?limit=1"))[0]["id"]
    await api_json_as(h, "POST", "/api/tickets", {**TICKET, "call": our_call})
    path = spliced_call(folder)
    rec = await h.svc.recording_service().add_file(path, Inbound("cli", "t", path.name, our_call))
    rid = rec.recording.id

    async def done() -> speech_store.Job | None:
        async with h.svc.db().connect() as conn:
            job = await speech_store.job(conn, rid)
        return job if job is not None and job.state not in ("queued", "running") else None

    job = await eventually(done, within=180)  # the worker loads the model first
    assert (job.state, job.language) == ("done", "zh"), job
    sample = Sample(
        id=uuid.uuid4().hex,
        reviewer_id=await user_id(h, "qa.zhou"),
        scope="daily",
        period="2026-12-04",
        seed="test",
        recording_id=rid,
        call_id=our_call,
        agent_id=await user_id(h, "李娜"),
        ticket_id=None,
        sheet="intake",
        weight=1.0,
        drawn_at=h.svc.clock.now(),
    )
    async with h.svc.db().begin() as conn:
        await conn.execute(qa_store.qa_samples.insert(), [qa_store.sample_row(sample)])
    return sample.id, rid


async def test_the_desk_shows_where_the_script_was_heard_and_the_lead_confirms_it(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    sample_id, rid = await transcribed_sample(hotline, tmp_path)
    tab = await open_tab(browser, locale="en-US", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "qa.zhou")
    await expect(page).to_have_url(f"{hotline.base_url}/")
    await page.goto(f"{hotline.base_url}/qa")
    await expect(page.locator("#queue-list .qa-open")).to_have_count(1)
    sample = await api_json(page, f"/api/qa/samples/{sample_id}")
    heard = {i["key"]: i for i in sample["body"]["prefill"]["speech"]["items"]}
    # Each phrase where its clip was put (the clip's first word is a few tenths in). The
    # model started 甚, the first word after the pause, at the end of the sentence before
    # (5.1 s): speech/edges.py puts it back on its sound.
    assert FIRST_AT - 0.3 <= heard["opening"]["found"]["start"] <= FIRST_AT + 0.8
    assert SECOND_AT - 0.3 <= heard["closing"]["found"]["start"] <= SECOND_AT + 0.8
    assert heard["ask_phone"]["found"] is None and heard["ask_phone"]["suggested"] == 1
    assert heard["opening"]["suggested"] == 0 and heard["closing"]["suggested"] == 0
    # Nothing of the rest was said (the read-backs of the ticket neither).
    unheard = [k for k, i in heard.items() if i["found"] is None]
    assert unheard == ["ask_name", "ask_phone", "read_back_address", "read_back_name",
                       "read_back_phone"]  # fmt: skip

    # The transcript beside the player; the first item not heard is focused and marked.
    transcript = page.locator("#sample-transcript")
    await expect(transcript).to_be_visible()
    await expect(transcript).to_contain_text("交易几乎", timeout=15_000)
    ask_name = page.locator("#items .qa-item[data-key=ask_name]")
    await expect(ask_name).to_be_focused()
    await expect(ask_name.locator(".qa-unheard")).to_be_visible()
    ask_phone = page.locator("#items .qa-item[data-key=ask_phone]")
    await expect(ask_phone.locator(".qa-deducted")).to_have_value("1")

    # A heard item plays from its mark.
    closing = page.locator("#items .qa-item[data-key=closing]")
    await expect(closing.locator(".qa-heard q")).to_contain_text("交易")
    await closing.locator(".qa-seek").click()
    start = heard["closing"]["found"]["start"]
    at = await page.evaluate("document.getElementById('audio').currentTime")
    assert start - 0.05 <= at <= start + 1.5  # it plays on from the mark

    # Saving with the suggestions unconfirmed is refused, naming them.
    await ask_phone.focus()
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#save-status")).to_contain_text("confirm or override")
    # Y on each item confirms its suggestion (the unheard ones deducted in full).
    for key in heard:
        row = page.locator(f"#items .qa-item[data-key={key}]")
        await row.focus()
        await page.keyboard.press("y")
        await expect(row.locator(".qa-confirm input")).to_be_checked()
    await no_sideways_scroll(page)
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#save-status")).to_have_text("Saved. No sample left.")
    [evaluation] = (await api_json(page, "/api/qa/evaluations"))["body"]
    scores = {s["key"]: s for s in evaluation["scores"]}
    assert scores["ask_phone"]["deducted"] == 1 and scores["ask_phone"]["confirmed"]
    assert scores["ask_phone"]["evidence"] == "speech: not heard in the transcript"
    assert scores["closing"]["evidence"].startswith("speech: heard")
    ticket = sum(p["deducted"] for p in sample["body"]["prefill"]["items"])
    assert evaluation["deducted"] == ticket + sum(i["suggested"] for i in heard.values())
    assert rid == evaluation["recording_id"]
