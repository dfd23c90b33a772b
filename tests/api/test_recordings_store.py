"""Storing recordings on SQLite and PostgreSQL: once by SHA-256, analysed, linked to their call
when it appears; bad files refused with their reason and nothing half-written left; the
audit log a hash chain whose tampering `verify` finds."""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import db
from callcenter.auth.model import Principal, Role
from callcenter.calls.store import calls
from callcenter.clock import FakeClock
from callcenter.errors import DomainError
from callcenter.recordings import audit, store
from callcenter.recordings.analysis import wav_layout
from callcenter.recordings.model import blob_path
from callcenter.recordings.service import Inbound, Recordings
from tests.audio import audio
from tests.conftest import settings_for

LEAD = Principal(7, "wang.lead", Role.TEAM_LEAD)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    e = await db.open_database(db_url, migrate=True)
    yield e
    await e.dispose()


@pytest.fixture
def recs(engine: AsyncEngine, db_url: str, tmp_path: Path) -> Recordings:
    settings = settings_for(db_url, recordings={"root": str(tmp_path / "rec")})
    return Recordings(lambda: engine, FakeClock(), settings.recordings, settings.recordings_root)


def cli(name: str = "x.wav", call: str | None = None, source: str | None = None) -> Inbound:
    return Inbound("cli", "cli:test", name, call, source)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def add_call(engine: AsyncEngine, call_pk: str, source: str, sip_call_id: str) -> None:
    clock = FakeClock()
    async with engine.begin() as conn:
        await conn.execute(
            calls.insert(),
            [
                {
                    "id": call_pk, "source": source, "sip_call_id": sip_call_id,
                    "call_tag": "", "caller": "13500003333", "dialed": "96069",
                    "monitored": True, "offered_at": clock.now() - timedelta(minutes=5),
                    "answered_at": None, "ended_at": None, "final": None,
                    "hung_up_by": None, "answered_leg": None,
                }
            ],
        )  # fmt: skip


async def test_a_recording_is_kept_once_by_its_hash_with_its_playable_rendition(
    recs: Recordings,
) -> None:
    leg = audio().alaw[0]
    stored = await recs.add_file(leg, cli(leg.name))
    rec = stored.recording
    assert stored.created and rec.codec == "pcm_alaw" and not rec.analysis.empty
    original = blob_path(recs.root, rec.original.sha256, "wav")
    assert original.read_bytes() == leg.read_bytes()  # the original bytes, exactly
    assert rec.original.sha256 == "f774762b2f1eecd0dde0df6da4027e68c572afd35f987f9597e07aa92d3f388c"
    assert rec.rendition is not None
    rendition = recs.path_of(rec.rendition)
    assert rendition.read_bytes()[:4] == b"RIFF" and rendition.parent.parent.parent == recs.root
    assert stored_files(recs.root) == sorted([original, rendition])  # no temporary file left
    assert leg.exists()  # the source is copied, never moved


async def test_the_same_bytes_again_answer_the_stored_recording(recs: Recordings) -> None:
    first = await recs.add_file(audio().mp3, cli("a.mp3"))
    again = await recs.add_file(audio().mp3, cli("b.mp3", call="1733299200.42"))
    assert (first.created, again.created) == (True, False)
    assert again.recording.id == first.recording.id
    assert again.recording.call_ref == "1733299200.42"  # the copy that named a call
    assert len(stored_files(recs.root)) == 1
    assert first.recording.rendition is None  # MP3 plays in a browser as it is


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("zero", "empty-file"),
        ("not_audio", "not-audio"),
        ("truncated_wav", "truncated-audio"),
        ("truncated_mp3", "truncated-audio"),
        ("corrupt_mp3", "corrupt-audio"),
    ],
)
async def test_bad_files_are_refused_and_leave_nothing_behind(
    recs: Recordings, engine: AsyncEngine, name: str, error: str
) -> None:
    path = getattr(audio(), name)
    with pytest.raises(DomainError) as caught:
        await recs.add_file(path, cli(path.name))
    assert caught.value.code == error
    assert stored_files(recs.root) == []
    async with engine.connect() as conn:
        assert (await conn.execute(select(store.recordings))).all() == []
    assert recs.stats.refused[error] == 1


async def test_a_path_that_is_not_a_regular_file_is_refused(
    recs: Recordings, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    for path, code in ((fifo, "not-a-regular-file"), (tmp_path, "not-a-regular-file")):
        with pytest.raises(DomainError) as caught:
            await recs.add_file(path, cli())
        assert caught.value.code == code
    with pytest.raises(DomainError) as caught:
        await recs.add_file(tmp_path / "missing.wav", cli())
    assert caught.value.code == "no-such-file"


async def test_a_pbx_path_must_be_inside_the_import_dirs_symlinks_resolved(
    engine: AsyncEngine, db_url: str, tmp_path: Path
) -> None:
    allowed = tmp_path / "fs1"
    (allowed / "2026-11-23").mkdir(parents=True)
    (allowed / "2026-11-23" / "a.wav").write_bytes(audio().alaw[0].read_bytes())
    (allowed / "escape.wav").symlink_to(audio().alaw[1])  # points outside
    settings = settings_for(
        db_url,
        recordings={
            "root": str(tmp_path / "rec"),
            "import_dirs": [str(allowed)],
            "path_map": [f"/var/lib/freeswitch/recordings={allowed}"],
        },
    )
    recs = Recordings(lambda: engine, FakeClock(), settings.recordings, settings.recordings_root)
    path = recs.checked_path("/var/lib/freeswitch/recordings/2026-11-23/a.wav", announced=True)
    assert path == allowed / "2026-11-23" / "a.wav"
    for bad in ("/var/lib/freeswitch/recordings/escape.wav", "/etc/passwd",
                "/var/lib/freeswitch/recordings/../../../../etc/passwd"):  # fmt: skip
        with pytest.raises(DomainError) as caught:
            recs.checked_path(bad, announced=True)
        assert caught.value.code == "path-not-allowed", bad


async def test_without_import_dirs_a_pbx_path_is_refused_but_the_command_line_is_not(
    recs: Recordings,
) -> None:
    with pytest.raises(DomainError) as caught:
        recs.checked_path(str(audio().ulaw), announced=True)
    assert "recordings.import_dirs" in caught.value.message
    assert recs.checked_path(str(audio().ulaw), announced=False) == audio().ulaw


async def test_a_recording_before_its_call_waits_and_is_linked_when_the_call_appears(
    recs: Recordings, engine: AsyncEngine
) -> None:
    early = await recs.add_file(audio().ulaw, cli(call="feedface-1a2b", source="fs1"))
    other_source = await recs.add_file(audio().pcm, cli(call="feedface-1a2b", source="fs2"))
    assert early.recording.call_id is None  # no such call yet: kept, unlinked
    await add_call(engine, "c" * 32, "fs1", "feedface-1a2b")
    assert await recs.link_call("c" * 32) == 1
    linked = await recs.get(early.recording.id)
    assert linked.call_id == "c" * 32 and linked.linked_at is not None
    assert (await recs.get(other_source.recording.id)).call_id is None  # another PBX's call
    late = await recs.add_file(audio().mp3, cli(call="c" * 32))  # our own id: linked at once
    assert late.recording.call_id == "c" * 32


async def test_reconcile_links_what_arrived_before_its_call_was_saved(
    recs: Recordings, engine: AsyncEngine
) -> None:
    rec = (await recs.add_file(audio().ulaw, cli(call="1733299200.42"))).recording
    await add_call(engine, "d" * 32, "asterisk1", "1733299200.42")
    assert await recs.reconcile() == 1
    assert (await recs.get(rec.id)).call_id == "d" * 32


async def test_deleting_an_empty_recording_leaves_a_tombstone_and_removes_its_files(
    recs: Recordings,
) -> None:
    silent = (await recs.add_file(audio().silent_ulaw, cli())).recording
    assert silent.analysis.empty and silent.rendition is not None
    files = [recs.path_of(silent.original), recs.path_of(silent.rendition)]
    gone = await recs.delete(LEAD, silent.id, "  caller hung up before speaking ")
    assert gone.deleted is not None and gone.deleted.by == "wang.lead"
    assert gone.deleted.reason == "caller hung up before speaking"
    assert not any(f.exists() for f in files)
    tomb = await recs.get(silent.id)
    assert tomb.deleted is not None and tomb.original.sha256 == silent.original.sha256
    with pytest.raises(DomainError) as caught:
        await recs.delete(LEAD, silent.id, "again")
    assert caught.value.code == "recording-deleted"


async def test_a_rendition_two_empty_recordings_share_stays_until_both_are_deleted(
    recs: Recordings, tmp_path: Path
) -> None:
    # Two silent µ-law files that differ only in a JUNK chunk decode to the same PCM.
    data = audio().silent_ulaw.read_bytes()
    layout = wav_layout(data, len(data))
    assert layout is not None
    head, body = data[: layout.data_offset - 8], data[layout.data_offset - 8 :]
    junk = b"JUNK" + struct.pack("<I", 4) + b"\x00\x01\x02\x03"
    riff = struct.pack("<I", len(head) + len(junk) + len(body) - 8)
    other = tmp_path / "other.wav"
    other.write_bytes(head[:4] + riff + head[8:] + junk + body)
    a = (await recs.add_file(audio().silent_ulaw, cli())).recording
    b = (await recs.add_file(other, cli())).recording
    assert a.rendition is not None and b.rendition is not None
    if a.rendition.sha256 != b.rendition.sha256:
        pytest.fail("the two renditions were expected to be the same file")
    await recs.delete(LEAD, a.id, "silent")
    assert recs.path_of(b.rendition).exists()
    await recs.delete(LEAD, b.id, "silent")
    assert not recs.path_of(b.rendition).exists()


# -- the audit chain ------------------------------------------------------------------------
async def filled_log(recs: Recordings) -> None:
    """Six entries: three stored recordings, one deletion, two plays."""
    a = (await recs.add_file(audio().alaw[0], cli())).recording
    await recs.add_file(audio().mp3, cli())
    s = (await recs.add_file(audio().silent, cli())).recording
    await recs.delete(LEAD, s.id, "empty")
    await recs.note_access(LEAD, a, False, "bytes=0-99")
    await recs.note_access(LEAD, a, True, "whole")


async def untrigger(engine: AsyncEngine) -> None:
    """What someone with the database owner's rights could do first."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE recording_audit DISABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER recording_audit_no_update"))
            await conn.execute(text("DROP TRIGGER recording_audit_no_delete"))


async def test_an_untouched_log_is_intact(recs: Recordings, engine: AsyncEngine) -> None:
    await filled_log(recs)
    verdict = await audit.verify(engine)
    assert verdict.intact and verdict.entries == 6, verdict.problem


@pytest.mark.parametrize(
    "sql",
    ["UPDATE recording_audit SET actor = 'x' WHERE seq = 2", "DELETE FROM recording_audit"],
)
async def test_the_database_refuses_to_change_or_remove_an_entry(
    recs: Recordings, engine: AsyncEngine, sql: str
) -> None:
    await filled_log(recs)
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(text(sql))


@pytest.mark.parametrize(
    ("tamper", "finding"),
    [
        (["UPDATE recording_audit SET detail = 'whole' WHERE seq = 5"], "entry 5: its content"),
        (["UPDATE recording_audit SET actor = 'li.na' WHERE seq = 3"], "entry 3: its content"),
        (["DELETE FROM recording_audit WHERE seq = 3"], "entry 3 is missing"),
        (
            [  # a forged entry slipped in as number 3, the later ones renumbered
                "UPDATE recording_audit SET seq = seq + 100 WHERE seq >= 3",
                "UPDATE recording_audit SET seq = seq - 99 WHERE seq >= 103",
                "INSERT INTO recording_audit SELECT 3, at, 'play', recording_id, 'nobody', '',"
                " hash, hash FROM recording_audit WHERE seq = 2",
            ],
            "entry 3: its content",
        ),
        (["DELETE FROM recording_audit WHERE seq = 6"], "the log ends at entry 5"),
    ],
)
async def test_tampering_with_the_log_is_found(
    recs: Recordings, engine: AsyncEngine, tamper: list[str], finding: str
) -> None:
    await filled_log(recs)
    await untrigger(engine)
    async with engine.begin() as conn:
        for sql in tamper:
            await conn.execute(text(sql))
    verdict = await audit.verify(engine)
    assert not verdict.intact
    assert verdict.problem is not None and verdict.problem.startswith(finding), verdict.problem
