"""The one clock in the database: the orders' pauses (order_pauses), and the reads that gather
a ticket's steps from where each is kept — its calls and their legs, its orders, their pauses
and callbacks — for one ticket or for every repair ticket of a period, in a handful of
statements (each IN names the period's tickets by a subquery, not a list of ids)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.callbacks.store import callbacks
from callcenter.calls.store import calls, legs
from callcenter.clock import iso_z
from callcenter.db import Base, UTCDateTime
from callcenter.incidents.store import incidents
from callcenter.orders import store as orders_store
from callcenter.orders.model import ACTIVE_STATUSES, Order
from callcenter.orders.store import order_from_row, orders
from callcenter.tickets.store import ticket_calls, tickets
from callcenter.timeline.model import CallbackFacts, CallFacts, TicketFacts, measured_order
from callcenter.timeline.pauses import Pause, PauseReason


class OrderPauseRow(Base):
    """A wait on the resident. Ended once (ended_at set while still empty); the order's
    history keeps the pause and its end too, append-only."""

    __tablename__ = "order_pauses"
    __table_args__ = (Index("ix_order_pauses_order", "order_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    by: Mapped[str] = mapped_column(String(64))
    ended_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


order_pauses = cast(Table, OrderPauseRow.__table__)


def pause_from_row(r: Mapping[Any, Any]) -> Pause:
    reason = cast(PauseReason, r["reason"])
    return Pause(
        id=r["id"],
        order_id=r["order_id"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        reason=reason,
        note=r["note"],
        by=r["by"],
        ended_by=r["ended_by"],
    )


# -- pausing ---------------------------------------------------------------------------------


async def start_pause(
    conn: AsyncConnection,
    order: Order,
    at: datetime,
    reason: PauseReason,
    note: str | None,
    by: str,
) -> Order:
    """The station waits on the resident from `at`: the pause, the order's mark and its
    history row, in the caller's transaction."""
    await conn.execute(
        order_pauses.insert().values(
            order_id=order.id, started_at=at, reason=reason, note=note, by=by
        )
    )
    await orders_store.update_order(conn, order.id, paused_since=at)
    detail = {k: v for k, v in (("reason", reason), ("note", note)) if v}
    await orders_store.add_event(conn, order.id, at, by, "paused", detail)
    return replace(order, paused_since=at)


async def end_pause(conn: AsyncConnection, order: Order, at: datetime, by: str) -> Order:
    """End the order's open pause at `at` (`by`: who resumed, or "step:<action>" for a
    contact, return, refusal or recall that ended it): the deadlines it held move by its
    length (Order.resumed), and the history says by how much."""
    assert order.paused_since is not None
    p = order_pauses.c
    open_one = (
        await conn.execute(
            select(p.id, p.reason).where(p.order_id == order.id, p.ended_at.is_(None))
        )
    ).first()
    reason = open_one.reason if open_one is not None else None
    if open_one is not None:
        await conn.execute(
            update(order_pauses).where(p.id == open_one.id).values(ended_at=at, ended_by=by)
        )
    values = order.resumed(at)
    await orders_store.update_order(conn, order.id, **values)
    moved = {
        name: [iso_z(getattr(order, name)), iso_z(cast(datetime, value))]
        for name, value in values.items()
        if name != "paused_since"
    }
    detail: dict[str, Any] = {
        "reason": reason,
        "paused_seconds": round((at - order.paused_since).total_seconds(), 3),
        "due": moved,
    }
    if by.startswith("step:"):
        detail["ended_by"] = by.removeprefix("step:")
    await orders_store.add_event(conn, order.id, at, _actor(by), "resumed", detail)
    moved_order: Order = replace(order, **cast(dict[str, Any], values))
    return moved_order


def _actor(by: str) -> str:
    return "service" if by.startswith("step:") else by


# -- reading ---------------------------------------------------------------------------------


@dataclass
class Gathered:
    """What the clock needs of some tickets, by ticket id."""

    tickets: dict[str, TicketFacts] = field(default_factory=dict)
    calls: dict[str, list[CallFacts]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[str, list[Order]] = field(default_factory=lambda: defaultdict(list))
    pauses: dict[str, list[Pause]] = field(default_factory=lambda: defaultdict(list))
    callbacks: dict[str, list[CallbackFacts]] = field(default_factory=lambda: defaultdict(list))


def repair_tickets(start: datetime, end: datetime, station: str | None) -> Any:
    """The repair tickets taken in [start, end), as the daily report counts 报修量 (not
    cancelled: typed by mistake), of one station when given."""
    query = select(tickets.c.id).where(
        tickets.c.kind == "repair",
        tickets.c.status != "cancelled",
        tickets.c.created_at >= start,
        tickets.c.created_at < end,
    )
    if station is not None:
        query = query.where(func.coalesce(tickets.c.station, "") == station)
    return query


def one_ticket(ticket_id: str) -> Any:
    return select(tickets.c.id).where(tickets.c.id == ticket_id)


# Rows read between two turns of the event loop: the ring-limit and deadline timers run on
# it, and a month of tickets would otherwise hold it for seconds (scripts/bench_clock.py).
PARTITION = 500


async def _each(conn: AsyncConnection, query: Any) -> AsyncIterator[RowMapping]:
    """The rows of `query`, streamed a partition at a time, the loop given a turn between."""
    result = await conn.stream(query)
    async for part in result.mappings().partitions(PARTITION):
        for row in part:
            yield row
        await asyncio.sleep(0)


async def gather(conn: AsyncConnection, ids: Any) -> Gathered:
    """Every fact of the tickets `ids` (a SELECT of ticket ids) names: five statements, and
    two more for the tickets linked to an incident (its one order is theirs)."""
    out = Gathered()
    t = tickets.c
    query = select(t.id, t.kind, t.status, t.station, t.created_at, t.incident_id).where(
        t.id.in_(ids)
    )
    async for r in _each(conn, query):
        out.tickets[r["id"]] = TicketFacts(
            r["id"], r["kind"], r["status"], r["station"], r["created_at"], r["incident_id"]
        )
    link = ticket_calls.c
    query = (
        select(
            link.ticket_id,
            calls.c.id,
            calls.c.offered_at,
            calls.c.answered_at,
            calls.c.monitored,
            func.min(legs.c.ring_started_at).label("first_ring"),
        )
        .join(calls, calls.c.id == link.call_id)
        .outerjoin(legs, legs.c.call_pk == calls.c.id)
        .where(link.ticket_id.in_(ids))
        .group_by(
            link.ticket_id, calls.c.id, calls.c.offered_at, calls.c.answered_at, calls.c.monitored
        )
    )
    async for r in _each(conn, query):
        out.calls[r["ticket_id"]].append(
            CallFacts(
                r["id"], r["offered_at"], r["first_ring"], r["answered_at"], bool(r["monitored"])
            )
        )
    await _orders_and_pauses(conn, out, orders.c.ticket_id.in_(ids), None)
    await _incidents_orders(conn, out)
    c = callbacks.c
    query = select(c.ticket_id, c.order_id, c.due_at, c.done_at, c.status).where(
        c.ticket_id.in_(ids), c.order_id.is_not(None)
    )
    async for r in _each(conn, query):
        out.callbacks[r["ticket_id"]].append(
            CallbackFacts(r["order_id"], r["due_at"], r["done_at"], r["status"])
        )
    await _incidents_callbacks(conn, out)
    return out


async def _orders_and_pauses(
    conn: AsyncConnection, out: Gathered, where: Any, to: Mapping[str, list[str]] | None
) -> None:
    """The orders `where` picks and their pauses, each under its own ticket, or under each
    ticket `to` names for its ticket."""

    def owners(ticket_id: str) -> list[str]:
        return [ticket_id] if to is None else to.get(ticket_id, [])

    async for r in _each(conn, select(orders).where(where)):
        for owner in owners(r["ticket_id"]):
            out.orders[owner].append(order_from_row(r))
    query = (
        select(order_pauses, orders.c.ticket_id)
        .join(orders, orders.c.id == order_pauses.c.order_id)
        .where(where)
    )
    async for r in _each(conn, query):
        for owner in owners(r["ticket_id"]):
            out.pauses[owner].append(pause_from_row(r))


async def _incidents_orders(conn: AsyncConnection, out: Gathered) -> None:
    """A ticket linked to an incident has no order of its own at a station or returned (one
    it had before the incident opened was recalled): the station's one order for the
    incident (on the incident's own ticket) is the household's dispatch and repair."""
    linked: dict[str, list[str]] = defaultdict(list)
    for ticket in out.tickets.values():
        if ticket.incident_id is not None and not any(
            o.status in ACTIVE_STATUSES or o.returned_at is not None
            for o in out.orders.get(ticket.id, [])
        ):
            linked[ticket.incident_id].append(ticket.id)
    if not linked:
        return
    to: dict[str, list[str]] = {}
    query = select(incidents.c.id, incidents.c.ticket_id).where(
        incidents.c.id.in_(list(linked)), incidents.c.ticket_id.is_not(None)
    )
    for r in (await conn.execute(query)).mappings():
        to[r["ticket_id"]] = linked[r["id"]]
    if to:
        await _orders_and_pauses(conn, out, orders.c.ticket_id.in_(list(to)), to)


async def _incidents_callbacks(conn: AsyncConnection, out: Gathered) -> None:
    """Closing an incident owes each household that called one callback, booked on its own
    ticket with no order (incidents/closing.py): it is the callback of the incident's order."""
    through = {
        ticket_id: order.id
        for ticket_id, ticket in out.tickets.items()
        if ticket.incident_id is not None
        and (order := measured_order(out.orders.get(ticket_id, []))) is not None
        and order.ticket_id != ticket_id
    }
    if not through:
        return
    c = callbacks.c
    query = select(c.ticket_id, c.due_at, c.done_at, c.status).where(
        c.ticket_id.in_(list(through)), c.order_id.is_(None), c.reason == "repair"
    )
    async for r in _each(conn, query):
        out.callbacks[r["ticket_id"]].append(
            CallbackFacts(through[r["ticket_id"]], r["due_at"], r["done_at"], r["status"])
        )
