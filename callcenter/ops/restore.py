"""`callcenter restore`: a backup back into the configured database and recordings store.

In order, and nothing is touched before step 4: (1) the manifest is read and matched to
this installation (engine, schema revision); (2) the target must be empty, unless --force;
(3) every file of the backup is hashed against the manifest — a file altered, missing or
added is refused by name; (4) each file is copied next to where it goes, hashed again on
the way (a backup changed since step 3 is still refused); (5) the recordings are linked
into the store, then the database is replaced in one step; with --force, store files the
backup does not have are removed last. Afterwards the recording audit log's hash chain is
walked and every recording's file is looked for."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from callcenter import db
from callcenter.ops import databases
from callcenter.ops.archive import Reader
from callcenter.ops.manifest import (
    MANIFEST,
    RECORDINGS,
    BadBackup,
    Manifest,
    blob_sha256,
    copy_hashing,
    parse,
    store_files,
)
from callcenter.recordings import audit
from callcenter.recordings.model import blob_path
from callcenter.recordings.storage import INCOMING, hash_file
from callcenter.recordings.store import RecordingRow


class Unsuitable(Exception):
    """The backup cannot go into this installation (another engine, a newer schema)."""


class TargetNotEmpty(Exception):
    """The database or the store already holds something (and no --force)."""

    def __init__(self, what: list[str]) -> None:
        super().__init__("; ".join(what))
        self.what = what


@dataclass
class Restored:
    manifest: Manifest
    written: int = 0  # recordings linked into the store
    kept: int = 0  # already there with the same bytes
    replaced: int = 0  # there with other bytes (damaged), replaced (--force)
    removed: int = 0  # not in the backup, removed (--force)
    audit: audit.Verdict | None = None
    missing_files: list[str] = field(default_factory=list)
    upgrade_needed: bool = False
    notes: list[str] = field(default_factory=list)


# -- 1 and 2: does it fit, is the target empty -------------------------------------------
def read_manifest(reader: Reader, database_url: str) -> Manifest:
    manifest = parse(reader.read_manifest())
    here = databases.engine_of(database_url)
    if manifest.engine != here:
        raise Unsuitable(
            f"the backup holds a {manifest.engine} database; database.url is {here}: "
            "restore it into the engine it came from"
        )
    if manifest.revision is not None:
        scripts = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
        try:
            known = scripts.get_revision(manifest.revision) is not None
        except CommandError:
            known = False
        if not known:
            raise Unsuitable(
                f"the backup's schema revision {manifest.revision} is unknown to this version "
                f"(head {db.head_revision()}): restore it with the version that made it"
            )
    return manifest


def occupied(database_url: str, root: Path) -> list[str]:
    """What the target already holds, in words (empty list: nothing)."""
    what = []
    held = databases.contents(database_url)
    if held.tables:
        what.append(
            f"the database holds {held.tables} tables (schema revision {held.revision or '-'})"
        )
    files = sum(1 for _ in store_files(root))
    if files:
        what.append(f"the recordings store {root} holds {files} files")
    return what


def in_use(database_url: str) -> str | None:
    held = databases.contents(database_url)
    if held.other_sessions:
        return (
            f"{held.other_sessions} other sessions are connected to the database: "
            "stop the service (and anything else using it) first"
        )
    return None


# -- 3: every file against the manifest ---------------------------------------------------
def verify(reader: Reader, manifest: Manifest) -> None:
    """Hash every file of the backup; raise BadBackup naming the first one at fault."""
    expected = manifest.files()
    seen: set[str] = set()
    for name, _size, fh in reader.files():
        if name == MANIFEST:
            continue
        _check(name, expected, seen)
        sha, size = copy_hashing(fh, None)
        _compare(name, sha, size, expected[name].sha256, expected[name].size)
        seen.add(name)
    missing = sorted(set(expected) - seen)
    if missing:
        raise BadBackup(missing[0], f"missing from the backup ({len(missing)} files missing)")


def _check(name: str, expected: Mapping[str, object], seen: set[str]) -> None:
    if name not in expected:
        raise BadBackup(name, "not in the manifest (added to the backup after it was made)")
    if name in seen:
        raise BadBackup(name, "appears twice in the backup")


def _compare(name: str, sha: str, size: int, want_sha: str, want_size: int) -> None:
    if size != want_size:
        raise BadBackup(name, f"{size} bytes, the manifest says {want_size}: altered or cut")
    if sha != want_sha:
        raise BadBackup(name, "its SHA-256 does not match the manifest: altered or damaged")


# -- 4: staged beside where each file goes -------------------------------------------------
@dataclass
class Staged:
    dump: Path
    blobs: dict[str, Path]  # store-relative name -> staged file in the store's .incoming
    folder: Path  # the dump's temporary folder

    def discard(self) -> None:
        for path in self.blobs.values():
            path.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def stage(reader: Reader, manifest: Manifest, database_url: str, root: Path) -> Staged:
    if manifest.engine == "sqlite":
        near = databases.sqlite_path(database_url).parent
        near.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".restore-", dir=near))
    else:
        folder = Path(tempfile.mkdtemp(prefix="callcenter-restore-"))
    incoming = root / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    staged = Staged(folder / manifest.database.path, {}, folder)
    expected = manifest.files()
    try:
        for name, _size, fh in reader.files():
            if name == MANIFEST:
                continue
            _check(name, expected, set())
            if name == manifest.database.path:
                target = staged.dump
            else:
                target = incoming / f"restore-{uuid.uuid4().hex}.part"
                staged.blobs[name[len(RECORDINGS) :]] = target
            with target.open("xb") as out:
                sha, size = copy_hashing(fh, out)
                out.flush()
                os.fsync(out.fileno())
            _compare(name, sha, size, expected[name].sha256, expected[name].size)
        if not staged.dump.exists() or len(staged.blobs) != len(manifest.recordings):
            raise BadBackup(manifest.database.path, "the backup changed while it was restored")
    except BaseException:
        staged.discard()
        raise
    return staged


# -- 5: into place -------------------------------------------------------------------------
def _place(staged: Staged, manifest: Manifest, root: Path, done: Restored) -> None:
    want = {e.path[len(RECORDINGS) :]: e.sha256 for e in manifest.recordings}
    folders: set[Path] = set()
    for relative, tmp in staged.blobs.items():
        final = root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(tmp, final)
            done.written += 1
        except FileExistsError:
            if hash_file(final)[0] == want[relative]:
                done.kept += 1
            else:
                os.replace(tmp, final)
                done.replaced += 1
        tmp.unlink(missing_ok=True)
        folders.add(final.parent)
    for folder in folders:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_others(manifest: Manifest, root: Path, done: Restored) -> None:
    keep = {e.path[len(RECORDINGS) :] for e in manifest.recordings}
    for relative, path in list(store_files(root)):
        if relative not in keep:
            path.unlink(missing_ok=True)
            done.removed += 1


async def _check_restored(database_url: str, root: Path, done: Restored) -> None:
    engine = db.create_engine(database_url)
    try:
        done.audit = await audit.verify(engine)
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    RecordingRow.sha256,
                    RecordingRow.ext,
                    RecordingRow.rendition_sha256,
                    RecordingRow.rendition_ext,
                ).where(RecordingRow.deleted_at.is_(None))
            )
            for sha, ext, r_sha, r_ext in rows:
                for s, e in ((sha, ext), (r_sha, r_ext)):
                    if s and e and not blob_path(root, s, e).is_file():
                        done.missing_files.append(f"{s}.{e}")
    finally:
        await engine.dispose()


def restore(
    reader: Reader, manifest: Manifest, database_url: str, root: Path, force: bool
) -> Restored:
    """Steps 4 and 5 (the caller did 1-3)."""
    done = Restored(manifest)
    for relative in (e.path[len(RECORDINGS) :] for e in manifest.recordings):
        entry_sha = manifest.files()[RECORDINGS + relative].sha256
        if blob_sha256(relative) != entry_sha:
            done.notes.append(f"{RECORDINGS}{relative} was damaged when it was backed up")
    staged = stage(reader, manifest, database_url, root)
    try:
        _place(staged, manifest, root, done)
        databases.restore(database_url, staged.dump)
    finally:
        staged.discard()
    if force:
        _remove_others(manifest, root, done)
    with contextlib.suppress(OSError):
        (root / INCOMING).rmdir()  # made by stage; an empty one is not the store's
    try:
        asyncio.run(_check_restored(database_url, root, done))
    except DBAPIError as exc:  # a schema from before the audit log (migration 0005)
        done.notes.append(f"the audit log and the store were not checked: {exc.orig}")
    done.upgrade_needed = manifest.revision != db.head_revision()
    return done
