"""Where the script was heard, on SQLite and PostgreSQL: the first pass stored with each
transcript (the call's own ticket read back), and the scoring desk's evidence — suggestions
the reviewer must confirm or override before an evaluation is accepted, kept beside the
score; only scored evaluations reach the monthly assessment.

The worker runs tests/speech_helpers.scripted (a transcript a character every quarter
second from 0.5 s): what is tested is what the service does with what was heard; the real
model's placing of phrases is tests/speech's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callcenter.speech.findings import DONE_AT
from tests.api.test_qa_evaluations_api import INTAKE, TICKET, sample_of, send
from tests.api.test_recordings_api import answered_call
from tests.api.test_speech_queue import Make, add, settled
from tests.conftest import Hotline
from tests.speech_helpers import tone

OPENING = "您好大龙供暖报修为您服务请问您有什么问题"
# The agent opens by the script, asks the name, hears the number and reads it back, and
# hangs up without the closing; the phone question is never asked.
CALL = OPENING + "我家暖气不热请问您怎么称呼我姓张一三八零零零零零零零一好的一三八零零零零零零零一"


def second_of(text: str, part: str, nth: int = 0) -> float:
    """Where scripted() puts `part` (its nth occurrence)."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(part, at + 1)
    return 0.5 + at * 0.25


async def heard_call(h: Hotline, tmp_path: Path, hz: int, text: str = CALL) -> dict[str, Any]:
    """li.na (2001) answers, types the ticket, and the call's recording is transcribed."""
    li = await h.token("li.na", "agent", "2001")
    call_id = await answered_call(h, f"sip-ev-{hz}", "2001")
    response = await h.client.post("/api/tickets", json={**TICKET, "call": call_id}, headers=li)
    assert response.status == 201, await response.text()
    path, _ = tone(tmp_path, hz)
    rec = await add(h, path, call_id)
    job = await settled(h, rec.id)
    assert job.state == "done"
    return {"id": rec.id, "call_id": call_id}


async def scripted_hotline(speech_hotline: Make, tmp_path: Path, text: str, hz: int) -> Hotline:
    _, sha = tone(tmp_path, hz)
    h: Hotline = await speech_hotline({sha: ("text", text)})
    return h


async def test_each_transcript_is_stored_with_where_the_script_was_heard(
    speech_hotline: Make, tmp_path: Path
) -> None:
    h = await scripted_hotline(speech_hotline, tmp_path, CALL, 1300)
    rec = await heard_call(h, tmp_path, 1300)
    lead = await h.token("lead", "team_lead")
    body = await send(h, "GET", f"/api/recordings/{rec['id']}/transcript", lead, 200)
    findings = body["findings"]
    assert findings["sheet"] == "intake" and findings["checklist_version"] == INTAKE.version
    items = {i["key"]: i for i in findings["items"]}
    # The items the script has words for, and the read-backs of what the ticket holds.
    assert set(items) == {
        "opening", "ask_name", "ask_phone", "closing",
        "read_back_address", "read_back_name", "read_back_phone",
    }  # fmt: skip
    opening = items["opening"]["found"]
    assert opening["start"] == second_of(CALL, "您好") and opening["how"] == "exact"
    assert items["opening"]["suggested"] == 0
    assert items["ask_name"]["found"]["heard"] == "请问您怎么称呼"
    assert items["ask_phone"]["found"] is None and items["ask_phone"]["suggested"] == 1
    assert items["closing"]["found"] is None and items["closing"]["suggested"] == 4
    phone = items["read_back_phone"]["found"]
    # Said twice: the resident's telling first, the agent's read-back is the later one.
    assert phone["start"] == second_of(CALL, "一三八", 1) and phone["how"] == "readback"
    assert phone["heard"] == "一三八****零零零一" or "1380" not in phone["heard"]
    assert "13800000001" not in str(findings)  # stored masked: every listener reads it


async def test_a_transcript_in_another_language_is_stored_without_findings(
    speech_hotline: Make, tmp_path: Path
) -> None:
    _, sha = tone(tmp_path, 1310)
    h: Hotline = await speech_hotline({sha: ("skip", "not-mandarin", "es")})
    li = await h.token("li.na", "agent", "2001")
    call_id = await answered_call(h, "sip-ev-es", "2001")
    path, _ = tone(tmp_path, 1310)
    rec = await add(h, path, call_id)
    job = await settled(h, rec.id)
    assert (job.state, job.language) == ("skipped", "es")
    qa = await h.token("qa", "qa_lead")
    sample_id = await sample_of(h, "qa", {"id": rec.id, "call_id": call_id}, "li.na")
    body = await send(h, "GET", f"/api/qa/samples/{sample_id}", qa, 200)
    speech = body["prefill"]["speech"]
    assert (speech["state"], speech["language"], speech["items"]) == ("skipped", "es", None)
    assert "not-mandarin" in speech["reason"]
    del li


def scores(**deducted: int) -> list[dict[str, Any]]:
    return [{"key": i.key, "deducted": deducted.get(i.key, 0)} for i in INTAKE.items]


async def test_the_desk_shows_the_evidence_and_a_suggestion_counts_only_once_confirmed(
    speech_hotline: Make, tmp_path: Path
) -> None:
    h = await scripted_hotline(speech_hotline, tmp_path, CALL, 1320)
    rec = await heard_call(h, tmp_path, 1320)
    qa = await h.token("qa", "qa_lead")
    sample_id = await sample_of(h, "qa", rec, "li.na")
    body = await send(h, "GET", f"/api/qa/samples/{sample_id}", qa, 200)
    speech = body["prefill"]["speech"]
    assert speech["state"] == "done" and speech["language"] == "zh"
    assert speech["transcript_url"] == f"/api/recordings/{rec['id']}/transcript"
    items = {i["key"]: i for i in speech["items"]}
    assert items["closing"] == {
        "key": "closing", "zh": "结束语", "en": "Closing sentence", "points": 4,
        "found": None, "suggested": 4,
    }  # fmt: skip
    assert items["opening"]["found"]["confidence"] >= DONE_AT
    # The sample's reviewer judges the phone read-back against the ticket: in full.
    assert items["read_back_phone"]["found"]["heard"] == "一三八零零零零零零零一"

    # Scoring the closing 4 (as suggested) without confirming it is refused, naming it and
    # every other suggestion left unconfirmed; nothing is written.
    refused = await h.client.post(
        f"/api/qa/samples/{sample_id}/evaluation",
        json={"scores": scores(closing=4, ask_phone=1)},
        headers=qa,
    )
    problem = await refused.json()
    assert refused.status == 400 and problem["error"] == "unconfirmed-evidence"
    assert "closing" in problem["message"] and "opening" in problem["message"]
    assert "station" not in problem["message"]  # nothing was heard or suggested for it

    # Confirmed where the reviewer agrees; the phone question overridden (it was asked, the
    # recognizer missed it): an override needs no confirmation.
    suggested = {k: i["suggested"] for k, i in items.items() if i["suggested"] is not None}
    agreed = {k: v for k, v in suggested.items() if k != "ask_phone"}
    body = {
        "scores": [{**s, "confirmed": s["key"] in agreed} for s in scores(**agreed, ask_phone=0)]
    }
    evaluation = await send(h, "POST", f"/api/qa/samples/{sample_id}/evaluation", qa, 201, body)
    kept = {s["key"]: s for s in evaluation["scores"]}
    assert kept["closing"]["deducted"] == 4 and kept["closing"]["confirmed"] is True
    assert kept["closing"]["evidence"] == "speech: not heard in the transcript"
    assert kept["opening"]["evidence"].startswith("speech: heard 「您好")
    assert kept["ask_phone"]["prefilled"] and not kept["ask_phone"]["confirmed"]
    # The read-back kept with the evaluation is masked: the agent reads it too.
    assert "13800000001" not in str(kept) and "零零零零零零零一" not in str(kept)
    # Not heard: the closing, the address and the name read back (the resident said 我姓张;
    # no 张女士 followed).
    assert agreed == {
        "opening": 0, "ask_name": 0, "closing": 4,
        "read_back_address": 1, "read_back_name": 1, "read_back_phone": 0,
    }  # fmt: skip
    assert evaluation["deducted"] == sum(agreed.values())
    [scored] = [e for e in evaluation["history"] if e["action"] == "scored"]
    assert scored["overridden"] == ["ask_phone"]


async def test_an_overseer_sees_the_phone_read_back_masked(
    speech_hotline: Make, tmp_path: Path
) -> None:
    h = await scripted_hotline(speech_hotline, tmp_path, CALL, 1330)
    rec = await heard_call(h, tmp_path, 1330)
    await h.token("qa", "qa_lead")
    boss = await h.token("boss", "supervisor")
    sample_id = await sample_of(h, "qa", rec, "li.na")
    body = await send(h, "GET", f"/api/qa/samples/{sample_id}", boss, 200)
    items = {i["key"]: i for i in body["prefill"]["speech"]["items"]}
    assert "零零零零零零零一" not in items["read_back_phone"]["found"]["heard"]
    assert items["read_back_phone"]["found"]["phrase"] is None


async def test_without_transcription_the_desk_says_so(
    hotline_factory: Any, db_url: str, tmp_path: Path
) -> None:
    h: Hotline = await hotline_factory(db_url, recordings={"root": str(tmp_path / "rec")})
    await h.token("li.na", "agent", "2001")
    qa = await h.token("qa", "qa_lead")
    call_id = await answered_call(h, "sip-ev-off", "2001")
    path, _ = tone(tmp_path, 1340)
    rec = await add(h, path, call_id)
    sample_id = await sample_of(h, "qa", {"id": rec.id, "call_id": call_id}, "li.na")
    body = await send(h, "GET", f"/api/qa/samples/{sample_id}", qa, 200)
    assert body["prefill"]["speech"]["state"] == "off"
    assert body["prefill"]["speech"]["items"] is None
    # Scored as before: nothing to confirm.
    await send(h, "POST", f"/api/qa/samples/{sample_id}/evaluation", qa, 201, {"scores": scores()})
