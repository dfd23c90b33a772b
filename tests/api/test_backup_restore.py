"""`callcenter backup` and `callcenter restore` as an operator runs them, on SQLite and on a
real PostgreSQL: a second installation gets the same users, recordings and audit chain; a
backup altered in any file is refused by name with nothing touched; a target that holds
something is refused unless --force."""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.cli import main
from tests.audio import audio
from tests.integration import bench


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(config: Path, *args: str, stdin: str = "") -> Ran:
    """The command as an operator types it, in this process (what it prints, its status)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--config", str(config), *args])
    finally:
        sys.stdin = saved
    return Ran(code, out.getvalue(), err.getvalue())


def installation(folder: Path, db_url: str) -> Path:
    """A config file for an installation in `folder` (its store: folder/rec)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cc.toml"
    config.write_text(
        f'[database]\nurl = "{db_url}"\n[recordings]\nroot = "{folder}/rec"\n'
        '[speech]\nenabled = "off"\n'
    )
    return config


@dataclass(frozen=True)
class Source:
    """An installation with a user and two recordings (A-law: each with its rendition), so
    the audit log has entries; and its backups, made once (tests copy them to alter)."""

    engine: str
    config: Path
    folder: Path
    backups: Path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    folder = tmp_path_factory.mktemp(f"source-{request.param}")
    cluster: bench.PostgresCluster | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{folder}/cc.sqlite3"
    else:
        cluster = request.getfixturevalue("postgres")
        name = cluster.create_database()
        url = cluster.url(name)
    config = installation(folder, url)
    assert run(config, "db", "upgrade").returncode == 0
    added = run(config, "user", "add", "lead", "--role", "team_lead", stdin="a long password\n")
    assert added.returncode == 0, added.stderr
    for leg in audio().alaw:
        stored = run(config, "recording", "add", "--call", "1733299200.42", str(leg))
        assert stored.returncode == 0, stored.stderr
    backups = folder / "backups"
    for shape in ("dir", "file.tar.gz"):
        made = run(config, "backup", "--to", str(backups / shape))
        assert made.returncode == 0, made.stderr
        assert "4 recording files" in made.stdout and "manifest sha256 " in made.stdout
    yield Source(request.param, config, folder, backups)
    if cluster is not None:
        cluster.drop_database(name)


@pytest.fixture
def target_url(source: Source, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of the source's engine, for a second installation."""
    if source.engine == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/target/cc.sqlite3"
        return
    cluster: bench.PostgresCluster = request.getfixturevalue("postgres")
    name = cluster.create_database()
    try:
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


@pytest.fixture
def backup(source: Source, tmp_path: Path) -> Path:
    """A copy of the source's directory backup, to alter."""
    return Path(shutil.copytree(source.backups / "dir", tmp_path / "backup"))


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def one_recording(backup: Path) -> Path:
    return next(p for p in sorted((backup / "recordings").rglob("*")) if p.is_file())


@pytest.mark.parametrize("shape", ["dir", "file.tar.gz"])
def test_restore_gives_a_new_installation_the_same_data_and_audit_chain(
    source: Source, target_url: str, tmp_path: Path, shape: str
) -> None:
    target = installation(tmp_path / "target", target_url)
    restored = run(target, "restore", "--from", str(source.backups / shape))
    assert restored.returncode == 0, restored.stderr
    assert "audit log: chain intact" in restored.stdout

    for command in (["audit", "verify"], ["user", "list"], ["db", "current"]):
        before, after = run(source.config, *command), run(target, *command)
        assert after.returncode == 0, after.stderr
        assert after.stdout == before.stdout
    assert files(tmp_path / "target" / "rec") == files(source.folder / "rec")


def test_a_backup_altered_in_one_recording_is_refused_by_name_and_nothing_is_touched(
    backup: Path, target_url: str, tmp_path: Path
) -> None:
    altered = one_recording(backup)
    data = bytearray(altered.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one sample
    altered.write_bytes(bytes(data))

    target = installation(tmp_path / "target", target_url)
    refused = run(target, "restore", "--from", str(backup))
    assert refused.returncode == 1
    name = altered.relative_to(backup).as_posix()
    assert f"backup refused: {name}: its SHA-256 does not match the manifest" in refused.stderr
    assert "Nothing was restored" in refused.stderr
    assert run(target, "db", "current").stdout.strip() == "(empty)"
    assert files(tmp_path / "target" / "rec") == {}


@pytest.mark.parametrize("what", ["dump", "added", "removed"])
def test_a_dump_altered_a_file_added_or_one_removed_is_refused_by_name(
    backup: Path, target_url: str, tmp_path: Path, what: str
) -> None:
    dump = next(backup.glob("database.*"))
    if what == "dump":
        with dump.open("ab") as fh:
            fh.write(b"\0")
        name = dump.name
    elif what == "added":
        extra = backup / "recordings" / "00" / "00" / ("00" * 32 + ".wav")
        extra.parent.mkdir(parents=True)
        extra.write_bytes(b"RIFF not ours")
        name = extra.relative_to(backup).as_posix()
    else:
        gone = one_recording(backup)
        gone.unlink()
        name = gone.relative_to(backup).as_posix()
    refused = run(installation(tmp_path / "target", target_url), "restore", "--from", str(backup))
    assert refused.returncode == 1
    assert f"backup refused: {name}: " in refused.stderr


def test_a_target_that_holds_data_is_refused_unless_forced(
    source: Source, target_url: str, tmp_path: Path
) -> None:
    target = installation(tmp_path / "target", target_url)
    assert run(target, "db", "upgrade").returncode == 0
    stray = tmp_path / "target" / "rec" / "ab" / "cd" / ("abcd" + "0" * 60 + ".wav")
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"a recording the backup does not have")

    backup = source.backups / "file.tar.gz"
    refused = run(target, "restore", "--from", str(backup))
    assert refused.returncode == 3
    assert "the target is not empty: the database holds" in refused.stderr
    assert "the recordings store" in refused.stderr and "holds 1 files" in refused.stderr
    assert stray.exists()

    forced = run(target, "restore", "--from", str(backup), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "1 files not in the backup removed" in forced.stdout
    assert not stray.exists()
    assert run(target, "audit", "verify").stdout == run(source.config, "audit", "verify").stdout


def test_a_backup_of_another_engine_is_refused(source: Source, tmp_path: Path) -> None:
    other = (
        "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        if source.engine == "sqlite"
        else f"sqlite+aiosqlite:///{tmp_path}/other.sqlite3"
    )
    target = installation(tmp_path / "other", other)
    refused = run(target, "restore", "--from", str(source.backups / "dir"))
    assert refused.returncode == 2
    assert "restore it into the engine it came from" in refused.stderr


def test_backup_refuses_a_destination_that_is_not_empty(source: Source, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    refused = run(source.config, "backup", "--to", str(tmp_path / "full"))
    assert refused.returncode == 2 and "is not an empty directory" in refused.stderr
