"""The watched spool directory: a PBX (or anything else) drops finished recordings there, named
so that recordings.spool_pattern's group `call` gives the call.

watchfiles (inotify) reports changes; a file is taken once its size and modification time
have not changed for recordings.spool_settle_seconds (a PBX that writes in place is still
writing until then; one that writes elsewhere and renames into the spool is complete at
once). A stored file is removed from the spool (its bytes are in the store, checked by
SHA-256); a file that cannot be stored goes to spool/quarantine with NAME.reason.txt beside
it. Names starting with "." or ending in .part or .tmp are a writer's temporary files and
are left alone; symbolic links and other non-regular files are quarantined, never followed.
A database that is down is not the file's fault: the file stays and is tried again.
Nothing a file does stops the watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from watchfiles import awatch

from callcenter.errors import DomainError, Unavailable
from callcenter.recordings.model import call_from_name
from callcenter.recordings.service import Inbound, Recordings

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"
_TEMPORARY = (".part", ".tmp")
_RETRY_SECONDS = 30.0  # after a failure that is not the file's (the database is down)


@dataclass
class SpoolStats:
    taken: int = 0
    quarantined: int = 0
    retried: int = 0


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # loop time the file was last seen changing (or is next retried)


class Spool:
    def __init__(
        self, recordings: Recordings, folder: Path, pattern: str, settle_seconds: float
    ) -> None:
        self.recordings = recordings
        self.folder = folder
        self.quarantine = folder / QUARANTINE
        self.pattern = re.compile(pattern)
        self.settle = settle_seconds
        self.stats = SpoolStats()
        self._seen: dict[str, _Seen] = {}

    async def run(self) -> None:
        """Watch until cancelled; a failure of the watch itself (the folder removed) is
        logged and the watch starts again."""
        while True:
            try:
                await asyncio.to_thread(self.quarantine.mkdir, parents=True, exist_ok=True)
                await self._note_all()  # files that arrived while we were not watching
                await self._take_settled()
                tick = max(50, int(self.settle * 500))
                async for changes in awatch(
                    self.folder,
                    watch_filter=None,
                    recursive=False,
                    debounce=tick,
                    step=20,
                    rust_timeout=tick,
                    yield_on_timeout=True,
                    ignore_permission_denied=True,
                ):
                    for _change, raw in changes:
                        path = Path(raw)
                        if path.parent == self.folder:
                            await self._note(path.name)
                    await self._take_settled()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("spool watch failed folder=%s; watching again in 5 s", self.folder)
                await asyncio.sleep(5)

    def status(self) -> dict[str, int | str]:
        return {
            "folder": str(self.folder),
            "waiting": len(self._seen),
            "taken": self.stats.taken,
            "quarantined": self.stats.quarantined,
        }

    # -- which files are complete ---------------------------------------------------------
    async def _note_all(self) -> None:
        names = await asyncio.to_thread(os.listdir, self.folder)
        for name in names:
            await self._note(name)

    async def _note(self, name: str) -> None:
        if name.startswith(".") or name.endswith(_TEMPORARY) or name.endswith(".reason.txt"):
            return
        try:
            st = await asyncio.to_thread(os.lstat, self.folder / name)
        except FileNotFoundError:
            self._seen.pop(name, None)
            return
        if stat.S_ISDIR(st.st_mode):
            return
        now = asyncio.get_running_loop().time()
        seen = self._seen.get(name)
        if seen is None or (seen.size, seen.mtime_ns) != (st.st_size, st.st_mtime_ns):
            since = max(now, seen.since) if seen is not None else now
            self._seen[name] = _Seen(st.st_size, st.st_mtime_ns, since)

    async def _take_settled(self) -> None:
        now = asyncio.get_running_loop().time()
        for name in sorted(self._seen):
            seen = self._seen.get(name)
            if seen is None or now - seen.since < self.settle:
                continue
            try:
                st = await asyncio.to_thread(os.lstat, self.folder / name)
            except FileNotFoundError:
                del self._seen[name]
                continue
            if (st.st_size, st.st_mtime_ns) != (seen.size, seen.mtime_ns):
                self._seen[name] = _Seen(st.st_size, st.st_mtime_ns, now)  # still being written
                continue
            if await self._take(name, st):
                self._seen.pop(name, None)
            else:
                seen.since = now + _RETRY_SECONDS - self.settle

    # -- taking one ---------------------------------------------------------------------------
    async def _take(self, name: str, st: os.stat_result) -> bool:
        """True when the file is dealt with (stored or quarantined); False to try again."""
        path = self.folder / name
        if not stat.S_ISREG(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            await self._quarantine(name, f"not-a-regular-file: {kind}; it is not followed")
            return True
        call = call_from_name(self.pattern, name)
        if call is None:
            pattern = self.pattern.pattern
            await self._quarantine(
                name, f"bad-name: the name does not match recordings.spool_pattern {pattern}"
            )
            return True
        try:
            stored = await self.recordings.add_file(
                path, Inbound("spool", "spool", name, call, None), follow_links=False
            )
        except Unavailable as exc:  # ffmpeg missing: not the file's fault
            self.stats.retried += 1
            log.error("spool file not stored, tried again later name=%s: %s", name, exc.message)
            return False
        except DomainError as exc:
            await self._quarantine(name, f"{exc.code}: {exc.message}")
            return True
        except Exception:
            self.stats.retried += 1
            log.exception("spool file not stored, tried again later name=%s", name)
            return False
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
        self.stats.taken += 1
        log.info(
            "spool file stored name=%s recording=%s duplicate=%s",
            name, stored.recording.id, not stored.created,
        )  # fmt: skip
        return True

    async def _quarantine(self, name: str, reason: str) -> None:
        try:
            target = await asyncio.to_thread(
                _move_aside, self.folder / name, self.quarantine, reason
            )
        except FileNotFoundError:
            return
        except OSError:
            log.exception("spool file could not be quarantined name=%s reason=%s", name, reason)
            return
        self.stats.quarantined += 1
        log.warning("spool file quarantined name=%s as=%s reason=%s", name, target.name, reason)


def _move_aside(path: Path, folder: Path, reason: str) -> Path:
    """Move into the quarantine under a free name, then write NAME.reason.txt beside it
    (under a temporary name first, so a reason file is whole when it is there)."""
    target = folder / path.name
    n = 1
    while target.exists() or target.is_symlink():
        target = folder / f"{path.name}.{n}"
        n += 1
    os.rename(path, target)
    tmp = folder / f".{target.name}.reason.tmp"
    tmp.write_text(reason + "\n", encoding="utf-8")
    os.replace(tmp, folder / f"{target.name}.reason.txt")
    return target
