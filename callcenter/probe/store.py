"""Probe results in the database: one row per probe call, with the line as it stood after it
(so a restart resumes the line's state, and an alert is never raised twice)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Float, Integer, String, Table, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.probe.model import Line, ProbeResult


class ProbeResultRow(Base):
    __tablename__ = "probe_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    number: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    sip_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ring_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    answer_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str] = mapped_column(String(255))
    sip_call_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    line: Mapped[str] = mapped_column(String(8))
    failures: Mapped[int] = mapped_column(Integer)
    line_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    alert: Mapped[str | None] = mapped_column(String(16), nullable=True)


probe_results = cast(Table, ProbeResultRow.__table__)


def _result(r: Mapping[Any, Any]) -> ProbeResult:
    return ProbeResult(
        id=r["id"],
        started_at=r["started_at"],
        number=r["number"],
        outcome=r["outcome"],
        sip_status=r["sip_status"],
        ring_seconds=r["ring_seconds"],
        answer_seconds=r["answer_seconds"],
        detail=r["detail"],
        sip_call_id=r["sip_call_id"],
        line=Line(r["line"], r["failures"], r["line_since"], r["failing_since"]),
        alert=r["alert"],
    )


async def insert(conn: AsyncConnection, result: ProbeResult) -> ProbeResult:
    """Store `result` (its id ignored); returns it with the id the database gave."""
    values = {
        "started_at": result.started_at,
        "number": result.number,
        "outcome": result.outcome,
        "sip_status": result.sip_status,
        "ring_seconds": result.ring_seconds,
        "answer_seconds": result.answer_seconds,
        "detail": result.detail[:255],
        "sip_call_id": (result.sip_call_id or None) and result.sip_call_id[:255],
        "line": result.line.state,
        "failures": result.line.failures,
        "line_since": result.line.since,
        "failing_since": result.line.failing_since,
        "alert": result.alert,
    }
    row = await conn.execute(probe_results.insert().values(**values).returning(probe_results.c.id))
    return _result({**values, "id": row.scalar_one()})


async def latest(conn: AsyncConnection) -> ProbeResult | None:
    stmt = select(probe_results).order_by(probe_results.c.id.desc()).limit(1)
    row = (await conn.execute(stmt)).mappings().first()
    return _result(row) if row is not None else None


async def page(
    conn: AsyncConnection,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    before: tuple[datetime, str] | None = None,
) -> list[ProbeResult]:
    """Results in [start, end), newest first, after the cursor `before`."""
    stmt = select(probe_results)
    if start is not None:
        stmt = stmt.where(probe_results.c.started_at >= start)
    if end is not None:
        stmt = stmt.where(probe_results.c.started_at < end)
    if before is not None:
        at, row_id = before
        stmt = stmt.where(
            or_(
                probe_results.c.started_at < at,
                and_(probe_results.c.started_at == at, probe_results.c.id < int(row_id)),
            )
        )
    stmt = stmt.order_by(probe_results.c.started_at.desc(), probe_results.c.id.desc()).limit(limit)
    return [_result(r) for r in (await conn.execute(stmt)).mappings()]
