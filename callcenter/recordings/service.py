"""Recordings' use cases: take a file in (any way in), store it once, analyse it, link it to
its call (now or when the call appears), let those who may hear it, delete by the rules;
every step written to the audit log in the same transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.model import Principal, Role
from callcenter.clock import Clock
from callcenter.config import RecordingsSettings
from callcenter.errors import DomainError, NotFound
from callcenter.events import RecordingStored
from callcenter.recordings import audit, storage, store
from callcenter.recordings.analysis import RAW_INPUTS, BadAudio, Rules, analyse
from callcenter.recordings.audit import Entry
from callcenter.recordings.model import (
    ALL_RECORDINGS,
    Blob,
    Deletion,
    Recording,
    Via,
    blob_path,
    deletion_refusal,
    extension,
    map_path,
)
from callcenter.recordings.storage import BadPath
from callcenter.signals import RecordingReady

log = logging.getLogger(__name__)

_INBOX = 1000  # announced recordings waiting; past it one is refused and logged
_WORKERS = 2  # recordings analysed at once (each may run ffmpeg)
_FILE_RETRIES = (0.5, 1.0, 2.0)  # a PBX's file not yet visible on a shared mount
_RECONCILE_EVERY = 30.0
_RECONCILE_WINDOW = timedelta(days=1)
_LINK_BATCH_EVERY = 1.0


class TicketLookup(Protocol):
    """What the recordings need from the tickets capability (wired in callcenter/app)."""

    async def calls_of_ticket(self, ticket_id: str) -> list[str] | None:
        """Our ids of the calls a ticket is linked to; None if there is no such ticket."""
        ...

    async def ticket_owners(self, call_pk: str) -> frozenset[int]:
        """User ids of the agents who took a ticket on this call (首问责任制: they follow it
        up, so they may hear its recording)."""
        ...


class NoTickets:
    """Until the tickets capability is wired: no tickets, no owners."""

    async def calls_of_ticket(self, ticket_id: str) -> list[str] | None:
        return None

    async def ticket_owners(self, call_pk: str) -> frozenset[int]:
        return frozenset()


@dataclass(frozen=True, slots=True)
class Inbound:
    """What is known of a file arriving: how, from whom, its name and the call it names."""

    via: Via
    actor: str
    name: str
    call_ref: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    recording: Recording
    created: bool


@dataclass
class Stats:
    stored: int = 0
    duplicates: int = 0
    linked: int = 0
    refused: Counter[str] = field(default_factory=Counter)


def new_id() -> str:
    return uuid.uuid4().hex


class Recordings:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        settings: RecordingsSettings,
        root: Path,
        tickets: TicketLookup | None = None,
        on_stored: Callable[[RecordingStored], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.root = root
        self.tickets: TicketLookup = tickets or NoTickets()
        # After a new recording's commit (the service: the bus; the command line: the queue).
        self.on_stored = on_stored
        self.rules = Rules(settings.silence_dbfs, settings.min_sound_ms)
        self.import_dirs = tuple(Path(d) for d in settings.import_dirs)
        self.stats = Stats()
        self._slots: asyncio.Semaphore | None = None
        self._inbox: asyncio.Queue[RecordingReady] | None = None
        self._taking: set[RecordingReady] = set()  # announced, being stored now
        self._closed_calls: set[str] = set()

    # -- in ---------------------------------------------------------------------------------
    def checked_path(self, raw: str, *, announced: bool) -> Path:
        """The local file a PBX (`announced`) or the command line names, if it may be read:
        mapped by recordings.path_map, symlinks resolved, inside recordings.import_dirs (a
        PBX's paths must be; the command line's too when import_dirs is set)."""
        path = Path(map_path(raw, self.settings.path_map)).resolve()
        if self.import_dirs:
            if not any(path.is_relative_to(d.resolve()) for d in self.import_dirs):
                raise BadPath(
                    "path-not-allowed",
                    f"{raw} is outside recordings.import_dirs (symbolic links resolved)",
                )
        elif announced:
            raise BadPath(
                "path-not-allowed",
                f"{raw}: set recordings.import_dirs to the directories a PBX's recordings "
                "may be read from",
            )
        return path

    async def add_file(self, path: Path, inbound: Inbound, *, follow_links: bool = True) -> Stored:
        """Store the regular file at `path` (already checked); the file itself is left as
        it is."""
        try:
            src = storage.open_regular(path, follow_links)
            with src:
                tmp, sha, size = await asyncio.to_thread(storage.copy_in, src, self.root)
        except DomainError as exc:
            self.stats.refused[exc.code] += 1
            raise
        return await self.add_incoming(tmp, sha, size, inbound)

    async def add_incoming(self, tmp: Path, sha: str, size: int, inbound: Inbound) -> Stored:
        """Store a fsynced temporary file of the store (its hash and size known)."""
        try:
            return await self._add(tmp, sha, size, inbound)
        except DomainError as exc:
            self.stats.refused[exc.code] += 1
            raise
        finally:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)

    async def _add(self, tmp: Path, sha: str, size: int, inbound: Inbound) -> Stored:
        if size == 0:
            raise BadAudio("empty-file", "the file is empty (0 bytes)")
        async with self.db().connect() as conn:
            existing = await store.by_sha(conn, sha)
        if existing is not None:
            return await self._again(existing, inbound)
        suffix = Path(inbound.name).suffix.lower().lstrip(".")
        rendition_tmp = storage.temporary(self.root, ".wav")
        try:
            if self._slots is None:
                self._slots = asyncio.Semaphore(_WORKERS)
            async with self._slots:
                info, result, made = await analyse(tmp, suffix, size, self.rules, rendition_tmp)
            rendition = None
            if made:
                r_sha, r_size = await asyncio.to_thread(storage.hash_file, rendition_tmp)
                await asyncio.to_thread(storage.place, rendition_tmp, self.root, r_sha, "wav")
                rendition = Blob(r_sha, "wav", r_size)
            ext = suffix if suffix in RAW_INPUTS else extension(info.container)
            await asyncio.to_thread(storage.place, tmp, self.root, sha, ext)
        finally:
            rendition_tmp.unlink(missing_ok=True)
        now = self.clock.now()
        recording = Recording(
            id=new_id(),
            original=Blob(sha, ext, size),
            container=info.container,
            codec=info.codec,
            analysis=result,
            rendition=rendition,
            via=inbound.via,
            name=inbound.name[:255],
            received_at=now,
            call_ref=inbound.call_ref[:255] if inbound.call_ref else None,
            source=inbound.source,
            call_id=None,
            linked_at=None,
        )
        try:
            async with self.db().begin() as conn:
                call_pk = None
                if recording.call_ref:
                    call_pk = await store.find_call(conn, recording.call_ref, inbound.source, now)
                if call_pk is not None:
                    recording = replace(recording, call_id=call_pk, linked_at=now)
                await store.insert(conn, recording)
                entries = [Entry("ingest", recording.id, inbound.actor, _ingest_detail(recording))]
                if call_pk is not None:
                    entries.append(Entry("link", recording.id, inbound.actor, f"call={call_pk}"))
                await audit.append(conn, now, entries)
        except IntegrityError:
            # The same bytes arrived twice at once: the other copy won.
            async with self.db().connect() as conn:
                existing = await store.by_sha(conn, sha)
            if existing is None:
                raise
            return await self._again(existing, inbound)
        self.stats.stored += 1
        if recording.call_id is not None:
            self.stats.linked += 1
        log.info(
            "recording stored id=%s via=%s call=%s linked=%s empty=%s seconds=%.1f",
            recording.id, inbound.via, recording.call_ref, recording.call_id,
            result.empty, result.duration_seconds,
        )  # fmt: skip
        if self.on_stored is not None:
            await self.on_stored(RecordingStored(recording.id, result.empty, now))
        return Stored(recording, True)

    async def _again(self, existing: Recording, inbound: Inbound) -> Stored:
        """The same bytes again: the stored recording answers. If it had no call yet and
        this copy names one, it is taken."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            entries = [Entry("ingest", existing.id, inbound.actor, f"duplicate via={inbound.via}")]
            if existing.call_ref is None and inbound.call_ref and existing.deleted is None:
                ref = inbound.call_ref[:255]
                await store.set_call_ref(conn, existing.id, ref, inbound.source)
                call_pk = await store.find_call(conn, ref, inbound.source, now)
                if call_pk is not None and await store.link(conn, existing.id, call_pk, now):
                    entries.append(Entry("link", existing.id, inbound.actor, f"call={call_pk}"))
            await audit.append(conn, now, entries)
            fresh = await store.by_id(conn, existing.id)
        self.stats.duplicates += 1
        return Stored(fresh or existing, False)

    # -- announced by a PBX (FreeSWITCH RECORD_STOP) ----------------------------------------
    def on_recording_ready(self, ready: RecordingReady) -> None:
        """The ESL client's `on_recording`: queue it (never blocks the adapter)."""
        if self._inbox is None:
            self._inbox = asyncio.Queue(_INBOX)
        try:
            self._inbox.put_nowait(ready)
        except asyncio.QueueFull:
            self.stats.refused["inbox-full"] += 1
            log.error(
                "recording dropped: %d announced recordings wait already source=%s path=%s",
                _INBOX, ready.source, ready.path,
            )  # fmt: skip

    async def run_inbox(self) -> None:
        if self._inbox is None:
            self._inbox = asyncio.Queue(_INBOX)
        inbox = self._inbox

        async def worker() -> None:
            while True:
                ready = await inbox.get()
                self._taking.add(ready)
                try:
                    await self.take_announced(ready)
                finally:
                    self._taking.discard(ready)
                    inbox.task_done()

        await asyncio.gather(*(worker() for _ in range(_WORKERS)))

    async def finish_inbox(self, within: float) -> None:
        """At shutdown, after the PBX sources stopped: the recordings announced already are
        stored (for at most `within` s). The PBX announces a file once, so one still waiting
        is logged with the command that stores it by hand — never dropped without a word."""
        inbox = self._inbox
        if inbox is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await inbox.join()
        left = [*self._taking]
        while not inbox.empty():
            left.append(inbox.get_nowait())
            inbox.task_done()
        for ready in left:
            log.error(
                "recording not stored before shutdown source=%s call=%s path=%s; store it with:"
                " callcenter recording add --source %s --call %s %s",
                ready.source, ready.call_id, ready.path, ready.source, ready.call_id, ready.path,
            )  # fmt: skip

    async def take_announced(self, ready: RecordingReady) -> Recording | None:
        inbound = Inbound(
            "esl", f"pbx:{ready.source}", Path(ready.path).name, ready.call_id, ready.source
        )
        try:
            path = self.checked_path(ready.path, announced=True)
            for delay in (*_FILE_RETRIES, None):
                try:
                    return (await self.add_file(path, inbound)).recording
                except NotFound:
                    if delay is None:
                        raise
                    await asyncio.sleep(delay)
        except DomainError as exc:
            log.error(
                "recording refused source=%s call=%s path=%s error=%s: %s",
                ready.source, ready.call_id, ready.path, exc.code, exc.message,
            )  # fmt: skip
        return None

    # -- linking ----------------------------------------------------------------------------
    def call_closed(self, call_pk: str) -> None:
        """A call was saved and closed (the CallClosed handler): its waiting recordings are
        linked by the linker task, in batches, so the call writer never waits for us."""
        self._closed_calls.add(call_pk)

    async def run_linker(self) -> None:
        """Link recordings to calls that closed, every second; and every 30 s those that
        arrived in the last day and still wait (a recording stored by the command line just
        as its call closed)."""
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            await asyncio.sleep(_LINK_BATCH_EVERY)
            batch, self._closed_calls = self._closed_calls, set()
            try:
                if batch:
                    await self.link_calls(sorted(batch))
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + _RECONCILE_EVERY
                    await self.reconcile()
            except Exception:
                self._closed_calls |= batch
                log.exception("linking recordings failed; retried in a moment")

    async def link_call(self, call_pk: str) -> int:
        return await self.link_calls([call_pk])

    async def link_calls(self, call_pks: list[str]) -> int:
        """Link the recordings waiting for these calls (named by our id or the PBX's): two
        queries for a whole batch, so thousands of calls closing cost the database little."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            keys = await store.call_keys(conn, call_pks)
            by_pbx_id: dict[str, list[tuple[str, str]]] = {}
            for pk, (source, sip_call_id) in keys.items():
                by_pbx_id.setdefault(sip_call_id, []).append((pk, source))
            waiting = await store.waiting_for(conn, [*keys, *by_pbx_id])
            entries = []
            for rec in waiting:
                assert rec.call_ref is not None
                target: str | None = rec.call_ref if rec.call_ref in keys else None
                if target is None:
                    target = next(
                        (pk for pk, src in by_pbx_id.get(rec.call_ref, [])
                         if rec.source is None or rec.source == src),
                        None,
                    )  # fmt: skip
                if target is not None and await store.link(conn, rec.id, target, now):
                    entries.append(Entry("link", rec.id, "service", f"call={target}"))
            await audit.append(conn, now, entries)
        self.stats.linked += len(entries)
        return len(entries)

    async def reconcile(self, limit: int = 500) -> int:
        """Link recently arrived recordings whose call has appeared since."""
        now = self.clock.now()
        linked = 0
        async with self.db().connect() as conn:
            waiting = await store.unlinked_since(conn, now - _RECONCILE_WINDOW, limit)
        for rec in waiting:
            assert rec.call_ref is not None
            async with self.db().begin() as conn:
                call_pk = await store.find_call(conn, rec.call_ref, rec.source, rec.received_at)
                if call_pk is not None and await store.link(conn, rec.id, call_pk, now):
                    await audit.append(
                        conn, now, [Entry("link", rec.id, "service", f"call={call_pk}")]
                    )
                    linked += 1
        self.stats.linked += linked
        return linked

    # -- out ----------------------------------------------------------------------------------
    async def get(self, recording_id: str) -> Recording:
        async with self.db().connect() as conn:
            rec = await store.by_id(conn, recording_id)
        if rec is None:
            raise NotFound("no-such-recording", f"no recording {recording_id!r}")
        return rec

    async def page(
        self,
        *,
        limit: int,
        before: store.Cursor | None = None,
        call: str | None = None,
        call_ids: list[str] | None = None,
        unlinked: bool | None = None,
        agent_id: int | None = None,
    ) -> list[Recording]:
        async with self.db().connect() as conn:
            return await store.page(
                conn,
                limit=limit,
                before=before,
                call=call,
                call_ids=call_ids,
                unlinked=unlinked,
                agent_id=agent_id,
            )

    async def may_hear(self, user: Principal, rec: Recording) -> bool:
        """Team leads, QA leads, supervisors and admins hear every recording; an agent the
        recordings of calls their phone answered, or whose ticket they took."""
        if user.role in ALL_RECORDINGS:
            return True
        if rec.call_id is None:
            return False
        return await self.may_hear_call(user, rec.call_id)

    async def may_hear_call(self, user: Principal, call_pk: str) -> bool:
        if user.role in ALL_RECORDINGS:
            return True
        if user.role != Role.AGENT:
            return False
        async with self.db().connect() as conn:
            if await store.answered(conn, call_pk, user.id):
                return True
        # Hook: the agent who took the call's ticket follows it up (首问责任制).
        return user.id in await self.tickets.ticket_owners(call_pk)

    async def note_access(self, user: Principal, rec: Recording, original: bool, span: str) -> None:
        """Write a play (the rendition) or a download (the original) to the audit log."""
        now = self.clock.now()
        action: audit.Action = "download" if original else "play"
        async with self.db().begin() as conn:
            await audit.append(conn, now, [Entry(action, rec.id, user.name, span)])

    def path_of(self, blob: Blob) -> Path:
        return blob_path(self.root, blob.sha256, blob.ext)

    # -- deletion -----------------------------------------------------------------------------
    async def delete(self, user: Principal, recording_id: str, reason: str) -> Recording:
        """004: only a team lead, only an empty recording, only with a written reason. The
        row stays as a tombstone (who, when, why, the hash); the files go."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            rec = await store.by_id(conn, recording_id)
            if rec is None:
                raise NotFound("no-such-recording", f"no recording {recording_id!r}")
            refusal = deletion_refusal(user, rec, reason)
            if refusal is not None:
                raise refusal
            deletion = Deletion(now, user.name, reason.strip())
            if not await store.mark_deleted(conn, rec.id, deletion):
                raise deletion_refusal(user, replace(rec, deleted=deletion), reason) or NotFound(
                    "no-such-recording", recording_id
                )
            detail = f"sha256={rec.original.sha256} reason={deletion.reason}"
            await audit.append(conn, now, [Entry("delete", rec.id, user.name, detail)])
            blobs = [b for b in (rec.original, rec.rendition) if b is not None]
            gone = [b for b in blobs if not await store.blob_in_use(conn, b.sha256)]
        for blob in gone:
            try:
                await asyncio.to_thread(storage.remove, self.root, blob.sha256, blob.ext)
            except OSError:
                log.exception("a deleted recording's file could not be removed: %s", blob)
        log.warning("recording deleted id=%s by=%s reason=%r", rec.id, user.name, deletion.reason)
        return replace(rec, deleted=deletion)

    def status(self) -> dict[str, Any]:
        """Counters for /api/health."""
        return {
            "stored": self.stats.stored,
            "duplicates": self.stats.duplicates,
            "linked": self.stats.linked,
            "refused": dict(self.stats.refused),
            "announced_waiting": self._inbox.qsize() if self._inbox is not None else 0,
        }

    def sweep(self) -> None:
        """At start: remove stale temporary files; say so if ffmpeg is missing."""
        for tool in ("ffmpeg", "ffprobe"):
            if shutil.which(tool) is None:
                log.error(
                    "%s is not installed: recordings other than PCM/G.711 WAV are refused "
                    "(Debian: apt-get install ffmpeg)",
                    tool,
                )
        with contextlib.suppress(OSError):
            removed = storage.sweep_incoming(self.root)
            if removed:
                log.info("removed %d stale temporary recording files", removed)


def _ingest_detail(r: Recording) -> str:
    call = f" call={r.call_ref}" if r.call_ref else ""
    source = f" source={r.source}" if r.source else ""
    return f"via={r.via} sha256={r.original.sha256} name={r.name}{call}{source}"
