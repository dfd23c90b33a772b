"""Orders, their history and the outbox in the database.

The outbox is how an order reaches its station at least once: the order and the message that
announces it are inserted in one transaction, and a sender drains the outbox. A message stays
until the station acknowledges it (its client's ack on MQTT, a webhook's 2xx), so a broker
or webhook that is down delays it and loses nothing; an acknowledged message is never sent
again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, Integer, String, Table, Text, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime, keyset_before, locked_row
from callcenter.orders.model import ACTIVE_STATUSES, Order, OrderStatus


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_station_status", "station", "status", "dispatched_at", "id"),
        Index("ix_orders_status", "status", "dispatched_at", "id"),
        Index("ix_orders_ticket", "ticket_id", "round"),
        Index("ix_orders_dispatched", "dispatched_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    station: Mapped[str] = mapped_column(String(32))
    round: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_by: Mapped[str] = mapped_column(String(64))
    accept_due: Mapped[datetime] = mapped_column(UTCDateTime())
    contact_due: Mapped[datetime] = mapped_column(UTCDateTime())
    repair_due: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_via: Mapped[str | None] = mapped_column(String(16), nullable=True)
    repairman: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Migration 0019: the open pause's start (waiting on the resident), callcenter/timeline.
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OrderEventRow(Base):
    """An order's history: one row per step, never updated or deleted (triggers in
    migration 0006), like a ticket's."""

    __tablename__ = "order_history"
    __table_args__ = (Index("ix_order_history_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))  # a user's name, or "station:<code>"
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="{}")


class OutboxRow(Base):
    """A message to a station, kept until the station acknowledges it."""

    __tablename__ = "order_outbox"
    __table_args__ = (
        # The sender's scan: what is not yet acknowledged, by when it is due.
        Index("ix_order_outbox_due", "acked_at", "parked_at", "next_attempt_at"),
        Index("ix_order_outbox_order", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the message id
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    station: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # mqtt | webhook
    kind: Mapped[str] = mapped_column(String(16))  # order | recall
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Given up (a webhook answering 500 for the whole retry budget): shown on health.
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


orders = cast(Table, OrderRow.__table__)
order_history = cast(Table, OrderEventRow.__table__)
order_outbox = cast(Table, OutboxRow.__table__)

_ORDER_COLUMNS = tuple(f.name for f in fields(Order))


def order_row(order: Order) -> dict[str, Any]:
    return {c: getattr(order, c) for c in _ORDER_COLUMNS}


def order_from_row(r: Mapping[Any, Any]) -> Order:
    return Order(**{c: r[c] for c in _ORDER_COLUMNS})


async def insert_order(conn: AsyncConnection, order: Order) -> None:
    await conn.execute(orders.insert().values(**order_row(order)))


async def get_order(conn: AsyncConnection, order_id: str, lock: bool = False) -> Order | None:
    """`lock` (in a writing transaction): the order as it is now, no one else changing it
    until the caller commits (db.locked_row)."""
    where = orders.c.id == order_id
    query = select(orders).where(where)
    if lock:
        result = await locked_row(conn, orders, where, query)
    else:
        result = await conn.execute(query)
    row = result.mappings().first()
    return order_from_row(row) if row else None


async def orders_of_ticket(conn: AsyncConnection, ticket_id: str) -> list[Order]:
    rows = await conn.execute(
        select(orders).where(orders.c.ticket_id == ticket_id).order_by(orders.c.round)
    )
    return [order_from_row(r) for r in rows.mappings()]


async def active_order(conn: AsyncConnection, ticket_id: str) -> Order | None:
    """The ticket's order still at a station, if any."""
    row = (
        (
            await conn.execute(
                select(orders).where(
                    orders.c.ticket_id == ticket_id, orders.c.status.in_(ACTIVE_STATUSES)
                )
            )
        )
        .mappings()
        .first()
    )
    return order_from_row(row) if row else None


async def active_orders(conn: AsyncConnection) -> list[Order]:
    """Every order whose deadlines may still run (for the timers on start)."""
    rows = await conn.execute(select(orders).where(orders.c.status.in_(ACTIVE_STATUSES)))
    return [order_from_row(r) for r in rows.mappings()]


async def open_by_station(conn: AsyncConnection) -> dict[str, int]:
    """Orders still at a station (未结工单), counted per station: what `GET
    /api/orders?status=sent,accepted,contacted&station=…` lists."""
    rows = await conn.execute(
        select(orders.c.station, func.count())
        .where(orders.c.status.in_(ACTIVE_STATUSES))
        .group_by(orders.c.station)
    )
    return {r[0]: int(r[1]) for r in rows}


async def update_order(conn: AsyncConnection, order_id: str, **values: Any) -> None:
    await conn.execute(update(orders).where(orders.c.id == order_id).values(**values))


async def add_event(
    conn: AsyncConnection, order_id: str, at: datetime, by: str, action: str, detail: dict[str, Any]
) -> None:
    await conn.execute(
        order_history.insert().values(
            order_id=order_id,
            at=at,
            by=by,
            action=action,
            detail=json.dumps(detail, ensure_ascii=False),
        )
    )


async def history(conn: AsyncConnection, order_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(order_history)
        .where(order_history.c.order_id == order_id)
        .order_by(order_history.c.id)
    )
    return [
        {"at": r["at"], "by": r["by"], "action": r["action"], **json.loads(r["detail"])}
        for r in rows.mappings()
    ]


OrderCursor = tuple[datetime, str]


async def search(
    conn: AsyncConnection,
    station: str | None,
    statuses: Sequence[OrderStatus],
    ticket_id: str | None,
    before: OrderCursor | None,
    limit: int | None,
) -> list[Order]:
    """Newest dispatched first, keyset paged (`limit` None: all, for a list sorted by
    priority in memory)."""
    query = select(orders)
    if station is not None:
        query = query.where(orders.c.station == station)
    if statuses:
        query = query.where(orders.c.status.in_(statuses))
    if ticket_id is not None:
        query = query.where(orders.c.ticket_id == ticket_id)
    if before is not None:
        query = query.where(keyset_before(orders.c.dispatched_at, orders.c.id, before))
    query = query.order_by(orders.c.dispatched_at.desc(), orders.c.id.desc()).limit(limit)
    return [order_from_row(r) for r in (await conn.execute(query)).mappings()]


# -- the outbox ------------------------------------------------------------------------------


async def enqueue(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(order_outbox.insert().values(**values))


async def due_messages(
    conn: AsyncConnection, now: datetime, limit: int, channel: str | None = None
) -> list[dict[str, Any]]:
    """Unacknowledged, not parked messages whose next attempt is due, oldest first (of one
    channel when given: a broker that is down must not hold up the webhooks)."""
    query = select(order_outbox).where(
        order_outbox.c.acked_at.is_(None),
        order_outbox.c.parked_at.is_(None),
        order_outbox.c.next_attempt_at <= now,
    )
    if channel is not None:
        query = query.where(order_outbox.c.channel == channel)
    rows = await conn.execute(
        query.order_by(order_outbox.c.next_attempt_at, order_outbox.c.id).limit(limit)
    )
    return [dict(r) for r in rows.mappings()]


async def next_due(conn: AsyncConnection, channel: str | None = None) -> datetime | None:
    """When the earliest pending message (of `channel`) is due (None: nothing pending)."""
    query = select(order_outbox.c.next_attempt_at).where(
        order_outbox.c.acked_at.is_(None), order_outbox.c.parked_at.is_(None)
    )
    if channel is not None:
        query = query.where(order_outbox.c.channel == channel)
    row = await conn.execute(query.order_by(order_outbox.c.next_attempt_at).limit(1))
    value = row.scalar_one_or_none()
    return cast(datetime | None, value)


async def outbox_counts(conn: AsyncConnection) -> dict[str, int]:
    """How many messages wait for their station's ack (`pending`, of which `unacked`: sent
    at least once) and how many were given up (`parked`), for /api/health."""
    c = order_outbox.c
    row = (
        await conn.execute(
            select(
                func.count().filter(c.parked_at.is_(None)),
                func.count().filter(c.parked_at.is_(None), c.sent_at.is_not(None)),
                func.count().filter(c.parked_at.is_not(None)),
            ).where(c.acked_at.is_(None))
        )
    ).one()
    return {"pending": int(row[0]), "unacked": int(row[1]), "parked": int(row[2])}


async def update_message(conn: AsyncConnection, message_id: str, **values: Any) -> None:
    await conn.execute(update(order_outbox).where(order_outbox.c.id == message_id).values(**values))


async def ack_message(conn: AsyncConnection, message_id: str, at: datetime) -> int:
    """Mark a message acknowledged once; the number of rows changed (0: unknown or already)."""
    result = await conn.execute(
        update(order_outbox)
        .where(order_outbox.c.id == message_id, order_outbox.c.acked_at.is_(None))
        .values(acked_at=at)
    )
    return int(result.rowcount or 0)


async def ack_pending(conn: AsyncConnection, order_id: str, at: datetime) -> None:
    """The station acted on the order: its unacknowledged messages need not go again."""
    await conn.execute(
        update(order_outbox)
        .where(order_outbox.c.order_id == order_id, order_outbox.c.acked_at.is_(None))
        .values(acked_at=at)
    )


async def ack_same(conn: AsyncConnection, order_id: str, kind: str, at: datetime) -> None:
    """The station has this order (or recall) through one channel: its copies on the other
    channels need not reach it again."""
    await conn.execute(
        update(order_outbox)
        .where(
            order_outbox.c.order_id == order_id,
            order_outbox.c.kind == kind,
            order_outbox.c.acked_at.is_(None),
        )
        .values(acked_at=at)
    )


async def get_message(conn: AsyncConnection, message_id: str) -> dict[str, Any] | None:
    row = (
        (await conn.execute(select(order_outbox).where(order_outbox.c.id == message_id)))
        .mappings()
        .first()
    )
    return dict(row) if row else None
