"""Anomalies in the database. A late step is raised once per order and kind: the unique
(order_id, kind) makes a second attempt (a restart, two instances) a no-op."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.anomalies.model import COMPLAINTS, Anomaly, AnomalyKind
from callcenter.auth.store import users
from callcenter.db import Base, UTCDateTime, keyset_before
from callcenter.orders.model import ACTIVE_STATUSES, Order
from callcenter.orders.store import order_from_row, orders
from callcenter.tickets.store import tickets


class AnomalyRow(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        # NULLs are distinct on both engines: agents' reports without an order never clash.
        UniqueConstraint("order_id", "kind", name="uq_anomalies_order_kind"),
        Index("ix_anomalies_occurred", "occurred_at", "id"),
        Index("ix_anomalies_kind", "kind", "occurred_at", "id"),
        Index("ix_anomalies_ticket", "ticket_id"),
        Index("ix_anomalies_report_due", "reported_at", "unreported_at", "report_due"),
        Index("ix_anomalies_follow_up", "followed_up_at", "follow_up_late_at", "follow_up_due"),
        Index("ix_anomalies_agent", "agent_id", "occurred_at", "id"),
        # The open complaints by kind (closed_at IS NULL), counted at every /metrics scrape
        # and wallboard refresh: without it the count reads every complaint ever logged.
        Index("ix_anomalies_open", "kind", "closed_at"),
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
    # Migration 0007: complaints classed per 002 第12篇 and their 2-h follow-up.
    complaint_class: Mapped[str | None] = mapped_column(String(16), nullable=True)
    households: Mapped[int | None] = mapped_column(Integer, nullable=True)
    follow_up_due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    followed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    followed_up_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    follow_up_late_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


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


async def insert_many(conn: AsyncConnection, batch: Sequence[Anomaly]) -> list[Anomaly]:
    """Insert a batch in one statement; the ones some other start or instance raised first
    are skipped (ON CONFLICT DO NOTHING, on both engines). Returns those inserted."""
    if not batch:
        return []
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(anomalies)
        .on_conflict_do_nothing(index_elements=["order_id", "kind"])
        .returning(anomalies.c.id)
    )
    result = await conn.execute(statement, [{c: getattr(a, c) for c in _COLUMNS} for a in batch])
    inserted = set(result.scalars())
    return [a for a in batch if a.id in inserted]


async def set_if_open(
    conn: AsyncConnection, anomaly_id: str, still_null: Sequence[str], **values: Any
) -> bool:
    """Set `values` when the columns `still_null` are all still empty (nothing is recorded
    twice, nor over a step done meanwhile). True when it changed the row."""
    query = update(anomalies).where(anomalies.c.id == anomaly_id)
    for name in still_null:
        query = query.where(anomalies.c[name].is_(None))
    result = await conn.execute(query.values(**values))
    return bool(result.rowcount)


async def open_reports(conn: AsyncConnection) -> list[tuple[str, datetime]]:
    """(id, report_due) of the anomalies waiting for their report (for the timers on start)."""
    rows = await conn.execute(
        select(anomalies.c.id, anomalies.c.report_due).where(
            anomalies.c.reported_at.is_(None),
            anomalies.c.unreported_at.is_(None),
            anomalies.c.report_due.is_not(None),
        )
    )
    return [(r[0], r[1]) for r in rows]


async def open_follow_ups(conn: AsyncConnection) -> list[tuple[str, datetime]]:
    """(id, follow_up_due) of the complaints whose 2-h follow-up still runs."""
    rows = await conn.execute(
        select(anomalies.c.id, anomalies.c.follow_up_due).where(
            anomalies.c.followed_up_at.is_(None),
            anomalies.c.follow_up_late_at.is_(None),
            anomalies.c.follow_up_due.is_not(None),
            anomalies.c.closed_at.is_(None),
        )
    )
    return [(r[0], r[1]) for r in rows]


# -- the orders the deadlines watch ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderOwner:
    """An order, and the agent owning its ticket (首问责任制) who must report it."""

    order: Order
    agent_id: int | None
    agent: str | None


def _orders_with_owner() -> Any:
    return (
        select(orders, tickets.c.agent_id.label("owner_id"), users.c.name.label("owner_name"))
        .join(tickets, tickets.c.id == orders.c.ticket_id)
        .outerjoin(users, users.c.id == tickets.c.agent_id)
    )


def _owned(r: Mapping[Any, Any]) -> OrderOwner:
    return OrderOwner(order_from_row(r), r["owner_id"], r["owner_name"])


async def orders_by_id(conn: AsyncConnection, order_ids: Sequence[str]) -> dict[str, OrderOwner]:
    if not order_ids:
        return {}
    rows = await conn.execute(_orders_with_owner().where(orders.c.id.in_(order_ids)))
    return {r["id"]: _owned(r) for r in rows.mappings()}


async def orders_to_watch(conn: AsyncConnection, since: datetime) -> list[OrderOwner]:
    """Orders still at a station, and those dispatched since `since` that have left it (a
    step done late, or a refusal, while the service was down)."""
    query = _orders_with_owner().where(
        or_(orders.c.status.in_(ACTIVE_STATUSES), orders.c.dispatched_at >= since)
    )
    return [_owned(r) for r in (await conn.execute(query)).mappings()]


async def agent_names(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await conn.execute(select(users.c.id, users.c.name).where(users.c.id.in_(ids)))
    return {r[0]: r[1] for r in rows}


Cursor = tuple[datetime, str]


def open_complaint() -> Any:
    """An open anomaly: a complaint (tracked until closed) not yet closed. The others are
    events of a day, never open or closed."""
    return and_(anomalies.c.kind.in_(sorted(COMPLAINTS)), anomalies.c.closed_at.is_(None))


async def count_open(conn: AsyncConnection) -> int:
    """How many `GET /api/anomalies?state=open` lists (ix_anomalies_kind)."""
    query = select(func.count()).select_from(anomalies).where(open_complaint())
    return int(await conn.scalar(query) or 0)


async def search(
    conn: AsyncConnection,
    start: datetime | None,
    end: datetime | None,
    kinds: Sequence[AnomalyKind],
    agent_id: int | None,
    before: Cursor | None,
    limit: int,
    ticket_id: str | None = None,
    open_complaints: bool = False,
) -> list[Anomaly]:
    """Newest first, keyset paged. `open_complaints`: the complaints not yet closed."""
    query = select(anomalies)
    if start is not None:
        query = query.where(anomalies.c.occurred_at >= start)
    if end is not None:
        query = query.where(anomalies.c.occurred_at < end)
    if kinds:
        query = query.where(anomalies.c.kind.in_(kinds))
    if agent_id is not None:
        query = query.where(anomalies.c.agent_id == agent_id)
    if ticket_id is not None:
        query = query.where(anomalies.c.ticket_id == ticket_id)
    if open_complaints:
        query = query.where(open_complaint())
    if before is not None:
        query = query.where(keyset_before(anomalies.c.occurred_at, anomalies.c.id, before))
    query = query.order_by(anomalies.c.occurred_at.desc(), anomalies.c.id.desc()).limit(limit)
    return [anomaly_from_row(r) for r in (await conn.execute(query)).mappings()]
