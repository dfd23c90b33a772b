"""The spot-check page in a real Chromium, the two steps test_qa_desk.py leaves out: the agent
listens to her evaluated call and signs it (签字确认) from the keyboard, after which it can no
longer be disputed; and the QA lead's player skips a long silence in a real recording."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from callcenter.auth.service import create_token
from callcenter.qa import store as qa_store
from callcenter.recordings.service import Inbound
from tests.integration import test_qa_desk
from tests.integration.test_desk_page import api_json
from tests.integration.test_live_page import Hotline, log_in, open_tab
from tests.integration.test_qa_desk import drawn_sample
from tests.integration.test_station_portal import Agent, tab_to
from tests.waiting import eventually

pytestmark = pytest.mark.integration

hotline = test_qa_desk.hotline  # the desk's app: 李娜 (agent, 2001) and qa.zhou (QA lead)

# The recording for skipping: a tone, a long silence (the resident went to look at the
# radiator), a tone. The player must jump the silence and still play the second tone.
FIRST_S, SILENCE_S, SECOND_S = 2.0, 8.0, 2.0
TOTAL_S = FIRST_S + SILENCE_S + SECOND_S


async def scored(h: Hotline, sample_id: str) -> dict[str, Any]:
    """The QA lead scores the sample through the API as the desk would: the pre-fill as it
    stands, two off the opening. Returns the evaluation."""
    lead = Agent(h, await create_token(h.svc.db(), h.svc.clock, "qa.zhou"))
    sample = await lead.call("GET", f"/api/qa/samples/{sample_id}")
    prefill = {p["key"]: p["deducted"] for p in sample["prefill"]["items"]}
    scores = [
        {"key": i["key"], "deducted": 2 if i["key"] == "opening" else prefill.get(i["key"], 0)}
        for i in sample["checklist"]["items"]
    ]
    body = {"scores": scores, "comment": "没有报工号"}
    evaluation: dict[str, Any] = await lead.call(
        "POST", f"/api/qa/samples/{sample_id}/evaluation", body
    )
    return evaluation


async def test_the_agent_listens_and_signs_and_a_signed_evaluation_cannot_be_disputed(
    hotline: Hotline,
    browser: Browser,
) -> None:
    evaluation = await scored(hotline, await drawn_sample(hotline))
    url = f"/api/qa/evaluations/{evaluation['id']}"
    tab = await open_tab(browser, locale="zh-CN")
    agent = tab.page
    await log_in(agent, hotline.base_url, "李娜")
    await expect(agent).to_have_url(f"{hotline.base_url}/desk")
    await expect(agent.locator("#qa-link")).to_have_text("我的测评 / My evaluations")
    link = agent.locator("#qa-link")
    # The desk puts the focus on the form as it shows its page (after its header, recent
    # tickets, callbacks and incidents are loaded): move it only after that.
    await expect(agent.locator("main")).to_be_visible()
    await link.focus()
    await expect(link).to_be_focused()
    await agent.keyboard.press("Enter")
    await expect(agent).to_have_url(f"{hotline.base_url}/qa", timeout=15_000)
    await expect(agent.locator("#evals-title")).to_have_text("我的测评", timeout=15_000)
    # A second tab left open on the same evaluation, still offering 有异议.
    stale = await agent.context.new_page()
    await stale.goto(f"{hotline.base_url}/qa")
    await stale.locator("#evals-list .qa-open").first.click()
    await expect(stale.locator("#dispute")).to_be_visible()

    row = agent.locator("#evals-list .qa-open").first
    await expect(row).to_contain_text("待确认")
    await row.focus()
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#eval-title")).to_have_text("李娜 · 待确认")
    await expect(agent.locator("#eval-comment")).to_have_text("没有报工号")
    # She listens: Tab to the player, Space plays the call she is signing for.
    await expect(agent.locator("#eval-audio")).to_have_attribute("src", evaluation["audio_url"])
    await tab_to(agent, "#eval-audio")
    await agent.keyboard.press("Space")
    await eventually(lambda: played(agent, "#eval-audio", 0.5), within=8)
    await agent.keyboard.press("Space")
    await tab_to(agent, "#acknowledge", 80)  # past the player and every item, read-only
    await expect(agent.locator("#acknowledge")).to_have_text("签字确认")
    await agent.keyboard.press("Enter")

    await expect(agent.locator("#eval-status")).to_have_text("已完成。")
    await expect(agent.locator("#eval-title")).to_have_text("李娜 · 已签字")
    await expect(agent.locator("#evals-list .qa-open").first).to_contain_text("已签字")
    history = agent.locator("#eval-history li")
    await expect(history).to_have_count(2)
    await expect(history.nth(1)).to_contain_text("签字确认 · 李娜")
    # Signed is final: nothing left to dispute with, after a reload too.
    await expect(agent.locator("#dispute")).to_be_hidden()
    await expect(agent.locator("#acknowledge")).to_be_hidden()
    await agent.reload()
    await agent.locator("#evals-list .qa-open").first.focus()
    await agent.keyboard.press("Enter")
    await expect(agent.locator("#eval-title")).to_have_text("李娜 · 已签字")
    await expect(agent.locator("#dispute")).to_be_hidden()
    answer = await api_json(agent, url)
    assert answer["status"] == 200
    signed = answer["body"]
    assert signed["status"] == "acknowledged" and signed["signed_at"]
    assert [(h["action"], h["by"]) for h in signed["history"]] == [
        ("scored", "qa.zhou"),
        ("acknowledged", "李娜"),
    ]

    # The tab left open still shows the form; disputing there is refused and changes nothing.
    await stale.locator("#dispute-comment").fill("我报了工号")
    await stale.locator("#dispute").click()
    await expect(stale.locator("#eval-status")).to_have_text(re.compile("acknowledged|已签字"))
    again = (await api_json(agent, url))["body"]
    assert again["status"] == "acknowledged" and len(again["history"]) == 2
    assert tab.problems == []


async def played(page: Page, selector: str, seconds: float) -> bool:
    at = await page.evaluate("(s) => document.querySelector(s).currentTime", selector)
    return bool(at >= seconds)


def tone_silence_tone(folder: Path) -> Path:
    """2 s of 440 Hz, 8 s of digital silence, 2 s of 660 Hz: WAV PCM 8 kHz as a PBX writes."""
    first, gap, second, out = (folder / n for n in ("a.wav", "gap.wav", "b.wav", "pause.wav"))
    fmt = ("-r", "8000", "-c", "1", "-b", "16")
    for path, args in (
        (first, ("synth", str(FIRST_S), "sine", "440", "vol", "0.5")),
        (gap, ("trim", "0", str(SILENCE_S))),
        (second, ("synth", str(SECOND_S), "sine", "660", "vol", "0.5")),
    ):
        subprocess.run(["sox", "-n", *fmt, str(path), *args], check=True, timeout=60)
    subprocess.run(["sox", str(first), str(gap), str(second), str(out)], check=True, timeout=60)
    return out


async def with_recording(h: Hotline, sample_id: str, path: Path) -> None:
    """The sample's call was recorded as `path` (the drawn one plays a real call leg)."""
    stored = await h.svc.recording_service().add_file(path, Inbound("cli", "t", path.name))
    s = qa_store.qa_samples
    async with h.svc.db().begin() as conn:
        await conn.execute(
            update(s).where(s.c.id == sample_id).values(recording_id=stored.recording.id)
        )


async def test_skip_silence_jumps_the_long_pause_and_still_plays_what_follows(
    hotline: Hotline,
    browser: Browser,
    tmp_path: Path,
) -> None:
    await with_recording(hotline, await drawn_sample(hotline), tone_silence_tone(tmp_path))
    tab = await open_tab(browser)
    lead = tab.page
    await log_in(lead, hotline.base_url, "qa.zhou")
    await expect(lead).to_have_url(f"{hotline.base_url}/")
    await lead.goto(f"{hotline.base_url}/qa")
    await expect(lead.locator("#items .qa-item").first).to_be_focused()
    await eventually(lambda: duration(lead), within=8)
    assert abs(await duration(lead) - TOTAL_S) < 0.2, "the page plays another recording"
    await lead.keyboard.press("s")
    await expect(lead.locator("#skip")).to_have_attribute("aria-pressed", "true")
    await lead.keyboard.press("Space")  # a key press: the gesture that lets the page play

    trace: list[tuple[float, float]] = []  # (wall clock, the player's currentTime)

    async def to_the_end() -> bool:
        at, ended = await lead.evaluate(NOW)
        trace.append((time.monotonic(), float(at)))
        return bool(ended)

    await eventually(to_the_end, within=TOTAL_S + 5)
    shown = " ".join(f"{at:.2f}" for _, at in trace)
    silence = reached(trace, FIRST_S + SILENCE_S) - reached(trace, FIRST_S)
    assert silence < SILENCE_S / 2, f"{SILENCE_S} s of silence took {silence:.1f} s: {shown}"
    # What the lead heard, from the player's own record: both sounds whole, little silence.
    played = [(a, b) for a, b in await lead.evaluate(PLAYED)]
    first, second = (0.0, FIRST_S), (FIRST_S + SILENCE_S, TOTAL_S)
    assert heard(played, *first) > FIRST_S - 0.05, f"first sound cut: {played} {shown}"
    assert heard(played, *second) > SECOND_S - 0.05, f"second sound cut: {played} {shown}"
    assert heard(played, *(first[1], second[0])) < SILENCE_S / 2, f"{played} {shown}"
    assert tab.problems == []


NOW = """() => { const a = document.getElementById("audio"); return [a.currentTime, a.ended]; }"""
PLAYED = """() => { const p = document.getElementById("audio").played;
  return Array.from({length: p.length}, (_, i) => [p.start(i), p.end(i)]); }"""


def reached(trace: list[tuple[float, float]], at: float) -> float:
    """When the player first stood at `at` seconds or later (wall clock)."""
    return next(wall for wall, t in trace if t >= at)


def heard(played: list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end] the player played."""
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in played)


async def duration(page: Page) -> float:
    """The player's duration once known, else 0."""
    d = await page.evaluate(
        "() => { const a = document.getElementById('audio');"
        " return Number.isFinite(a.duration) ? a.duration : 0; }"
    )
    return float(d)
