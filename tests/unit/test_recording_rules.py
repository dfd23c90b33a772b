"""The recording rules, pure: who may delete, which originals a browser plays, where a file
lives, how a PBX's path and a spool file's name are read, how an audit entry is hashed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.auth.model import Principal, Role
from callcenter.recordings.audit import GENESIS, entry_hash
from callcenter.recordings.model import (
    Analysis,
    Blob,
    Deletion,
    Recording,
    blob_path,
    call_from_name,
    deletion_refusal,
    map_path,
    playable,
)

AT = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def recording(empty: bool, deleted: bool = False) -> Recording:
    return Recording(
        id="r1",
        original=Blob("ab" * 32, "wav", 100),
        container="wav",
        codec="pcm_alaw",
        analysis=Analysis(3.0, 1, 8000, None if empty else -20.0, None, 0 if empty else 900, empty),
        rendition=None,
        via="cli",
        name="x.wav",
        received_at=AT,
        call_ref=None,
        source=None,
        call_id=None,
        linked_at=None,
        deleted=Deletion(AT, "wang.lead", "empty") if deleted else None,
    )


def user(role: Role) -> Principal:
    return Principal(1, f"someone-{role.value}", role)


def code(role: Role, rec: Recording, reason: str = "the line was silent") -> str | None:
    refusal = deletion_refusal(user(role), rec, reason)
    return refusal.code if refusal is not None else None


def test_agents_may_never_delete_even_an_empty_recording() -> None:
    assert code(Role.AGENT, recording(empty=True)) == "recording-not-deletable"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR, Role.QA_LEAD, Role.PBX])
def test_only_a_team_lead_deletes(role: Role) -> None:
    assert code(role, recording(empty=True)) == "recording-not-deletable"


def test_a_team_lead_deletes_an_empty_recording_with_a_reason() -> None:
    assert code(Role.TEAM_LEAD, recording(empty=True)) is None


def test_a_team_lead_may_not_delete_a_recording_with_sound() -> None:
    assert code(Role.TEAM_LEAD, recording(empty=False)) == "recording-not-empty"


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_a_deletion_needs_a_written_reason(reason: str) -> None:
    assert code(Role.TEAM_LEAD, recording(empty=True), reason) == "reason-required"


def test_a_deleted_recording_is_not_deleted_twice() -> None:
    assert code(Role.TEAM_LEAD, recording(empty=True, deleted=True)) == "recording-deleted"


@pytest.mark.parametrize(
    ("container", "codec", "plays"),
    [
        ("wav", "pcm_s16le", True),
        ("mp3", "mp3", True),
        ("ogg", "opus", True),
        ("ogg", "vorbis", True),
        ("wav", "pcm_alaw", False),
        ("wav", "pcm_mulaw", False),
        ("wav", "gsm_ms", False),
        ("gsm", "gsm", False),
        ("flac", "flac", False),
    ],
)
def test_what_a_browser_plays_as_it_is(container: str, codec: str, plays: bool) -> None:
    assert playable(container, codec) is plays


def test_a_file_lives_under_two_levels_of_its_hash() -> None:
    sha = "0b34f10836141f2fe1069e1862e8ac003eb89deb1965b97687a6dbf7f7dfbd3b"
    assert blob_path(Path("/r"), sha, "wav") == Path(f"/r/0b/34/{sha}.wav")


def test_a_pbx_path_is_mapped_by_the_longest_prefix() -> None:
    mapping = ("/var/lib/freeswitch=/mnt/fs", "/var/lib/freeswitch/recordings=/mnt/rec")
    assert map_path("/var/lib/freeswitch/recordings/a/b.wav", mapping) == "/mnt/rec/a/b.wav"
    assert map_path("/var/lib/freeswitch/other.wav", mapping) == "/mnt/fs/other.wav"
    assert map_path("/var/lib/freeswitchy/x.wav", mapping) == "/var/lib/freeswitchy/x.wav"
    assert map_path("/tmp/x.wav", ()) == "/tmp/x.wav"


def test_a_spool_name_gives_its_call() -> None:
    pattern = re.compile(r"^(?P<call>[^.]+)\.(wav|mp3)$")
    assert call_from_name(pattern, "1733299200.42.wav") is None  # a dot in the id: no match
    assert call_from_name(pattern, "feedface-1a2b.wav") == "feedface-1a2b"
    assert call_from_name(pattern, "notes.txt") is None


def test_an_audit_hash_covers_every_field_and_the_previous_hash() -> None:
    base = (1, AT, "play", "r1", "li.na", "bytes=0-99", GENESIS)
    digest = entry_hash(*base)
    assert len(digest) == 64
    for i, other in enumerate((2, AT.replace(microsecond=1), "download", "r2", "x", "", "1" * 64)):
        changed = list(base)
        changed[i] = other
        assert entry_hash(*changed) != digest, f"field {i} is not covered"
