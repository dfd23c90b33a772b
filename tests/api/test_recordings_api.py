"""Recordings through the API on SQLite and PostgreSQL: listing and paging, who may hear
which recording, the audio streamed with HTTP Range (the exact bytes), deletion by the
hotline's rules, and every play in the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter import signals as t
from callcenter.calls.store import calls
from callcenter.clock import FakeClock
from callcenter.recordings import audit
from callcenter.recordings.service import Inbound
from callcenter.recordings.store import audit as audit_table
from tests.audio import audio
from tests.conftest import Hotline, HotlineFactory
from tests.waiting import eventually


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str, tmp_path: Path) -> Hotline:
    h: Hotline = await hotline_factory(db_url, recordings={"root": str(tmp_path / "rec")})
    return h


@pytest.fixture
async def people(hotline: Hotline) -> dict[str, dict[str, str]]:
    return {
        "li.na": await hotline.token("li.na", "agent", "2001"),
        "wang.wei": await hotline.token("wang.wei", "agent", "2002"),
        "lead": await hotline.token("lead", "team_lead"),
        "qa": await hotline.token("qa", "qa_lead"),
        "admin": await hotline.token("admin", "admin"),
        "station": await hotline.token("station1", "station"),
        "pbx": await hotline.token("asterisk1", "pbx"),
    }


async def answered_call(h: Hotline, sip_call_id: str, extension: str) -> str:
    """A call the phone `extension` answered and that ended; our id of it."""
    clock: FakeClock = h.clock  # type: ignore[assignment]
    tracker = h.svc.calls()
    tracker.handle(t.CallOffered("hep", sip_call_id, "ft", clock.now(), "13800000001", "96069"))
    tracker.handle(t.LegRinging("hep", sip_call_id, "ft", "a", extension, clock.now()))
    clock.advance(3)
    tracker.handle(t.LegAnswered("hep", sip_call_id, "ft", "a", extension, clock.now()))
    clock.advance(60)
    tracker.handle(t.CallEnded("hep", sip_call_id, "ft", clock.now(), "caller"))
    await tracker.settled()
    async with h.svc.db().connect() as conn:
        row = (
            await conn.execute(select(calls.c.id).where(calls.c.sip_call_id == sip_call_id))
        ).one()
    return str(row.id)


async def stored(h: Hotline, path: Path, call: str | None = None) -> dict[str, Any]:
    rec = await h.svc.recording_service().add_file(path, Inbound("cli", "t", path.name, call))
    return {"id": rec.recording.id, "call_id": rec.recording.call_id}


async def get(h: Hotline, path: str, who: dict[str, str], status: int = 200) -> Any:
    response = await h.client.get(path, headers=who)
    assert response.status == status, await response.text()
    return await response.json()


async def test_an_agent_hears_the_calls_they_answered_and_no_others(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    mine = await answered_call(hotline, "sip-1", "2001")
    theirs = await answered_call(hotline, "sip-2", "2002")
    a = await stored(hotline, audio().alaw[0], mine)
    b = await stored(hotline, audio().alaw[1], theirs)
    assert (a["call_id"], b["call_id"]) == (mine, theirs)
    listed = await get(hotline, "/api/recordings", people["li.na"])
    assert [r["id"] for r in listed] == [a["id"]]
    await get(hotline, f"/api/recordings/{a['id']}", people["li.na"])
    refused = await get(hotline, f"/api/recordings/{b['id']}", people["li.na"], 403)
    assert refused["error"] == "not-your-recording"
    audio_refused = await hotline.client.get(
        f"/api/recordings/{b['id']}/audio", headers=people["li.na"]
    )
    assert audio_refused.status == 403
    for role in ("lead", "qa", "admin"):
        assert len(await get(hotline, "/api/recordings", people[role])) == 2
    for role in ("station", "pbx"):
        assert (await get(hotline, "/api/recordings", people[role], 403))["error"] == "forbidden"


async def test_an_unlinked_recording_is_listed_as_such_and_no_agent_hears_it(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await stored(hotline, audio().ulaw, "never-seen-call")
    linked = await stored(hotline, audio().mp3, await answered_call(hotline, "sip-3", "2001"))
    waiting = await get(hotline, "/api/recordings?unlinked=true", people["lead"])
    assert [(r["id"], r["linked"], r["call_ref"]) for r in waiting] == [
        (rec["id"], False, "never-seen-call")
    ]
    done = await get(hotline, "/api/recordings?unlinked=false", people["lead"])
    assert [r["id"] for r in done] == [linked["id"]]
    by_ref = await get(hotline, "/api/recordings?call=never-seen-call", people["lead"])
    assert [r["id"] for r in by_ref] == [rec["id"]]
    await get(hotline, f"/api/recordings/{rec['id']}", people["li.na"], 403)


async def test_a_recording_that_came_first_is_linked_when_its_call_closes(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await stored(hotline, audio().ulaw, "sip-early")  # the PBX's id of a call not yet seen
    call = await answered_call(hotline, "sip-early", "2001")

    async def linked() -> bool:
        body = await get(hotline, f"/api/recordings/{rec['id']}", people["lead"])
        return bool(body["call_id"] == call)

    await eventually(linked, within=5)
    assert [r["id"] for r in await get(hotline, "/api/recordings", people["li.na"])] == [rec["id"]]


async def test_listing_is_newest_first_and_paged_with_a_link_to_the_next_page(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    clock: FakeClock = hotline.clock  # type: ignore[assignment]
    ids = []
    for path in (audio().alaw[0], audio().alaw[1], audio().ulaw, audio().mp3, audio().pcm):
        ids.append((await stored(hotline, path))["id"])
        clock.advance(1)
    response = await hotline.client.get("/api/recordings?limit=2", headers=people["lead"])
    seen = [r["id"] for r in await response.json()]
    while "Link" in response.headers:
        url = response.headers["Link"].split(">")[0].lstrip("<")
        response = await hotline.client.get(url, headers=people["lead"])
        seen += [r["id"] for r in await response.json()]
    assert seen == ids[::-1]
    bad = await get(hotline, "/api/recordings?cursor=nonsense", people["lead"], 400)
    assert bad["field"] == "cursor"
    assert (await get(hotline, "/api/recordings?ticket=T1", people["lead"], 404))["error"] == (
        "no-such-ticket"
    )


async def test_the_audio_is_streamed_with_ranges_as_the_exact_bytes(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await stored(hotline, audio().alaw[0])
    service = hotline.svc.recording_service()
    meta = await service.get(rec["id"])
    assert meta.rendition is not None
    rendition = service.path_of(meta.rendition).read_bytes()
    url = f"/api/recordings/{rec['id']}/audio"
    whole = await hotline.client.get(url, headers=people["qa"])
    assert whole.status == 200 and await whole.read() == rendition
    assert whole.headers["Content-Type"] == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Cache-Control"] == "private, no-store"
    size = len(rendition)
    for asked, first, last in (
        ("bytes=0-1", 0, 1),
        ("bytes=1000-1999", 1000, 1999),
        (f"bytes={size - 100}-", size - 100, size - 1),  # a seek near the end
        ("bytes=-50", size - 50, size - 1),
    ):
        part = await hotline.client.get(url, headers={**people["qa"], "Range": asked})
        assert part.status == 206, asked
        assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}", asked
        assert await part.read() == rendition[first : last + 1], asked
    beyond = await hotline.client.get(url, headers={**people["qa"], "Range": f"bytes={size + 10}-"})
    assert beyond.status == 416
    original = await hotline.client.get(f"{url}?original=1", headers=people["qa"])
    assert await original.read() == audio().alaw[0].read_bytes()
    assert original.headers["Content-Disposition"].startswith("attachment")


async def test_every_play_and_download_is_in_the_audit_log(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    rec = await stored(hotline, audio().mp3)
    url = f"/api/recordings/{rec['id']}/audio"
    await hotline.client.get(url, headers={**people["lead"], "Range": "bytes=0-99"})
    await hotline.client.get(f"{url}?original=true", headers=people["admin"])
    await hotline.client.head(url, headers=people["lead"])  # no audio sent: not a play
    async with hotline.svc.db().connect() as conn:
        rows = (await conn.execute(select(audit_table).order_by(audit_table.c.seq))).all()
    assert [(r.action, r.actor, r.detail) for r in rows[-2:]] == [
        ("play", "lead", "bytes=0-99"),
        ("download", "admin", "whole"),
    ]
    assert (await audit.verify(hotline.svc.db())).intact


async def test_deletion_follows_the_hotlines_rules(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    call = await answered_call(hotline, "sip-4", "2001")
    empty = await stored(hotline, audio().silent_ulaw, call)
    sound = await stored(hotline, audio().ulaw, call)

    async def delete(rec: dict[str, Any], who: str, body: Any, status: int) -> Any:
        response = await hotline.client.delete(
            f"/api/recordings/{rec['id']}", json=body, headers=people[who]
        )
        assert response.status == status, await response.text()
        return await response.json()

    assert (await delete(empty, "li.na", {"reason": "mine"}, 403))["error"] == (
        "recording-not-deletable"
    )
    for who in ("admin", "qa", "station", "pbx"):
        assert (await delete(empty, who, {"reason": "x"}, 403))["error"] == (
            "recording-not-deletable"
        )
    assert (await delete(sound, "lead", {"reason": "x"}, 409))["error"] == "recording-not-empty"
    assert (await delete(empty, "lead", {"reason": " "}, 400))["error"] == "reason-required"
    assert (await delete(empty, "lead", {}, 400))["error"] == "reason-required"
    missing = await hotline.client.delete("/api/recordings/nope", headers=people["lead"])
    assert missing.status == 404
    tomb = await delete(empty, "lead", {"reason": "住户未说话即挂断 (silent)"}, 200)
    assert tomb["deleted"]["by"] == "lead" and tomb["audio_url"] is None
    assert tomb["deleted"]["reason"] == "住户未说话即挂断 (silent)"
    again = await get(hotline, f"/api/recordings/{empty['id']}", people["lead"])
    assert again["deleted"] == tomb["deleted"] and again["sha256"] == tomb["sha256"]
    gone = await get(hotline, f"/api/recordings/{empty['id']}/audio", people["lead"], 404)
    assert gone["error"] == "recording-deleted"
    assert (await delete(empty, "lead", {"reason": "again"}, 409))["error"] == "recording-deleted"
    async with hotline.svc.db().connect() as conn:
        last = (await conn.execute(select(audit_table).order_by(audit_table.c.seq.desc()))).first()
    assert last is not None and (last.action, last.actor) == ("delete", "lead")
    assert "住户未说话即挂断" in last.detail
