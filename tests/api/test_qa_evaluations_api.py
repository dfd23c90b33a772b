"""The scoring desk on SQLite and PostgreSQL: a sample with what the service knows (a wrong
station deducted in full with its evidence, the fields as typed, the call's facts, the
holiday opening), scored once against its sheet, signed by the agent or disputed and
revised by the QA lead with every step in its history; an agent reads only their own."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from callcenter.auth import store as auth_store
from callcenter.qa import store as qa_store
from callcenter.qa.checklists import load
from callcenter.qa.model import Sample
from tests.api.test_recordings_api import answered_call, stored
from tests.audio import audio
from tests.conftest import Hotline, HotlineFactory

INTAKE = load(Path(__file__).resolve().parents[2] / "config" / "qa")["intake"]
HOLIDAY = {"from": "2026-11-20", "to": "2026-11-25", "opening": "新年好"}
TICKET = {
    "kind": "repair",
    "reporter_name": "张秀英",
    "phone": "13800000001",
    "address": "大龙市幸福里小区三栋二单元502",
    "category": "not_hot",
    "description": "整屋不热",
}


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str, tmp_path: Path) -> Hotline:
    h: Hotline = await hotline_factory(
        db_url, recordings={"root": str(tmp_path / "rec")}, desk={"holidays": [HOLIDAY]}
    )
    return h


@pytest.fixture
async def people(hotline: Hotline) -> dict[str, dict[str, str]]:
    return {
        "li.na": await hotline.token("li.na", "agent", "2001"),
        "wang.wei": await hotline.token("wang.wei", "agent", "2002"),
        "lead": await hotline.token("lead", "team_lead"),
        "lead2": await hotline.token("lead2", "team_lead"),
        "qa": await hotline.token("qa", "qa_lead"),
    }


async def user_id(h: Hotline, name: str) -> int:
    async with h.svc.db().connect() as conn:
        user = await auth_store.user_by_name(conn, name)
    assert user is not None
    return user.id


async def sample_of(h: Hotline, reviewer: str, rec: dict[str, Any], agent: str) -> str:
    """A sample row as the drawing service would write it (drawing is not tested here)."""
    sample = Sample(
        id=uuid.uuid4().hex,
        reviewer_id=await user_id(h, reviewer),
        scope="daily",
        period="2026-11-23",
        seed="test",
        recording_id=rec["id"],
        call_id=rec["call_id"],
        agent_id=await user_id(h, agent),
        ticket_id=None,
        sheet="intake",
        weight=1.0,
        drawn_at=h.clock.now(),
    )
    async with h.svc.db().begin() as conn:
        await conn.execute(qa_store.qa_samples.insert(), [qa_store.sample_row(sample)])
    return sample.id


async def taken_call(
    h: Hotline, who: dict[str, str], sip: str, path: Path, **ticket: Any
) -> dict[str, Any]:
    """li.na (2001) answers a call that is recorded, and types a ticket on it."""
    call_id = await answered_call(h, sip, "2001")
    rec = await stored(h, path, call_id)
    response = await h.client.post(
        "/api/tickets", json={**TICKET, **ticket, "call": call_id}, headers=who
    )
    assert response.status == 201, await response.text()
    return rec


async def send(h: Hotline, method: str, path: str, who: dict[str, str], status: int,
               body: Any = None) -> Any:  # fmt: skip
    response = await h.client.request(method, path, json=body, headers=who)
    assert response.status == status, await response.text()
    return await response.json()


def all_zero(**deducted: int) -> dict[str, Any]:
    """An evaluation body: every intake item 0 but those named."""
    return {
        "scores": [
            {"key": i.key, "deducted": deducted.get(i.key, 0), "comment": ""} for i in INTAKE.items
        ],
        "comment": "",
    }


async def stored_counts(h: Hotline, sample_id: str) -> tuple[str, int]:
    async with h.svc.db().connect() as conn:
        status = await conn.scalar(
            select(qa_store.qa_samples.c.status).where(qa_store.qa_samples.c.id == sample_id)
        )
        count = await conn.scalar(select(func.count()).select_from(qa_store.qa_evaluations))
    return str(status), int(count or 0)


async def test_the_desk_prefills_a_wrong_station_in_full_with_its_evidence(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await taken_call(
        hotline, people["li.na"], "sip-qa-1", audio().alaw[0], station="dongxing"
    )
    sample_id = await sample_of(hotline, "lead", rec, "li.na")
    body = await send(hotline, "GET", f"/api/qa/samples/{sample_id}", people["lead"], 200)
    assert body["recording"]["audio_url"] == f"/api/recordings/{rec['id']}/audio"
    assert body["checklist"]["sheet"] == "intake" and body["checklist"]["total"] == 35
    [ticket] = body["tickets"]
    assert (ticket["station"], ticket["station_proposed"]) == ("dongxing", "xingfu")
    items = {p["key"]: p for p in body["prefill"]["items"]}
    assert set(items) == {"name", "phone", "address", "station"}
    assert items["station"]["deducted"] == 5
    assert "xingfu" in items["station"]["evidence"] and "dongxing" in items["station"]["evidence"]
    assert items["name"] == {"key": "name", "deducted": 0, "evidence": "recorded: 张秀英"}
    assert items["phone"]["evidence"] == "recorded: 138****0001"
    assert items["address"]["deducted"] == 0
    call = body["prefill"]["call"]
    assert call["answered_within_limit"] is True and call["rings"] == 1
    assert call["hung_up_by"] == "caller" and call["agent_hung_up_first"] is False
    opening = body["prefill"]["opening"]
    assert opening["holiday"] is True and opening["greeting"] == "新年好"
    assert opening["phrases"][0].startswith("新年好，大龙供暖报修")
    # Another reviewer's sample, and an agent, are refused.
    refused = await send(hotline, "GET", f"/api/qa/samples/{sample_id}", people["lead2"], 403)
    assert refused["error"] == "not-your-sample"
    await send(hotline, "GET", f"/api/qa/samples/{sample_id}", people["li.na"], 403)


async def test_the_station_the_address_book_proposes_and_the_fields_given_are_not_deducted(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await taken_call(hotline, people["li.na"], "sip-qa-2", audio().alaw[0], reporter_name="")
    sample_id = await sample_of(hotline, "lead", rec, "li.na")
    body = await send(hotline, "GET", f"/api/qa/samples/{sample_id}", people["lead"], 200)
    items = {p["key"]: (p["deducted"], p["evidence"]) for p in body["prefill"]["items"]}
    assert items["station"][0] == 0 and "xingfu" in items["station"][1]
    assert items["name"] == (1, "no name on the ticket")


async def test_a_score_beyond_an_items_points_names_the_item_and_stores_nothing(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await taken_call(
        hotline, people["li.na"], "sip-qa-3", audio().alaw[0], station="dongxing"
    )
    sample_id = await sample_of(hotline, "lead", rec, "li.na")
    url = f"/api/qa/samples/{sample_id}/evaluation"
    bad = await send(hotline, "POST", url, people["lead"], 400, all_zero(station=6))
    assert (bad["error"], bad["field"]) == ("bad-score", "station")
    assert await stored_counts(hotline, sample_id) == ("queued", 0)
    other = await send(hotline, "POST", url, people["lead2"], 403, all_zero())
    assert other["error"] == "not-your-sample"
    # The reviewer heard the station right after all: the pre-fill is overridden to 2.
    done = await send(
        hotline, "POST", url, people["lead"], 201,
        {**all_zero(station=2, closing=1), "comment": "好", "good_example": True},
    )  # fmt: skip
    assert done["deducted"] == 3 and done["status"] == "open" and done["good_example"]
    assert done["checklist_version"] == 1 and len(done["checklist_sha256"]) == 64
    station = next(s for s in done["scores"] if s["key"] == "station")
    assert station["prefilled"] and station["deducted"] == 2 and "xingfu" in station["evidence"]
    assert not next(s for s in done["scores"] if s["key"] == "closing")["prefilled"]
    assert [h["action"] for h in done["history"]] == ["scored"]
    assert done["history"][0]["overridden"] == ["station"]
    assert await stored_counts(hotline, sample_id) == ("scored", 1)
    again = await send(hotline, "POST", url, people["lead"], 409, all_zero())
    assert again["error"] == "already-scored"
    assert await stored_counts(hotline, sample_id) == ("scored", 1)


async def test_the_agent_reads_and_signs_their_own_evaluation_and_no_colleagues(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await taken_call(hotline, people["li.na"], "sip-qa-4", audio().alaw[0])
    sample_id = await sample_of(hotline, "lead", rec, "li.na")
    url = f"/api/qa/samples/{sample_id}/evaluation"
    scored = await send(hotline, "POST", url, people["lead"], 201, all_zero(opening=5))
    one = f"/api/qa/evaluations/{scored['id']}"
    mine = await send(hotline, "GET", "/api/qa/evaluations", people["li.na"], 200)
    assert [e["id"] for e in mine] == [scored["id"]] and mine[0]["agent"] == "li.na"
    assert await send(hotline, "GET", "/api/qa/evaluations", people["wang.wei"], 200) == []
    refused = await send(hotline, "GET", "/api/qa/evaluations?agent=li.na",
                         people["wang.wei"], 403)  # fmt: skip
    assert refused["error"] == "not-your-evaluations"
    assert (await send(hotline, "GET", one, people["wang.wei"], 403))["error"] == (
        "not-your-evaluation"
    )
    await send(hotline, "POST", f"{one}/acknowledge", people["wang.wei"], 403)
    signed = await send(hotline, "POST", f"{one}/acknowledge", people["li.na"], 200)
    assert signed["status"] == "acknowledged" and signed["signed_at"] is not None
    assert [h["action"] for h in signed["history"]] == ["scored", "acknowledged"]
    assert signed["history"][1]["by"] == "li.na"
    again = await send(hotline, "POST", f"{one}/dispute", people["li.na"], 409, {"comment": "x"})
    assert again["error"] == "evaluation-not-open"
    leads = await send(hotline, "GET", "/api/qa/evaluations?agent=li.na&status=acknowledged",
                       people["qa"], 200)  # fmt: skip
    assert [e["id"] for e in leads] == [scored["id"]]


async def test_a_dispute_goes_to_the_qa_lead_who_revises_it_with_every_step_kept(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await taken_call(hotline, people["li.na"], "sip-qa-5", audio().alaw[1])
    sample_id = await sample_of(hotline, "lead", rec, "li.na")
    url = f"/api/qa/samples/{sample_id}/evaluation"
    scored = await send(hotline, "POST", url, people["lead"], 201, all_zero(address=5))
    one = f"/api/qa/evaluations/{scored['id']}"
    missing = await send(hotline, "POST", f"{one}/dispute", people["li.na"], 400, {"comment": " "})
    assert (missing["error"], missing["field"]) == ("comment-required", "comment")
    disputed = await send(hotline, "POST", f"{one}/dispute", people["li.na"], 200,
                          {"comment": "地址我跟读了"})  # fmt: skip
    assert disputed["status"] == "disputed"
    revise = {"decision": "revise", "comment": "已复听，地址正确", "scores": all_zero()["scores"]}
    await send(hotline, "POST", f"{one}/resolve", people["lead"], 403, revise)
    bad = await send(hotline, "POST", f"{one}/resolve", people["qa"], 400,
                     {**revise, "scores": all_zero(address=9)["scores"]})  # fmt: skip
    assert (bad["error"], bad["field"]) == ("bad-score", "address")
    revised = await send(hotline, "POST", f"{one}/resolve", people["qa"], 200, revise)
    assert revised["status"] == "revised" and revised["deducted"] == 0
    history = revised["history"]
    assert [(h["action"], h["by"]) for h in history] == [
        ("scored", "lead"),
        ("disputed", "li.na"),
        ("revised", "qa"),
    ]
    assert history[1]["comment"] == "地址我跟读了"
    assert history[2]["deducted"] == [5, 0] and history[2]["changed"] == {"address": [5, 0]}
    again = await send(hotline, "POST", f"{one}/resolve", people["qa"], 409,
                       {"decision": "uphold", "comment": "x"})  # fmt: skip
    assert again["error"] == "evaluation-not-disputed"


async def test_a_deleted_recording_cannot_be_evaluated(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await taken_call(hotline, people["li.na"], "sip-qa-6", audio().silent_ulaw)
    sample_id = await sample_of(hotline, "lead", rec, "li.na")
    deleted = await hotline.client.delete(
        f"/api/recordings/{rec['id']}", json={"reason": "住户未说话"}, headers=people["lead"]
    )
    assert deleted.status == 200, await deleted.text()
    url = f"/api/qa/samples/{sample_id}/evaluation"
    refused = await send(hotline, "POST", url, people["lead"], 409, all_zero())
    assert refused["error"] == "recording-deleted"
    assert await stored_counts(hotline, sample_id) == ("queued", 0)
    view = await send(hotline, "GET", f"/api/qa/samples/{sample_id}", people["lead"], 200)
    assert view["recording"]["deleted"]["reason"] == "住户未说话"


async def test_the_reviewer_reads_the_number_in_full_and_a_supervisor_masked(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await taken_call(hotline, people["li.na"], "sip-qa-7", audio().alaw[0])
    sample_id = await sample_of(hotline, "qa", rec, "li.na")
    url = f"/api/qa/samples/{sample_id}"
    # A QA lead sees numbers masked elsewhere ([privacy]), but judges this one by ear.
    assert (await send(hotline, "GET", url, people["qa"], 200))["tickets"][0]["phone"] == (
        "13800000001"
    )
    supervisor = await hotline.token("sup", "supervisor")
    assert (await send(hotline, "GET", url, supervisor, 200))["tickets"][0]["phone"] == (
        "138****0001"
    )


async def test_both_sheets_are_read_with_their_version_and_hash(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    sheets = await send(hotline, "GET", "/api/qa/checklists", people["li.na"], 200)
    assert [(s["sheet"], s["total"], s["version"]) for s in sheets] == [
        ("intake", 35, 1),
        ("callback", 16, 1),
    ]
    assert sheets[0]["sha256"] == INTAKE.sha256 and len(sheets[0]["items"]) == 18
    station = next(i for i in sheets[0]["items"] if i["key"] == "station")
    assert (station["points"], station["zh"], station["known"]) == (5, "选对维修站", "station")


async def test_findings_no_item_scores_are_marked_checked_and_revised_with_history(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    """态度不好, 无效承诺, 错误引导: marked on the evaluation; an unknown or repeated one is
    refused naming the field, nothing stored; the QA lead may take one back in a revision."""
    rec = await taken_call(hotline, people["li.na"], "sip-qa-9", audio().alaw[0])
    sample_id = await sample_of(hotline, "lead", rec, "li.na")
    url = f"/api/qa/samples/{sample_id}/evaluation"
    for findings, error in (
        (["rude"], "unknown-finding"),
        (["bad_attitude", "bad_attitude"], "bad-field"),
        ("bad_attitude", "bad-field"),
        ([7], "bad-field"),
    ):
        bad = await send(hotline, "POST", url, people["lead"], 400,
                         {**all_zero(), "findings": findings})  # fmt: skip
        assert (bad["error"], bad["field"]) == (error, "findings")
        assert await stored_counts(hotline, sample_id) == ("queued", 0)
    marked = {**all_zero(), "findings": ["invalid_promise", "bad_attitude"]}
    scored = await send(hotline, "POST", url, people["lead"], 201, marked)
    assert scored["findings"] == ["bad_attitude", "invalid_promise"]  # the table's order
    assert scored["history"][0]["findings"] == ["bad_attitude", "invalid_promise"]
    one = f"/api/qa/evaluations/{scored['id']}"
    assert (await send(hotline, "GET", one, people["li.na"], 200))["findings"] == [
        "bad_attitude",
        "invalid_promise",
    ]
    await send(hotline, "POST", f"{one}/dispute", people["li.na"], 200,
               {"comment": "我没有承诺时间"})  # fmt: skip
    upheld_with = {"decision": "uphold", "comment": "x", "findings": []}
    refused = await send(hotline, "POST", f"{one}/resolve", people["qa"], 400, upheld_with)
    assert (refused["error"], refused["field"]) == ("bad-field", "findings")
    revise = {
        "decision": "revise",
        "comment": "已复听，未承诺时间",
        "scores": all_zero()["scores"],
        "findings": ["bad_attitude"],
    }
    revised = await send(hotline, "POST", f"{one}/resolve", people["qa"], 200, revise)
    assert revised["findings"] == ["bad_attitude"]
    assert revised["history"][-1]["findings"] == [["bad_attitude", "invalid_promise"],
                                                  ["bad_attitude"]]  # fmt: skip
