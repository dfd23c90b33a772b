"""The transcription queue and the transcripts in the database (migration 0014).

The queue is durable: one row per recording (its primary key makes queueing idempotent), a
worker claims a row by writing its own name and a lease in a conditional UPDATE, renews the
lease while it works, and stores the result only while the row is still its own. A worker
that died leaves a lease that passes; the row is then claimed again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.recordings.store import recordings
from callcenter.speech.model import Char, JobState, Transcript


class TranscriptionJobRow(Base):
    """A recording's place in the transcription queue (its state, tries and the reason)."""

    __tablename__ = "transcription_jobs"
    __table_args__ = (
        # Claiming: the oldest queued job first, and running jobs whose lease has passed.
        Index("ix_transcription_jobs_claim", "state", "queued_at"),
        CheckConstraint(
            "state IN ('queued', 'running', 'done', 'skipped', 'failed')", name="state"
        ),
    )

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))
    # Claims so far: a worker process or the service dying mid-job counts as one.
    attempts: Mapped[int] = mapped_column(Integer)
    # skipped/failed: "code: detail" (no-speech, not-mandarin, corrupt-audio, error: …).
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The language heard: kept for a skipped not-Mandarin recording too.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TranscriptRow(Base):
    """What was heard in a recording: the text, each character's time, the language and the
    model that heard it. `said=` searches `text` with LIKE '%…%': no index serves that, and
    none is needed at this size (a year of a hotline's calls is a few hundred MB of text, one
    scan per search by a supervisor; PostgreSQL's pg_trgm would be the next step)."""

    __tablename__ = "transcripts"

    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # JSON [[char, start, end], …] in seconds: compact, and the same on both databases.
    chars: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    language_probability: Mapped[float] = mapped_column(Float)
    duration: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(128))
    model_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Phrase spotting's findings (JSON), written by spotting; NULL until then.
    findings: Mapped[str | None] = mapped_column(Text, nullable=True)


jobs = cast(Table, TranscriptionJobRow.__table__)
transcripts = cast(Table, TranscriptRow.__table__)


@dataclass(frozen=True, slots=True)
class Job:
    recording_id: str
    state: JobState
    attempts: int
    reason: str | None
    language: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    claimed_by: str | None
    lease_until: datetime | None


@dataclass(frozen=True, slots=True)
class StoredTranscript:
    recording_id: str
    transcript: Transcript
    created_at: datetime
    findings: Any  # the JSON spotting wrote, or None


def _job(m: Mapping[Any, Any]) -> Job:
    return Job(
        recording_id=m["recording_id"],
        state=m["state"],
        attempts=m["attempts"],
        reason=m["reason"],
        language=m["language"],
        queued_at=m["queued_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        claimed_by=m["claimed_by"],
        lease_until=m["lease_until"],
    )


def chars_json(chars: Sequence[Char]) -> str:
    # Milliseconds are finer than the model's ~50 ms; three decimals keep the JSON short.
    return json.dumps(
        [[c.text, round(c.start, 3), round(c.end, 3)] for c in chars],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chars_from_json(text: str) -> tuple[Char, ...]:
    return tuple(Char(str(c), float(s), float(e)) for c, s, e in json.loads(text))


# -- queueing ---------------------------------------------------------------------------------
async def enqueue(
    conn: AsyncConnection,
    recording_ids: Sequence[str],
    now: datetime,
    *,
    skipped: str | None = None,
) -> int:
    """Queue these recordings (or, with `skipped`, record them as skipped for that reason);
    a recording that has a job already keeps it. Returns how many were new."""
    if not recording_ids:
        return 0
    state = "queued" if skipped is None else "skipped"
    rows = [
        {
            "recording_id": rid,
            "state": state,
            "attempts": 0,
            "reason": skipped,
            "language": None,
            "queued_at": now,
            "started_at": None,
            "finished_at": None if skipped is None else now,
            "claimed_by": None,
            "lease_until": None,
        }
        for rid in recording_ids
    ]
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(jobs).on_conflict_do_nothing(index_elements=["recording_id"])
    result = await conn.execute(stmt, rows)
    return max(int(result.rowcount), 0)


async def without_job(
    conn: AsyncConnection, since: datetime, until: datetime | None, limit: int
) -> list[tuple[str, bool]]:
    """(id, empty) of recordings received in [since, until) (None: no end) with no job and
    not deleted, oldest first."""
    stmt = select(recordings.c.id, recordings.c.empty).where(
        recordings.c.received_at >= since,
        recordings.c.deleted_at.is_(None),
        ~exists().where(jobs.c.recording_id == recordings.c.id),
    )
    if until is not None:
        stmt = stmt.where(recordings.c.received_at < until)
    stmt = stmt.order_by(recordings.c.received_at, recordings.c.id).limit(limit)
    return [(str(r.id), bool(r.empty)) for r in await conn.execute(stmt)]


async def job(conn: AsyncConnection, recording_id: str) -> Job | None:
    row = (await conn.execute(select(jobs).where(jobs.c.recording_id == recording_id))).first()
    return _job(row._mapping) if row is not None else None


async def count_queued(conn: AsyncConnection) -> int:
    stmt = select(func.count()).select_from(jobs).where(jobs.c.state == "queued")
    return int((await conn.execute(stmt)).scalar_one())


# -- claiming -----------------------------------------------------------------------------
def _claimable(now: datetime) -> Any:
    return or_(
        jobs.c.state == "queued",
        and_(jobs.c.state == "running", jobs.c.lease_until < now),
    )


async def next_claimable(conn: AsyncConnection, now: datetime) -> Job | None:
    """The job to take next: a running one whose worker died (its lease passed) first,
    then the oldest queued one. Two queries, each served by the claim index."""
    for stmt in (
        select(jobs).where(jobs.c.state == "running", jobs.c.lease_until < now).limit(1),
        select(jobs)
        .where(jobs.c.state == "queued")
        .order_by(jobs.c.queued_at, jobs.c.recording_id)
        .limit(1),
    ):
        row = (await conn.execute(stmt)).first()
        if row is not None:
            return _job(row._mapping)
    return None


async def claim(
    conn: AsyncConnection, recording_id: str, worker: str, now: datetime, lease_until: datetime
) -> bool:
    """Take the job if it is still claimable: False when another worker took it first (the
    condition is checked again on the row itself, so two claimers never both win)."""
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.recording_id == recording_id, _claimable(now))
        .values(
            state="running",
            attempts=jobs.c.attempts + 1,
            claimed_by=worker,
            lease_until=lease_until,
            started_at=now,
            finished_at=None,
        )
    )
    return bool(result.rowcount)


def _mine(recording_id: str, worker: str) -> Any:
    return and_(
        jobs.c.recording_id == recording_id,
        jobs.c.state == "running",
        jobs.c.claimed_by == worker,
    )


async def renew(
    conn: AsyncConnection, recording_ids: Sequence[str], worker: str, lease_until: datetime
) -> int:
    result = await conn.execute(
        update(jobs)
        .where(
            jobs.c.recording_id.in_(list(recording_ids)),
            jobs.c.state == "running",
            jobs.c.claimed_by == worker,
        )
        .values(lease_until=lease_until)
    )
    return int(result.rowcount)


async def finish(
    conn: AsyncConnection,
    recording_id: str,
    worker: str,
    now: datetime,
    state: JobState,
    *,
    reason: str | None = None,
    language: str | None = None,
) -> bool:
    """End a job this worker holds; False (nothing written) when it is no longer its own."""
    result = await conn.execute(
        update(jobs)
        .where(_mine(recording_id, worker))
        .values(
            state=state,
            reason=reason[:500] if reason else None,
            language=language,
            finished_at=now,
            lease_until=None,
        )
    )
    return bool(result.rowcount)


async def requeue(conn: AsyncConnection, recording_id: str, worker: str, reason: str) -> bool:
    """Queue a job this worker holds again (its worker process died): the try counted."""
    result = await conn.execute(
        update(jobs)
        .where(_mine(recording_id, worker))
        .values(state="queued", reason=reason[:500], claimed_by=None, lease_until=None)
    )
    return bool(result.rowcount)


async def release(conn: AsyncConnection, worker: str) -> int:
    """Give back every job this worker still holds (a shutdown): queued again at once, the
    try not counted."""
    result = await conn.execute(
        update(jobs)
        .where(jobs.c.state == "running", jobs.c.claimed_by == worker)
        .values(
            state="queued",
            attempts=jobs.c.attempts - 1,
            claimed_by=None,
            lease_until=None,
            started_at=None,
        )
    )
    return int(result.rowcount)


async def abandon(conn: AsyncConnection, recording_id: str, now: datetime, reason: str) -> bool:
    """Fail a running job whose lease passed too often (its tries never finished)."""
    result = await conn.execute(
        update(jobs)
        .where(
            jobs.c.recording_id == recording_id,
            jobs.c.state == "running",
            jobs.c.lease_until < now,
        )
        .values(state="failed", reason=reason[:500], finished_at=now, lease_until=None)
    )
    return bool(result.rowcount)


# -- transcripts ------------------------------------------------------------------------------
async def put_transcript(
    conn: AsyncConnection,
    recording_id: str,
    t: Transcript,
    now: datetime,
    findings: Any = None,
) -> None:
    """In the transaction that marks the job done: a transcript made again replaces the old.
    `findings`: phrase spotting's first pass (speech/evidence.py), JSON-able."""
    await conn.execute(delete(transcripts).where(transcripts.c.recording_id == recording_id))
    await conn.execute(
        transcripts.insert(),
        [
            {
                "recording_id": recording_id,
                "text": t.text,
                "chars": chars_json(t.chars),
                "language": t.language[:16],
                "language_probability": float(t.language_probability),
                "duration": float(t.duration),
                "model": t.model[:128],
                "model_sha256": t.model_sha256[:64],
                "created_at": now,
                "findings": json.dumps(findings, ensure_ascii=False)
                if findings is not None
                else None,
            }
        ],
    )


async def transcript(conn: AsyncConnection, recording_id: str) -> StoredTranscript | None:
    stmt = select(transcripts).where(transcripts.c.recording_id == recording_id)
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    m = row._mapping
    return StoredTranscript(
        recording_id=m["recording_id"],
        transcript=Transcript(
            text=m["text"],
            chars=chars_from_json(m["chars"]),
            language=m["language"],
            language_probability=m["language_probability"],
            duration=m["duration"],
            model=m["model"],
            model_sha256=m["model_sha256"],
        ),
        created_at=m["created_at"],
        findings=json.loads(m["findings"]) if m["findings"] is not None else None,
    )
