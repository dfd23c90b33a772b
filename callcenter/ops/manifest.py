"""A backup's manifest: which database engine and schema revision it holds, and every file
in it (the database dump and each recording) with its size and SHA-256. Restore checks the
backup against it, file by file, before it touches anything."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

FORMAT = "callcenter-backup/1"
MANIFEST = "manifest.json"
RECORDINGS = "recordings/"
DUMP_NAMES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_BLOCK = 1 << 20
# The recordings store's own layout (recordings/storage.py): ab/cd/<sha256>.<ext>.
BLOB = re.compile(r"^([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})\.([A-Za-z0-9]{1,8})$")


class BadBackup(Exception):
    """The backup is not what its manifest says: `name` is the file at fault."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str
    engine: str  # "sqlite" or "postgresql"
    revision: str | None  # the database's schema revision (Alembic)
    database: FileEntry
    recordings: tuple[FileEntry, ...]
    software: str

    def files(self) -> dict[str, FileEntry]:
        return {e.path: e for e in (self.database, *self.recordings)}

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "created_at": self.created_at,
            "software": self.software,
            "database": {"engine": self.engine, "revision": self.revision} | asdict(self.database),
            "recordings": [asdict(e) for e in self.recordings],
        }
        return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def _entry(raw: Any, where: str) -> FileEntry:
    if not isinstance(raw, dict):
        raise BadBackup(MANIFEST, f"{where} must be an object")
    path, sha, size = raw.get("path"), raw.get("sha256"), raw.get("size")
    if not isinstance(path, str) or not safe_name(path):
        raise BadBackup(MANIFEST, f"{where}: not a safe relative path: {path!r}")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise BadBackup(MANIFEST, f"{where} ({path}): sha256 must be 64 hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadBackup(MANIFEST, f"{where} ({path}): size must be a whole number")
    return FileEntry(path, sha, size)


def parse(data: bytes) -> Manifest:
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadBackup(MANIFEST, f"not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BadBackup(MANIFEST, f"not a callcenter backup manifest (format {FORMAT})")
    db = raw.get("database")
    if not isinstance(db, dict) or db.get("engine") not in DUMP_NAMES:
        raise BadBackup(MANIFEST, "database.engine must be sqlite or postgresql")
    database = _entry(db, "database")
    if database.path != DUMP_NAMES[db["engine"]]:
        raise BadBackup(MANIFEST, f"database.path must be {DUMP_NAMES[db['engine']]}")
    revision = db.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise BadBackup(MANIFEST, "database.revision must be a string")
    items = raw.get("recordings")
    if not isinstance(items, list):
        raise BadBackup(MANIFEST, "recordings must be a list")
    recordings = tuple(_entry(item, f"recordings[{i}]") for i, item in enumerate(items))
    for entry in recordings:
        if not (entry.path.startswith(RECORDINGS) and BLOB.match(entry.path[len(RECORDINGS) :])):
            raise BadBackup(MANIFEST, f"{entry.path}: not a recordings store path")
    if len({e.path for e in recordings}) != len(recordings):
        raise BadBackup(MANIFEST, "a recording is listed twice")
    return Manifest(
        created_at=str(raw.get("created_at", "")),
        engine=db["engine"],
        revision=revision,
        database=database,
        recordings=recordings,
        software=str(raw.get("software", "")),
    )


def safe_name(name: str) -> bool:
    """A relative path inside the backup: no absolute path, no `..`, no empty part."""
    parts = name.split("/")
    return bool(name) and not name.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def blob_sha256(relative: str) -> str | None:
    """The SHA-256 a store file's name promises (None: not a store file)."""
    match = BLOB.match(relative)
    return match.group(3) if match else None


def store_files(root: Path) -> Iterator[tuple[str, Path]]:
    """The recordings store's files as (ab/cd/<sha256>.<ext>, path), in name order; anything
    else under the root (.incoming, a stray file) is not the store's."""
    if not root.is_dir():
        return
    for first in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for second in sorted(p for p in first.iterdir() if p.is_dir() and not p.is_symlink()):
            for blob in sorted(second.iterdir()):
                relative = f"{first.name}/{second.name}/{blob.name}"
                if BLOB.match(relative) and blob.is_file() and not blob.is_symlink():
                    yield relative, blob


def copy_hashing(
    src: IO[bytes], dst: IO[bytes] | None, limit: int | None = None
) -> tuple[str, int]:
    """Copy src to dst (None: only read), hashing on the way: (sha256, size). With `limit`,
    read at most that many bytes."""
    digest = hashlib.sha256()
    size = 0
    while True:
        want = _BLOCK if limit is None else min(_BLOCK, limit - size)
        if want <= 0:
            break
        block = src.read(want)
        if not block:
            break
        digest.update(block)
        if dst is not None:
            dst.write(block)
        size += len(block)
    return digest.hexdigest(), size
