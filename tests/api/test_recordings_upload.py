"""Uploading a recording over HTTP on SQLite and PostgreSQL: a raw body or a multipart form,
by a PBX's own token or a team lead; a duplicate answers the stored one; a file over the
limit, empty or not audio gets a clear error and leaves nothing behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from callcenter.recordings.model import blob_path
from callcenter.recordings.store import audit as audit_table
from tests.audio import audio
from tests.conftest import Hotline, HotlineFactory


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str, tmp_path: Path) -> Hotline:
    h: Hotline = await hotline_factory(
        db_url, recordings={"root": str(tmp_path / "rec"), "max_upload_mb": 1}
    )
    return h


def files(h: Hotline) -> list[Path]:
    return sorted(p for p in h.svc.recording_service().root.rglob("*") if p.is_file())


async def test_a_pbx_uploads_a_raw_body_and_gets_the_recording(hotline: Hotline) -> None:
    pbx = await hotline.token("asterisk1", "pbx")
    body = audio().alaw[1].read_bytes()
    response = await hotline.client.post(
        "/api/recordings?call=1733299200.42&source=asterisk1&name=leg.wav",
        data=body,
        headers={**pbx, "Content-Type": "audio/wav"},
    )
    assert response.status == 201, await response.text()
    rec = await response.json()
    assert response.headers["Location"] == f"/api/recordings/{rec['id']}"
    assert (rec["via"], rec["name"], rec["call_ref"], rec["source"]) == (
        "upload", "leg.wav", "1733299200.42", "asterisk1",
    )  # fmt: skip
    assert rec["sha256"] == hashlib.sha256(body).hexdigest() and rec["duplicate"] is False
    root = hotline.svc.recording_service().root
    assert blob_path(root, rec["sha256"], "wav").read_bytes() == body
    async with hotline.svc.db().connect() as conn:
        last = (await conn.execute(select(audit_table).order_by(audit_table.c.seq))).all()[-1]
    assert (last.action, last.actor, last.recording_id) == ("ingest", "asterisk1", rec["id"])


async def test_a_team_lead_uploads_a_multipart_form_and_a_duplicate_answers_the_stored_one(
    hotline: Hotline,
) -> None:
    lead = await hotline.token("lead", "team_lead")

    def form() -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("note", "ignored")
        data.add_field("file", audio().mp3.read_bytes(), filename="call.mp3")
        return data

    first = await hotline.client.post("/api/recordings", data=form(), headers=lead)
    assert first.status == 201, await first.text()
    again = await hotline.client.post("/api/recordings", data=form(), headers=lead)
    assert again.status == 200
    a, b = await first.json(), await again.json()
    assert (a["name"], a["codec"], b["id"], b["duplicate"]) == ("call.mp3", "mp3", a["id"], True)
    assert len(files(hotline)) == 1


@pytest.mark.parametrize("role", ["agent", "qa_lead", "station", "supervisor"])
async def test_other_roles_may_not_upload(hotline: Hotline, role: str) -> None:
    who = await hotline.token(f"someone-{role}", role, "2009" if role == "agent" else None)
    response = await hotline.client.post(
        "/api/recordings", data=audio().mp3.read_bytes(), headers=who
    )
    assert response.status == 403 and (await response.json())["error"] == "forbidden"


async def test_an_upload_over_the_limit_is_413_whether_announced_or_streamed(
    hotline: Hotline,
) -> None:
    pbx = await hotline.token("asterisk1", "pbx")
    big = b"RIFF" + bytes(1024 * 1024)
    announced = await hotline.client.post("/api/recordings", data=big, headers=pbx)
    assert announced.status == 413
    assert (await announced.json())["error"] == "upload-too-large"

    async def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: chunked
        for _ in range(20):
            yield bytes(64 * 1024)

    streamed = await hotline.client.post("/api/recordings", data=chunks(), headers=pbx)
    assert streamed.status == 413
    assert (await streamed.json())["error"] == "upload-too-large"
    assert files(hotline) == []


@pytest.mark.parametrize(
    ("name", "error"),
    [("zero", "empty-file"), ("not_audio", "not-audio"), ("truncated_mp3", "truncated-audio")],
)
async def test_a_bad_upload_is_refused_with_its_reason_and_nothing_kept(
    hotline: Hotline, name: str, error: str
) -> None:
    pbx = await hotline.token("asterisk1", "pbx")
    response = await hotline.client.post(
        "/api/recordings", data=getattr(audio(), name).read_bytes(), headers=pbx
    )
    assert response.status == 400
    assert (await response.json())["error"] == error
    assert files(hotline) == []


async def test_a_multipart_form_without_a_file_is_refused(hotline: Hotline) -> None:
    lead = await hotline.token("lead", "team_lead")
    data = aiohttp.FormData()
    data.add_field("call", "x")
    data.add_field("other", b"bytes", filename="x.bin")
    response = await hotline.client.post("/api/recordings", data=data, headers=lead)
    assert response.status == 400 and (await response.json())["field"] == "file"
