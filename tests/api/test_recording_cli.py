"""`callcenter recording add` as Asterisk's MixMonitor post-command runs it, and `callcenter
audit verify` as an operator does."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audio import audio


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "--config", "cc.toml", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "cc.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cc.sqlite3"\n'
        f'[recordings]\nroot = "{tmp_path}/rec"\n'
    )
    assert run(tmp_path, "db", "upgrade").returncode == 0
    return tmp_path


def test_recording_add_prints_the_recording_and_for_a_duplicate_the_stored_one(
    workdir: Path,
) -> None:
    leg = str(audio().alaw[0])
    first = run(workdir, "recording", "add", "--call", "1733299200.42", leg)
    assert first.returncode == 0, first.stderr
    body = json.loads(first.stdout)
    assert body["call_ref"] == "1733299200.42" and body["linked"] is False  # no such call yet
    assert (body["codec"], body["empty"], body["duplicate"]) == ("pcm_alaw", False, False)
    assert body["rendition"]["media_type"] == "audio/wav"
    again = json.loads(run(workdir, "recording", "add", "--call", "1733299200.42", leg).stdout)
    assert again["id"] == body["id"] and again["duplicate"] is True


@pytest.mark.parametrize(
    ("name", "code"),
    [("zero", "empty-file"), ("not_audio", "not-audio"), ("truncated_wav", "truncated-audio")],
)
def test_recording_add_refuses_a_bad_file_with_its_reason(
    workdir: Path, name: str, code: str
) -> None:
    result = run(workdir, "recording", "add", "--call", "x", str(getattr(audio(), name)))
    assert result.returncode == 1 and result.stdout == ""
    assert f"error: {code}: " in result.stderr


def test_recording_add_refuses_a_device_and_a_missing_file(workdir: Path) -> None:
    device = run(workdir, "recording", "add", "/dev/zero")
    assert device.returncode == 1 and "not-a-regular-file" in device.stderr
    missing = run(workdir, "recording", "add", str(workdir / "nope.wav"))
    assert missing.returncode == 1 and "no-such-file" in missing.stderr


def test_audit_verify_says_intact_then_names_the_altered_entry(workdir: Path) -> None:
    for path in (audio().alaw[0], audio().mp3, audio().alaw[0]):
        assert run(workdir, "recording", "add", str(path)).returncode == 0
    ok = run(workdir, "audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("chain intact (3 entries)")
    with sqlite3.connect(workdir / "cc.sqlite3") as conn:
        conn.execute("DROP TRIGGER recording_audit_no_update")
        conn.execute("UPDATE recording_audit SET actor = 'someone else' WHERE seq = 2")
    broken = run(workdir, "audit", "verify")
    assert broken.returncode == 1
    assert "entry 2: its content does not match its hash" in broken.stderr
