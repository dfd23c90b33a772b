"""Callbacks in the database: one row per callback owed, with the resident's answers once
made. A returned order books at most one (UNIQUE order_id): a redelivered event, a restart or
a second instance cannot book it twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.callbacks.model import Callback, CallbackStatus
from callcenter.db import Base, UTCDateTime, keyset_before, locked_row


class CallbackRow(Base):
    __tablename__ = "callbacks"
    __table_args__ = (
        UniqueConstraint("order_id", name="uq_callbacks_order_id"),
        # An agent's list, soonest due first; and the figures over a period.
        Index("ix_callbacks_agent_status", "agent_id", "status", "due_at", "id"),
        Index("ix_callbacks_status_due", "status", "due_at", "id"),
        Index("ix_callbacks_created", "created_at", "id"),
        Index("ix_callbacks_ticket", "ticket_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    station: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    booked_for: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), nullable=True)
    solved: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    attitude: Mapped[str | None] = mapped_column(String(16), nullable=True)
    charged: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    suggestions: Mapped[str | None] = mapped_column(Text, nullable=True)
    fee_reminded: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


callbacks = cast(Table, CallbackRow.__table__)

_COLUMNS = tuple(f.name for f in fields(Callback))


def callback_from_row(r: Mapping[Any, Any]) -> Callback:
    return Callback(**{c: r[c] for c in _COLUMNS})


async def insert_once(conn: AsyncConnection, callback: Callback) -> bool:
    """Book it; False when its order already has one (nothing changed)."""
    try:
        async with conn.begin_nested():
            await conn.execute(
                callbacks.insert().values(**{c: getattr(callback, c) for c in _COLUMNS})
            )
    except IntegrityError:
        return False
    return True


async def get(conn: AsyncConnection, callback_id: str, lock: bool = False) -> Callback | None:
    where = callbacks.c.id == callback_id
    query = select(callbacks).where(where)
    if lock:
        result = await locked_row(conn, callbacks, where, query)
    else:
        result = await conn.execute(query)
    row = result.mappings().first()
    return callback_from_row(row) if row else None


async def update_callback(conn: AsyncConnection, callback_id: str, **values: Any) -> None:
    await conn.execute(update(callbacks).where(callbacks.c.id == callback_id).values(**values))


async def of_ticket(conn: AsyncConnection, ticket_id: str) -> list[Callback]:
    rows = await conn.execute(
        select(callbacks).where(callbacks.c.ticket_id == ticket_id).order_by(callbacks.c.created_at)
    )
    return [callback_from_row(r) for r in rows.mappings()]


async def cancel_due(conn: AsyncConnection, ticket_id: str, at: datetime, by: str) -> None:
    """A ticket going back to its station owes no callback until the station returns it."""
    await conn.execute(
        update(callbacks)
        .where(callbacks.c.ticket_id == ticket_id, callbacks.c.status == "due")
        .values(status="cancelled", done_at=at, done_by=by)
    )


Cursor = tuple[datetime, str]


async def search(
    conn: AsyncConnection,
    agent_id: int | None,
    statuses: tuple[CallbackStatus, ...],
    start: datetime | None,
    end: datetime | None,
    limit: int,
    before: Cursor | None = None,
) -> list[Callback]:
    """Due ones soonest first (the agent's list); with from/to, those created in the period,
    newest first."""
    query = select(callbacks)
    if agent_id is not None:
        query = query.where(callbacks.c.agent_id == agent_id)
    if statuses:
        query = query.where(callbacks.c.status.in_(statuses))
    if start is not None:
        query = query.where(callbacks.c.created_at >= start)
    if end is not None:
        query = query.where(callbacks.c.created_at < end)
    if before is not None:
        query = query.where(keyset_before(callbacks.c.created_at, callbacks.c.id, before))
    if statuses == ("due",) and start is None and end is None and before is None:
        query = query.order_by(callbacks.c.due_at, callbacks.c.id)
    else:
        query = query.order_by(callbacks.c.created_at.desc(), callbacks.c.id.desc())
    return [callback_from_row(r) for r in (await conn.execute(query.limit(limit))).mappings()]


async def count_due(conn: AsyncConnection, by: datetime, now: datetime) -> tuple[int, int]:
    """Callbacks still to make whose due time falls before `by` (the overdue among them
    too), and how many of those are overdue at `now`: the due list (`GET
    /api/callbacks?status=due`) cut at `by` (ix_callbacks_status_due)."""
    c = callbacks.c
    row = (
        await conn.execute(
            select(func.count(), func.coalesce(func.sum(case((c.due_at < now, 1), else_=0)), 0))
            .select_from(callbacks)
            .where(c.status == "due", c.due_at < by)
        )
    ).one()
    return int(row[0]), int(row[1])


async def figures(
    conn: AsyncConnection, group: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Per agent or station (`group`), of the callbacks owed in [start, end): how many, how
    many made, made on time, satisfied, charged, and the mean score."""
    column = callbacks.c.agent_id if group == "agent" else callbacks.c.station
    done = callbacks.c.status == "done"

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = await conn.execute(
        select(
            column.label("key"),
            func.count().label("owed"),
            count(done).label("made"),
            count(done & (callbacks.c.done_at <= callbacks.c.due_at)).label("on_time"),
            count(
                done & callbacks.c.solved.is_(True) & (callbacks.c.attitude != "unsatisfied")
            ).label("satisfied"),
            count(callbacks.c.charged.is_(True)).label("charged"),
            func.avg(callbacks.c.score).label("mean_score"),
        )
        .where(
            callbacks.c.created_at >= start,
            callbacks.c.created_at < end,
            callbacks.c.status != "cancelled",
        )
        .group_by(column)
        .order_by(column)
    )
    return [dict(r._mapping) for r in rows]
