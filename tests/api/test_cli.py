"""The `callcenter` command as an operator uses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "cc.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cc.sqlite3"\n'
        '[web]\nlisten = "127.0.0.1:0"\n[sip]\nhep_listen = "127.0.0.1:0"\n'
    )
    return tmp_path


def test_unknown_key_stops_with_status_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[rings]\ncycle_secs = 5\n")
    result = run(tmp_path, "--config", "bad.toml", "serve")
    assert result.returncode == 2
    assert "rings.cycle_secs" in result.stderr


def test_bad_value_stops_with_status_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[rings]\nlimit = -3\n")
    result = run(tmp_path, "--config", "bad.toml", "db", "upgrade")
    assert result.returncode == 2
    assert "rings.limit" in result.stderr


def test_serve_refuses_an_unmigrated_database(workdir: Path) -> None:
    result = run(workdir, "--config", "cc.toml", "serve")
    assert result.returncode == 2
    assert "callcenter db upgrade" in result.stderr


def test_user_add_generates_a_password_once_and_token_create_prints_a_token(
    workdir: Path,
) -> None:
    assert run(workdir, "--config", "cc.toml", "db", "upgrade").returncode == 0
    added = run(workdir, "--config", "cc.toml", "user", "add", "li.na", "--role", "agent",
                "--extension", "2001", "--work-number", "007")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "password: " in added.stdout
    piped = run(workdir, "--config", "cc.toml", "user", "add", "lead", "--role", "team_lead",
                stdin="a long enough password\n")  # fmt: skip
    assert piped.returncode == 0 and "password:" not in piped.stdout
    listing = run(workdir, "--config", "cc.toml", "user", "list").stdout
    assert "li.na\tagent\t2001\t007" in listing
    token = run(workdir, "--config", "cc.toml", "token", "create", "lead")
    assert token.returncode == 0 and token.stdout.startswith("cc_")
    assert "a long enough password" not in (added.stderr + piped.stderr + token.stderr)


def test_user_add_with_a_bad_role_is_refused(workdir: Path) -> None:
    run(workdir, "--config", "cc.toml", "db", "upgrade")
    result = run(workdir, "--config", "cc.toml", "user", "add", "x", "--role", "boss")
    assert result.returncode == 2 and "--role" in result.stderr


def test_duplicate_user_is_a_clear_error(workdir: Path) -> None:
    run(workdir, "--config", "cc.toml", "db", "upgrade")
    run(workdir, "--config", "cc.toml", "user", "add", "a", "--role", "agent")
    again = run(workdir, "--config", "cc.toml", "user", "add", "a", "--role", "agent")
    assert again.returncode == 1 and "exists" in again.stderr
