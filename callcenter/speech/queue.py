"""The transcription worker: an asyncio loop claims jobs from the database queue and runs each
in a process pool below call handling's CPU priority, renewing the job's lease while it
works; the result is stored with the job's state in one transaction, only while the job is
still this worker's. A worker process that dies is replaced and its job tried once more."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import socket
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.clock import Clock
from callcenter.recordings import store as recordings_store
from callcenter.recordings.model import blob_path
from callcenter.speech import store
from callcenter.speech.model import JobState, SpeechFailed, SpeechSkipped, Transcript
from callcenter.speech.service import Transcribe
from callcenter.speech.store import Job

log = logging.getLogger(__name__)

# Phrase spotting's first pass on a new transcript (speech/evidence.Spotter.first_pass).
FirstPass = Callable[[AsyncConnection, str, Transcript], Awaitable[Any]]

# Tries per job: a worker process dying on it, or the service dying while it ran (its lease
# passed), counts as one. A shutdown gives the job back without counting.
MAX_ATTEMPTS = 2
LEASE = timedelta(seconds=60)
_RENEW_SECONDS = 20.0  # a third of the lease: two renewals may fail before it passes
_POLL_SECONDS = 2.0  # how soon a job queued by another process (`recording add`) is seen
SHUTDOWN_GRACE = 5.0


def init_worker(nice: int, idle: bool = False) -> None:
    """First thing in each worker process: below call handling's CPU priority, so the
    ring-limit timers never wait for a transcription; Ctrl-C is the service's to handle.
    `idle`: Linux's SCHED_IDLE class, which takes only the CPU no other process wants (a
    lowered nice still takes its share of a contended core)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    if idle and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            # A container's seccomp profile may refuse it: nice alone is left.
            logging.getLogger(__name__).warning("SCHED_IDLE refused; the worker runs at nice")


@dataclass
class Stats:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    pool_restarts: int = 0
    queued: int = 0  # as last counted, when the loop had nothing to do


@dataclass(frozen=True, slots=True)
class Outcome:
    state: JobState
    reason: str | None = None
    language: str | None = None
    transcript: Transcript | None = None


class TranscriptionQueue:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        root: Path,
        transcribe: Transcribe,
        *,
        workers: int = 1,
        nice: int = 10,
        idle: bool = False,
        lease: timedelta = LEASE,
        name: str | None = None,
        first_pass: FirstPass | None = None,
    ) -> None:
        self.db = db
        self.first_pass = first_pass
        self.clock = clock
        self.root = root
        self.transcribe = transcribe
        self.workers = workers
        self.nice = nice
        self.idle = idle
        self.lease = lease
        # Unique per start: a restarted service never mistakes its predecessor's jobs for
        # its own, and takes them only once their lease has passed.
        self.name = name or f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = Stats()
        self._pool: ProcessPoolExecutor | None = None
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    @property
    def running(self) -> int:
        return len(self._running)

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn, not fork: a fork of the service would copy its event loop, sockets and the
        # locks other threads hold; a fresh interpreter imports only the engine.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(self.nice, self.idle),
        )

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        """Claim jobs while a worker process is free; idle until woken or the next poll."""
        if self._pool is None:
            self._pool = self._new_pool()
        slots = asyncio.Semaphore(self.workers)
        while True:
            await slots.acquire()
            try:
                job = await self._claim_next()
            except Exception:
                log.exception("claiming a transcription job failed; retried at the next poll")
                job = None
            if job is None:
                slots.release()
                await self._idle()
                continue
            task = asyncio.get_running_loop().create_task(
                self._run_job(job), name=f"transcribe-{job.recording_id}"
            )
            self._running[job.recording_id] = task
            task.add_done_callback(functools.partial(self._ended, job.recording_id, slots))

    def _ended(self, recording_id: str, slots: asyncio.Semaphore, task: asyncio.Task[None]) -> None:
        self._running.pop(recording_id, None)
        slots.release()
        if not task.cancelled() and task.exception() is not None:
            # Storing the result failed (the database away): the lease passes, it is retried.
            log.error("transcription job %s: not stored", recording_id, exc_info=task.exception())

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), _POLL_SECONDS)
        self._wake.clear()
        try:
            async with self.db().connect() as conn:
                self.stats.queued = await store.count_queued(conn)
        except Exception:
            log.warning("counting the transcription queue failed", exc_info=True)

    async def _claim_next(self) -> Job | None:
        for _ in range(5):  # another worker may win each race; a handful at most
            async with self.db().begin() as conn:
                now = self.clock.now()
                job = await store.next_claimable(conn, now)
                if job is None:
                    return None
                if job.state == "running" and job.attempts >= MAX_ATTEMPTS:
                    reason = (
                        f"abandoned: {job.attempts} tries never finished "
                        "(the service or its worker stopped during each)"
                    )
                    if await store.abandon(conn, job.recording_id, now, reason):
                        self.stats.failed += 1
                        log.error("transcription job %s %s", job.recording_id, reason)
                    continue
                if job.state == "running":
                    log.warning(
                        "transcription job %s: its worker %s stopped; taken again",
                        job.recording_id, job.claimed_by,
                    )  # fmt: skip
                if await store.claim(conn, job.recording_id, self.name, now, now + self.lease):
                    return replace(job, state="running", attempts=job.attempts + 1)
        return None

    # -- one job --------------------------------------------------------------------------------
    async def _run_job(self, job: Job) -> None:
        rid = job.recording_id
        async with self.db().connect() as conn:
            rec = await recordings_store.by_id(conn, rid)
        if rec is None or rec.deleted is not None:
            await self._store(rid, Outcome("skipped", "deleted: the recording was deleted"))
            return
        path = blob_path(self.root, rec.playback.sha256, rec.playback.ext)
        if not await asyncio.to_thread(path.is_file):
            await self._store(rid, Outcome("failed", f"file-missing: {path} is not in the store"))
            return
        pool = self._pool
        assert pool is not None, "run() makes the pool"
        try:
            heard = await self._in_pool(pool, path, rid)
        except BrokenProcessPool:
            self._replace(pool)
            await self._worker_died(job)
            return
        except SpeechSkipped as exc:
            outcome = Outcome("skipped", _reason(exc.reason, exc.detail), exc.language)
        except SpeechFailed as exc:
            outcome = Outcome("failed", _reason(exc.reason, exc.detail))
        except Exception as exc:
            # The engine's own bug, or a file it chokes on: this job fails, the loop goes on.
            log.exception("transcription job %s: the worker raised", rid)
            outcome = Outcome("failed", f"error: {type(exc).__name__}: {exc}")
        else:
            outcome = _heard(heard)
        await self._store(rid, outcome)

    async def _in_pool(self, pool: ProcessPoolExecutor, path: Path, rid: str) -> Transcript:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(pool, self.transcribe, path)
        # A shutdown ends the pool under a job it cut short: its BrokenProcessPool is
        # expected, not an error to log as never retrieved.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        while True:
            done, _ = await asyncio.wait({future}, timeout=_RENEW_SECONDS)
            if done:
                result = future.result()
                if not isinstance(result, Transcript):
                    raise TypeError(f"transcribe returned {type(result).__name__}")
                return result
            try:
                async with self.db().begin() as conn:
                    now = self.clock.now()
                    if not await store.renew(conn, [rid], self.name, now + self.lease):
                        log.warning("transcription job %s is no longer ours", rid)
            except Exception:
                log.warning("renewing the lease of job %s failed", rid, exc_info=True)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A worker process died: every job in the pool failed with it; the first to notice
        starts a new pool."""
        if self._pool is broken:
            self.stats.pool_restarts += 1
            log.error("a transcription worker process died; starting a new one")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    async def _worker_died(self, job: Job) -> None:
        rid = job.recording_id
        async with self.db().begin() as conn:
            if job.attempts < MAX_ATTEMPTS:
                reason = "worker-died: the worker process ended abruptly; tried again"
                if await store.requeue(conn, rid, self.name, reason):
                    self.stats.retried += 1
                    self.wake()
                return
            reason = (
                f"worker-died: the worker process ended abruptly on each of {job.attempts} "
                "tries (out of memory, or a crash decoding this file)"
            )
            if await store.finish(conn, rid, self.name, self.clock.now(), "failed", reason=reason):
                self.stats.failed += 1
        log.error("transcription job %s failed: %s", rid, reason)

    async def _store(self, rid: str, outcome: Outcome) -> None:
        findings = None
        if outcome.transcript is not None and self.first_pass is not None:
            # Read apart from the transaction below: a failed read there would abort it.
            async with self.db().connect() as conn:
                findings = await self.first_pass(conn, rid, outcome.transcript)
        async with self.db().begin() as conn:
            now = self.clock.now()
            mine = await store.finish(
                conn, rid, self.name, now, outcome.state,
                reason=outcome.reason, language=outcome.language,
            )  # fmt: skip
            if mine and outcome.transcript is not None:
                await store.put_transcript(conn, rid, outcome.transcript, now, findings)
        if not mine:
            log.warning("transcription job %s was taken by another worker; result dropped", rid)
            return
        setattr(self.stats, outcome.state, getattr(self.stats, outcome.state) + 1)
        log.info(
            "transcription job %s %s%s", rid, outcome.state,
            f" reason={outcome.reason}" if outcome.reason else "",
        )  # fmt: skip

    # -- shutdown -------------------------------------------------------------------------------
    async def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Call after the loop is cancelled: wait `grace` seconds for the jobs in hand, give
        the others back to the queue (the next start takes them at once), stop the pool."""
        tasks = list(self._running.values())
        pending: set[asyncio.Task[None]] = set()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        try:
            # The jobs cut short, and one claimed just as the loop was cancelled.
            async with self.db().begin() as conn:
                given_back = await store.release(conn, self.name)
            if given_back:
                log.info("transcription jobs given back to the queue: %d", given_back)
        except Exception:
            log.warning("giving jobs back failed; they are taken again after their lease")
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(_stop_pool, pool)

    def status(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "nice": self.nice,
            "idle": self.idle,
            "running": self.running,
            "queued": self.stats.queued,
            "done": self.stats.done,
            "skipped": self.stats.skipped,
            "failed": self.stats.failed,
            "retried": self.stats.retried,
            "pool_restarts": self.stats.pool_restarts,
        }


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    # A job may run for minutes: its process is ended, not waited for (its job is queued
    # again). Python 3.11 has no terminate_workers(); the processes are the pool's own map.
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(5)


def _reason(code: str, detail: str) -> str:
    return f"{code}: {detail}" if detail else code


def _heard(t: Transcript) -> Outcome:
    if not t.mandarin:
        # The engine marks these skipped itself; a transcript in another language is never
        # matched against the Mandarin script either way.
        why = f"not-mandarin: heard {t.language} (p={t.language_probability:.2f})"
        return Outcome("skipped", why, t.language)
    return Outcome("done", language=t.language, transcript=t)
