"""The `callcenter` command as an operator uses it."""

from __future__ import annotations

import sqlite3
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


def test_an_agent_without_an_extension_is_refused(workdir: Path) -> None:
    run(workdir, "--config", "cc.toml", "db", "upgrade")
    result = run(workdir, "--config", "cc.toml", "user", "add", "a", "--role", "agent")
    assert result.returncode == 2
    assert "agents need --extension: the phone they answer" in result.stderr
    assert "Traceback" not in result.stderr
    assert run(workdir, "--config", "cc.toml", "user", "list").stdout == ""


@pytest.mark.parametrize(
    ("again", "says"),
    [
        (["li.na", "--role", "team_lead"], "a user named 'li.na' already exists"),
        (
            ["zhang", "--role", "agent", "--extension", "2001"],
            "extension 2001 is already held by user 'li.na'",
        ),
        (
            ["zhang", "--role", "agent", "--extension", "2002", "--work-number", "007"],
            "work number 007 is already held by user 'li.na'",
        ),
    ],
)
def test_a_duplicate_user_names_what_clashed(workdir: Path, again: list[str], says: str) -> None:
    run(workdir, "--config", "cc.toml", "db", "upgrade")
    first = run(workdir, "--config", "cc.toml", "user", "add", "li.na", "--role", "agent",
                "--extension", "2001", "--work-number", "007")  # fmt: skip
    assert first.returncode == 0, first.stderr
    result = run(workdir, "--config", "cc.toml", "user", "add", *again)
    assert result.returncode == 1
    assert says in result.stderr
    assert "Traceback" not in result.stderr and "IntegrityError" not in result.stderr
    assert "password:" not in result.stdout  # nothing added, no password handed out
    listing = run(workdir, "--config", "cc.toml", "user", "list").stdout
    assert listing.count("\n") == 1


@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_db_commands_print_the_revision_without_library_log_lines(
    workdir: Path, command: str
) -> None:
    if command == "current":
        run(workdir, "--config", "cc.toml", "db", "upgrade")
    result = run(workdir, "--config", "cc.toml", "db", command)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no "INFO alembic.runtime.migration Context impl SQLiteImpl."
    assert result.stdout.strip() and "alembic" not in result.stdout


def test_a_failing_db_upgrade_shows_what_alembic_said(tmp_path: Path) -> None:
    (tmp_path / "cc.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cc.sqlite3"\n'
    )
    run(tmp_path, "--config", "cc.toml", "db", "upgrade")
    with sqlite3.connect(tmp_path / "cc.sqlite3") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff'")  # a revision we lack
    result = run(tmp_path, "--config", "cc.toml", "db", "upgrade")
    assert result.returncode != 0
    assert "Can't locate revision identified by 'ffff'" in result.stderr
    assert "INFO alembic.runtime.migration" in result.stderr  # its narration, to debug with


def auth_log(workdir: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(workdir / "cc.sqlite3") as conn:
        rows = conn.execute("SELECT event, name, detail FROM auth_log ORDER BY id").fetchall()
    return [tuple(r) for r in rows]


def test_tokens_are_listed_without_their_secret_and_revoked_by_id(workdir: Path) -> None:
    cc = ("--config", "cc.toml")
    run(workdir, *cc, "db", "upgrade")
    run(workdir, *cc, "user", "add", "lead", "--role", "team_lead")
    run(workdir, *cc, "user", "add", "boss", "--role", "supervisor")
    created = run(workdir, *cc, "token", "create", "lead", "--expires-days", "30")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("cc_")
    assert "token created id=1 user=lead expires=" in created.stderr
    run(workdir, *cc, "token", "create", "boss")
    listing = run(workdir, *cc, "token", "list")
    assert listing.returncode == 0, listing.stderr
    header, first, second = listing.stdout.splitlines()
    assert header.split("\t") == ["id", "user", "created", "last used", "expires", "state"]
    assert first.split("\t")[:2] == ["1", "lead"] and first.endswith("\tactive")
    assert first.split("\t")[3] == "-" and first.split("\t")[4].endswith("Z")
    assert second.split("\t")[:2] == ["2", "boss"] and second.split("\t")[4] == "never"
    only_lead = run(workdir, *cc, "token", "list", "lead").stdout.splitlines()
    assert [line.split("\t")[0] for line in only_lead[1:]] == ["1"]
    revoked = run(workdir, *cc, "token", "revoke", "1")
    assert revoked.returncode == 0, revoked.stderr
    assert "token revoked id=1 user=lead" in revoked.stderr
    rows = run(workdir, *cc, "token", "list").stdout.splitlines()[1:]
    assert [line.split("\t")[0] for line in rows] == ["2"]
    again = run(workdir, *cc, "token", "revoke", "1")
    assert again.returncode == 1 and "no token with id 1" in again.stderr
    everything = listing.stdout + listing.stderr + revoked.stdout + revoked.stderr
    assert token not in everything and token not in str(auth_log(workdir))
    assert [e for e, _, _ in auth_log(workdir)][-1] == "token-revoked"


def test_a_user_is_disabled_and_enabled_and_each_change_is_logged(workdir: Path) -> None:
    cc = ("--config", "cc.toml")
    run(workdir, *cc, "db", "upgrade")
    run(workdir, *cc, "user", "add", "li.na", "--role", "agent", "--extension", "2001")
    disabled = run(workdir, *cc, "user", "disable", "li.na")
    assert disabled.returncode == 0, disabled.stderr
    assert "user disabled user=li.na sessions_ended=0" in disabled.stderr
    assert "li.na\tagent\t2001\t-\tdisabled" in run(workdir, *cc, "user", "list").stdout
    enabled = run(workdir, *cc, "user", "enable", "li.na")
    assert enabled.returncode == 0 and "user enabled user=li.na" in enabled.stderr
    assert "disabled" not in run(workdir, *cc, "user", "list").stdout
    missing = run(workdir, *cc, "user", "disable", "nobody")
    assert missing.returncode == 1 and "no user named 'nobody'" in missing.stderr
    events = [(e, n) for e, n, _ in auth_log(workdir)]
    assert events == [
        ("user-added", "li.na"),
        ("user-disabled", "li.na"),
        ("user-enabled", "li.na"),
    ]
    assert all("by=cli:" in (d or "") for _, _, d in auth_log(workdir))


def test_passwd_ends_the_users_sessions(workdir: Path) -> None:
    cc = ("--config", "cc.toml")
    run(workdir, *cc, "db", "upgrade")
    run(workdir, *cc, "user", "add", "lead", "--role", "team_lead")
    with sqlite3.connect(workdir / "cc.sqlite3") as conn:
        conn.execute(
            "INSERT INTO web_sessions (user_id, token_hash, created_at, expires_at) "
            "VALUES (1, 'x', '2026-01-01 00:00:00', '2999-01-01 00:00:00')"
        )
    changed = run(workdir, *cc, "user", "passwd", "lead", stdin="another long password\n")
    assert changed.returncode == 0, changed.stderr
    assert "password of lead changed; 1 session ended" in changed.stdout
    assert "another long password" not in changed.stdout + changed.stderr
    with sqlite3.connect(workdir / "cc.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM web_sessions").fetchone() == (0,)
    assert auth_log(workdir)[-1][0] == "password-changed"
