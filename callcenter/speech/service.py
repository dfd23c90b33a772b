"""Transcripts' use cases: queue every recording once, read a transcript (written to the
recording audit log like a listen), search recordings by what was said in them; and the one
place that finds the engine of the optional extra `callcenter[speech]`."""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.model import Principal
from callcenter.clock import Clock
from callcenter.events import RecordingStored
from callcenter.recordings import audit
from callcenter.recordings.audit import Entry
from callcenter.recordings.model import Recording
from callcenter.recordings.store import Cursor
from callcenter.speech import store
from callcenter.speech.model import Transcript
from callcenter.speech.said import SaidIn, said
from callcenter.speech.store import Job, StoredTranscript

log = logging.getLogger(__name__)

# What a worker process runs on a recording's file: the engine's transcribe (bound to the
# chunk size) in the service; a function of their own in tests. Module-level, so it pickles.
Transcribe = Callable[[Path], Transcript]

ENGINE_MODULE = "callcenter.speech.engine"
OFF = "transcription off: install callcenter[speech]"
EMPTY = "no-speech: the recording is empty (nothing above recordings.silence_dbfs)"
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Queued:
    """What queueing a range did: jobs queued, and empty recordings recorded as skipped."""

    queued: int
    empty: int


class Transcripts:
    def __init__(self, db: Callable[[], AsyncEngine], clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def enqueue(self, recording_id: str, *, empty: bool) -> bool:
        """Queue a recording once (again: nothing happens). An empty one has nothing to hear:
        it is recorded as skipped at once. True when the job is new."""
        async with self.db().begin() as conn:
            added = await store.enqueue(
                conn, [recording_id], self.clock.now(), skipped=EMPTY if empty else None
            )
        return added > 0

    async def queue_stored(self, since: datetime, until: datetime | None = None) -> Queued:
        """Queue the recordings received in [since, until) that have no job yet (the
        backfill, and at start-up the last day's, in case one was stored while its queueing
        failed)."""
        queued = empty = 0
        while True:
            async with self.db().begin() as conn:
                found = await store.without_job(conn, since, until, _BATCH)
                now = self.clock.now()
                quiet = [rid for rid, is_empty in found if is_empty]
                loud = [rid for rid, is_empty in found if not is_empty]
                queued += await store.enqueue(conn, loud, now)
                empty += await store.enqueue(conn, quiet, now, skipped=EMPTY)
            if len(found) < _BATCH:
                return Queued(queued, empty)

    async def job(self, recording_id: str) -> Job | None:
        async with self.db().connect() as conn:
            return await store.job(conn, recording_id)

    async def read(
        self, user: Principal, rec: Recording
    ) -> tuple[StoredTranscript | None, Job | None]:
        """The recording's transcript and job, for a user who may hear the recording; a
        transcript given out is written to the audit log like a listen, in the same
        transaction."""
        async with self.db().begin() as conn:
            found = await store.transcript(conn, rec.id)
            job = await store.job(conn, rec.id)
            if found is not None:
                detail = f"language={found.transcript.language} model={found.transcript.model}"
                await audit.append(
                    conn, self.clock.now(), [Entry("transcript", rec.id, user.name, detail)]
                )
        return found, job

    async def search(
        self, user: Principal, words: str, limit: int, before: Cursor | None = None
    ) -> list[SaidIn]:
        """Recordings in whose transcript `words` were said, newest first, with where they
        were first said; the search (who, the words, how many matched) is written to the
        audit log."""
        async with self.db().begin() as conn:
            found = await said(conn, words, limit=limit, before=before)
            detail = f"said={words} found={len(found)}" + (" (next page)" if before else "")
            await audit.append(conn, self.clock.now(), [Entry("search", None, user.name, detail)])
        return found

    async def on_recording_stored(self, event: RecordingStored) -> bool:
        return await self.enqueue(event.recording_id, empty=event.empty)


def queue_hook(
    transcripts: Transcripts | None,
) -> Callable[[RecordingStored], Awaitable[None]] | None:
    """`callcenter recording add`'s hook: the new recording is queued by the command itself
    (the running service claims it at its next look). A failure is logged, never the
    command's: the recording is stored, and the service queues the last day's at start."""
    if transcripts is None:
        return None

    async def queue(event: RecordingStored) -> None:
        try:
            await transcripts.on_recording_stored(event)
        except Exception:
            log.exception("recording %s stored but not queued for transcription", event)

    return queue


def engine_transcriber(chunk_seconds: float) -> tuple[Transcribe | None, str]:
    """The wiring point for the engine: its `transcribe` bound to speech.chunk_seconds when
    the extra is installed; else None and why. The module imports faster-whisper only when
    a worker first transcribes, so asking costs the service nothing."""
    try:
        engine = importlib.import_module(ENGINE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != ENGINE_MODULE:
            raise
        return None, OFF
    status = engine.available()
    ok, why = (status, "") if isinstance(status, bool) else (bool(status[0]), str(status[1]))
    if not ok:
        return None, f"{OFF} ({why})" if why else OFF
    transcribe: Transcribe = functools.partial(engine.transcribe, chunk_seconds=chunk_seconds)
    return transcribe, ""
