"""`callcenter backup`: the database dump and the recordings store, with a manifest of every
file's SHA-256, into a directory or one tar file. Safe while the service runs.

Recordings are copied twice over, around the dump: first every stored file, then those
stored while the dump ran. Stored files never change (content-addressed), so every file a
row of the dump names was in the store before the dump began or appeared during it, and
is in the backup — even one deleted meanwhile."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from callcenter.ops import databases
from callcenter.ops.archive import Writer, writer_for
from callcenter.ops.manifest import (
    DUMP_NAMES,
    RECORDINGS,
    FileEntry,
    Manifest,
    blob_sha256,
    store_files,
)


@dataclass
class Made:
    """What a backup holds, for the summary; `problems` are store files whose bytes no
    longer match their name (damaged on disk: kept as they are, reported)."""

    manifest: Manifest
    manifest_sha256: str
    problems: list[str] = field(default_factory=list)

    @property
    def recording_bytes(self) -> int:
        return sum(e.size for e in self.manifest.recordings)


def software_version() -> str:
    try:
        return f"callcenter {metadata.version('callcenter')}"
    except metadata.PackageNotFoundError:
        return "callcenter"


def _copy_store(
    writer: Writer, root: Path, copied: dict[str, FileEntry], problems: list[str]
) -> None:
    for relative, path in store_files(root):
        if relative in copied:
            continue
        try:
            entry = writer.add(RECORDINGS + relative, path)
        except FileNotFoundError:
            continue  # deleted since it was listed (an empty recording a lead removed)
        copied[relative] = entry
        if entry.sha256 != blob_sha256(relative):
            problems.append(f"{RECORDINGS}{relative}: its bytes do not match its name")


def make_backup(database_url: str, recordings_root: Path, to: Path) -> Made:
    """Write the backup to `to` (a new or empty directory, or a new .tar/.tar.gz/.tgz)."""
    engine = databases.engine_of(database_url)
    writer = writer_for(to)
    scratch = writer.scratch()
    try:
        copied: dict[str, FileEntry] = {}
        problems: list[str] = []
        _copy_store(writer, recordings_root, copied, problems)
        revision = databases.dump(database_url, scratch)
        dump = writer.add(DUMP_NAMES[engine], scratch, move=True)
        _copy_store(writer, recordings_root, copied, problems)
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            engine=engine,
            revision=revision,
            database=dump,
            recordings=tuple(copied[k] for k in sorted(copied)),
            software=software_version(),
        )
        body = manifest.to_json()
        writer.finish(body)
    except BaseException:
        with contextlib.suppress(OSError):
            scratch.unlink(missing_ok=True)
        writer.abandon()
        raise
    return Made(manifest, hashlib.sha256(body).hexdigest(), problems)
