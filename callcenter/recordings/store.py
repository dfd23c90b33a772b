"""Recordings, their tombstones and the recording audit log in the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.calls.store import calls, legs
from callcenter.db import Base, UTCDateTime, keyset_before
from callcenter.recordings.model import Analysis, Blob, Deletion, Recording


class RecordingRow(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_received", "received_at", "id"),
        Index("ix_recordings_call_ref", "call_ref"),
        Index("ix_recordings_rendition", "rendition_sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    ext: Mapped[str] = mapped_column(String(8))
    size: Mapped[int] = mapped_column(BigInteger)
    container: Mapped[str] = mapped_column(String(64))
    codec: Mapped[str] = mapped_column(String(32))
    duration_seconds: Mapped[float] = mapped_column(Float)
    channels: Mapped[int] = mapped_column(Integer)
    sample_rate: Mapped[int] = mapped_column(Integer)
    loudness_dbfs: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_dbfs: Mapped[float | None] = mapped_column(Float, nullable=True)
    longest_sound_ms: Mapped[int] = mapped_column(Integer)
    empty: Mapped[bool] = mapped_column(Boolean)
    rendition_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rendition_ext: Mapped[str | None] = mapped_column(String(8), nullable=True)
    rendition_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    via: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The call as it was given (our call id or the PBX's), and the PBX source if known.
    call_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source: Mapped[str | None] = mapped_column(String(32), nullable=True)
    call_pk: Mapped[str | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), nullable=True, index=True
    )
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The tombstone: set once, when a team lead deletes an empty recording.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deleted_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)


class AuditRow(Base):
    """The recording audit log (append-only): each row carries the hash of the row before."""

    __tablename__ = "recording_audit"
    __table_args__ = (Index("ix_recording_audit_recording", "recording_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(16))
    recording_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last entry's number and hash. Appending locks it first, so appenders
    (the service, `callcenter recording add`) take turns and the chain never forks."""

    __tablename__ = "recording_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


recordings = cast(Table, RecordingRow.__table__)
audit = cast(Table, AuditRow.__table__)
audit_head = cast(Table, AuditHead.__table__)

# How far around a recording's arrival its call is looked for by the PBX's id alone (when
# the PBX source is not known, the calls table has no index on that id by itself).
CALL_WINDOW = timedelta(days=2)
_CHUNK = 500


def recording_row(r: Recording) -> dict[str, Any]:
    a = r.analysis
    return {
        "id": r.id,
        "sha256": r.original.sha256,
        "ext": r.original.ext,
        "size": r.original.size,
        "container": r.container,
        "codec": r.codec,
        "duration_seconds": a.duration_seconds,
        "channels": a.channels,
        "sample_rate": a.sample_rate,
        "loudness_dbfs": a.loudness_dbfs,
        "peak_dbfs": a.peak_dbfs,
        "longest_sound_ms": a.longest_sound_ms,
        "empty": a.empty,
        "rendition_sha256": r.rendition.sha256 if r.rendition else None,
        "rendition_ext": r.rendition.ext if r.rendition else None,
        "rendition_size": r.rendition.size if r.rendition else None,
        "via": r.via,
        "name": r.name,
        "received_at": r.received_at,
        "call_ref": r.call_ref,
        "source": r.source,
        "call_pk": r.call_id,
        "linked_at": r.linked_at,
        "deleted_at": None,
        "deleted_by": None,
        "deleted_reason": None,
    }


def recording_from_row(m: Mapping[Any, Any]) -> Recording:
    rendition = None
    if m["rendition_sha256"] is not None:
        rendition = Blob(m["rendition_sha256"], m["rendition_ext"], m["rendition_size"])
    deleted = None
    if m["deleted_at"] is not None:
        deleted = Deletion(m["deleted_at"], m["deleted_by"] or "", m["deleted_reason"] or "")
    return Recording(
        id=m["id"],
        original=Blob(m["sha256"], m["ext"], m["size"]),
        container=m["container"],
        codec=m["codec"],
        analysis=Analysis(
            duration_seconds=m["duration_seconds"],
            channels=m["channels"],
            sample_rate=m["sample_rate"],
            loudness_dbfs=m["loudness_dbfs"],
            peak_dbfs=m["peak_dbfs"],
            longest_sound_ms=m["longest_sound_ms"],
            empty=m["empty"],
        ),
        rendition=rendition,
        via=m["via"],
        name=m["name"],
        received_at=m["received_at"],
        call_ref=m["call_ref"],
        source=m["source"],
        call_id=m["call_pk"],
        linked_at=m["linked_at"],
        deleted=deleted,
    )


async def insert(conn: AsyncConnection, recording: Recording) -> None:
    await conn.execute(recordings.insert(), [recording_row(recording)])


async def by_id(conn: AsyncConnection, recording_id: str) -> Recording | None:
    row = (await conn.execute(select(recordings).where(recordings.c.id == recording_id))).first()
    return recording_from_row(row._mapping) if row is not None else None


async def by_sha(conn: AsyncConnection, sha256: str) -> Recording | None:
    row = (await conn.execute(select(recordings).where(recordings.c.sha256 == sha256))).first()
    return recording_from_row(row._mapping) if row is not None else None


async def find_call(
    conn: AsyncConnection, ref: str, source: str | None, around: datetime
) -> str | None:
    """Our id of the call `ref` names: our own call id, else the PBX's id of it (SIP
    Call-ID, AMI Linkedid, ESL call UUID = calls.sip_call_id) of `source`, the newest first."""
    if len(ref) <= 32:
        row = (await conn.execute(select(calls.c.id).where(calls.c.id == ref))).first()
        if row is not None:
            return str(row.id)
    stmt = select(calls.c.id).where(calls.c.sip_call_id == ref)
    if source is not None:
        stmt = stmt.where(calls.c.source == source)
    else:
        stmt = stmt.where(
            calls.c.offered_at >= around - CALL_WINDOW, calls.c.offered_at < around + CALL_WINDOW
        )
    row = (await conn.execute(stmt.order_by(calls.c.offered_at.desc()).limit(1))).first()
    return str(row.id) if row is not None else None


async def call_keys(conn: AsyncConnection, call_pks: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(source, PBX id) of each of these calls that exists."""
    out: dict[str, tuple[str, str]] = {}
    ids = list(call_pks)
    for i in range(0, len(ids), _CHUNK):
        stmt = select(calls.c.id, calls.c.source, calls.c.sip_call_id).where(
            calls.c.id.in_(ids[i : i + _CHUNK])
        )
        for r in await conn.execute(stmt):
            out[str(r.id)] = (str(r.source), str(r.sip_call_id))
    return out


async def waiting_for(conn: AsyncConnection, refs: Sequence[str]) -> list[Recording]:
    """Unlinked recordings that name one of these calls (by our id or by the PBX's)."""
    found: list[Recording] = []
    names = list(refs)
    for i in range(0, len(names), _CHUNK):
        stmt = select(recordings).where(
            recordings.c.call_pk.is_(None),
            recordings.c.deleted_at.is_(None),
            recordings.c.call_ref.in_(names[i : i + _CHUNK]),
        )
        found += [recording_from_row(r._mapping) for r in await conn.execute(stmt)]
    return found


async def unlinked_since(conn: AsyncConnection, since: datetime, limit: int) -> list[Recording]:
    stmt = (
        select(recordings)
        .where(
            recordings.c.call_pk.is_(None),
            recordings.c.deleted_at.is_(None),
            recordings.c.call_ref.is_not(None),
            recordings.c.received_at >= since,
        )
        .order_by(recordings.c.received_at.desc())
        .limit(limit)
    )
    return [recording_from_row(r._mapping) for r in await conn.execute(stmt)]


async def link(conn: AsyncConnection, recording_id: str, call_pk: str, at: datetime) -> bool:
    """Link an unlinked recording to its call; False if it was linked meanwhile."""
    result = await conn.execute(
        update(recordings)
        .where(recordings.c.id == recording_id, recordings.c.call_pk.is_(None))
        .values(call_pk=call_pk, linked_at=at)
    )
    return bool(result.rowcount)


async def set_call_ref(
    conn: AsyncConnection, recording_id: str, ref: str, source: str | None
) -> None:
    """Name the call of a recording that arrived without one (a later copy named it)."""
    await conn.execute(
        update(recordings)
        .where(recordings.c.id == recording_id, recordings.c.call_ref.is_(None))
        .values(call_ref=ref, source=source)
    )


async def mark_deleted(conn: AsyncConnection, recording_id: str, deletion: Deletion) -> bool:
    """Turn the row into a tombstone; False if it was one already."""
    result = await conn.execute(
        update(recordings)
        .where(recordings.c.id == recording_id, recordings.c.deleted_at.is_(None))
        .values(deleted_at=deletion.at, deleted_by=deletion.by, deleted_reason=deletion.reason)
    )
    return bool(result.rowcount)


async def blob_in_use(conn: AsyncConnection, sha256: str) -> bool:
    """Does a recording still present keep this file (as its original or its rendition)?
    Two empty recordings may decode to the same rendition."""
    stmt = select(
        exists().where(
            recordings.c.deleted_at.is_(None),
            or_(recordings.c.sha256 == sha256, recordings.c.rendition_sha256 == sha256),
        )
    )
    return bool((await conn.execute(stmt)).scalar())


def answered_by(user_id: int) -> Any:
    """Recordings of calls whose answering phone was `user_id`'s."""
    return exists().where(
        legs.c.call_pk == recordings.c.call_pk,
        legs.c.agent_id == user_id,
        legs.c.answered_at.is_not(None),
    )


async def answered(conn: AsyncConnection, call_pk: str, user_id: int) -> bool:
    stmt = select(
        exists().where(
            legs.c.call_pk == call_pk, legs.c.agent_id == user_id, legs.c.answered_at.is_not(None)
        )
    )
    return bool((await conn.execute(stmt)).scalar())


Cursor = tuple[datetime, str]


async def page(
    conn: AsyncConnection,
    *,
    limit: int,
    before: Cursor | None = None,
    call: str | None = None,
    call_ids: Sequence[str] | None = None,
    unlinked: bool | None = None,
    agent_id: int | None = None,
) -> list[Recording]:
    """Recordings newest first (keyset paging on received_at, id)."""
    stmt = select(recordings)
    if call is not None:
        stmt = stmt.where(or_(recordings.c.call_pk == call, recordings.c.call_ref == call))
    if call_ids is not None:
        stmt = stmt.where(recordings.c.call_pk.in_(list(call_ids)))
    if unlinked is True:
        stmt = stmt.where(recordings.c.call_pk.is_(None))
    elif unlinked is False:
        stmt = stmt.where(recordings.c.call_pk.is_not(None))
    if agent_id is not None:
        stmt = stmt.where(answered_by(agent_id))
    if before is not None:
        stmt = stmt.where(keyset_before(recordings.c.received_at, recordings.c.id, before))
    stmt = stmt.order_by(recordings.c.received_at.desc(), recordings.c.id.desc()).limit(limit)
    return [recording_from_row(r._mapping) for r in await conn.execute(stmt)]
