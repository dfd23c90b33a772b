"""Anomalies in the database. A late step is raised once per order and kind: the unique
(order_id, kind) makes a second attempt (a restart, two instances) a no-op."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, String, Table, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.anomalies.model import Anomaly, AnomalyKind
from callcenter.db import Base, UTCDateTime, keyset_before


class AnomalyRow(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        # NULLs are distinct on both engines: agents' reports without an order never clash.
        UniqueConstraint("order_id", "kind", name="uq_anomalies_order_kind"),
        Index("ix_anomalies_occurred", "occurred_at", "id"),
        Index("ix_anomalies_kind", "kind", "occurred_at", "id"),
        Index("ix_anomalies_ticket", "ticket_id"),
        Index("ix_anomalies_report_due", "reported_at", "unreported_at", "report_due"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    station: Mapped[str | None] = mapped_column(String(32), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    detail: Mapped[str] = mapped_column(Text, default="")
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reported_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    report_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    unreported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


anomalies = cast(Table, AnomalyRow.__table__)

_COLUMNS = tuple(f.name for f in fields(Anomaly))


def anomaly_from_row(r: Mapping[Any, Any]) -> Anomaly:
    return Anomaly(**{c: r[c] for c in _COLUMNS})


async def insert_once(conn: AsyncConnection, anomaly: Anomaly) -> bool:
    """Insert it; False when this order already has one of this kind (nothing changed).
    A savepoint keeps the caller's transaction usable after the refused insert."""
    values = {c: getattr(anomaly, c) for c in _COLUMNS}
    try:
        async with conn.begin_nested():
            await conn.execute(anomalies.insert().values(**values))
    except IntegrityError:
        return False
    return True


async def get(conn: AsyncConnection, anomaly_id: str) -> Anomaly | None:
    row = (
        (await conn.execute(select(anomalies).where(anomalies.c.id == anomaly_id)))
        .mappings()
        .first()
    )
    return anomaly_from_row(row) if row else None


async def raised_for(conn: AsyncConnection, order_ids: Sequence[str]) -> set[tuple[str, str]]:
    """(order_id, kind) of the anomalies already raised for these orders."""
    if not order_ids:
        return set()
    rows = await conn.execute(
        select(anomalies.c.order_id, anomalies.c.kind).where(anomalies.c.order_id.in_(order_ids))
    )
    return {(r[0], r[1]) for r in rows}


Cursor = tuple[datetime, str]


async def search(
    conn: AsyncConnection,
    start: datetime | None,
    end: datetime | None,
    kinds: Sequence[AnomalyKind],
    agent_id: int | None,
    before: Cursor | None,
    limit: int,
) -> list[Anomaly]:
    """Newest first, keyset paged."""
    query = select(anomalies)
    if start is not None:
        query = query.where(anomalies.c.occurred_at >= start)
    if end is not None:
        query = query.where(anomalies.c.occurred_at < end)
    if kinds:
        query = query.where(anomalies.c.kind.in_(kinds))
    if agent_id is not None:
        query = query.where(anomalies.c.agent_id == agent_id)
    if before is not None:
        query = query.where(keyset_before(anomalies.c.occurred_at, anomalies.c.id, before))
    query = query.order_by(anomalies.c.occurred_at.desc(), anomalies.c.id.desc()).limit(limit)
    return [anomaly_from_row(r) for r in (await conn.execute(query)).mappings()]
