"""Tickets, the calls linked to them and their history in the database; the queries the
desk needs to stay fast at a million tickets (phone, standard address, station, agent,
status and kind each indexed with the creation time, newest first, keyset paged)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    and_,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.auth.store import users
from callcenter.calls.store import calls, legs
from callcenter.db import Base, UTCDateTime, keyset_before, locked_row
from callcenter.tickets.model import OPEN_STATUSES, Ticket

# On PostgreSQL the standard address compares byte by byte (collation "C"), as SQLite does:
# a prefix is then a range the index serves (幸福里3号楼 finds every flat of the building).
ADDRESS_TYPE = String(255).with_variant(String(255, collation="C"), "postgresql")


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # Each with (created_at, id): a filtered page, newest first, is read off the index.
        Index("ix_tickets_created", "created_at", "id"),
        Index("ix_tickets_phone", "phone", "created_at", "id"),
        Index("ix_tickets_address", "address_standard", "created_at", "id"),
        Index("ix_tickets_station", "station", "created_at", "id"),
        Index("ix_tickets_agent", "agent_id", "created_at", "id"),
        Index("ix_tickets_status", "status", "created_at", "id"),
        Index("ix_tickets_kind", "kind", "created_at", "id"),
        # A number's, an address's, a station's tickets in one status (the open ones: a few
        # among thousands closed), read one status at a time.
        Index("ix_tickets_phone_status", "phone", "status", "created_at", "id"),
        Index("ix_tickets_address_status", "address_standard", "status", "created_at", "id"),
        Index("ix_tickets_station_status", "station", "status", "created_at", "id"),
        Index("ix_tickets_incident", "incident_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reporter_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    address_typed: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address_standard: Mapped[str | None] = mapped_column(ADDRESS_TYPE, nullable=True)
    address_routing: Mapped[str | None] = mapped_column(String(16), nullable=True)
    address_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    station_proposed: Mapped[str | None] = mapped_column(String(32), nullable=True)
    station: Mapped[str | None] = mapped_column(String(32), nullable=True)
    station_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str | None] = mapped_column(String(24), nullable=True)
    fault_location: Mapped[str | None] = mapped_column(String(200), nullable=True)
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # elderly | infant | medical (tickets.model.Vulnerability); raises the repair's priority.
    vulnerability: Mapped[str | None] = mapped_column(String(16), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    agent_work_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The incident (callcenter/incidents) the report is part of. No foreign key: an incident
    # names its own ticket, and the two tables would each wait for the other.
    incident_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class TicketCallRow(Base):
    """A call a ticket was taken on or followed up by, linked once."""

    __tablename__ = "ticket_calls"
    __table_args__ = (Index("ix_ticket_calls_call", "call_id"),)

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    linked_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    how: Mapped[str] = mapped_column(String(16))


class TicketEventRow(Base):
    """The ticket's history: one row per change, never updated or deleted (the database
    refuses both: triggers in migration 0004)."""

    __tablename__ = "ticket_history"
    __table_args__ = (Index("ix_ticket_history_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # Who, as they were named then (a renamed or removed user still shows).
    user_name: Mapped[str] = mapped_column(String(64))
    work_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # created, changed, status, note, call-linked
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="{}")


tickets = cast(Table, TicketRow.__table__)
ticket_calls = cast(Table, TicketCallRow.__table__)
ticket_history = cast(Table, TicketEventRow.__table__)

Cursor = tuple[datetime, str]

_TICKET_COLUMNS = (
    "id", "kind", "status", "reporter_name", "phone", "address_typed", "address_standard",
    "address_routing", "address_reason", "station_proposed", "station", "category",
    "fault_location", "severity", "description", "agent_id", "agent_work_number",
    "created_at", "updated_at", "incident_id", "vulnerability",
)  # fmt: skip


def ticket_row(t: Ticket) -> dict[str, Any]:
    row = {c: getattr(t, c) for c in _TICKET_COLUMNS}
    row["station_overridden"] = t.station_overridden
    return row


def ticket_from_row(r: Mapping[Any, Any]) -> Ticket:
    return Ticket(**{c: r[c] for c in _TICKET_COLUMNS})


@dataclass(frozen=True, slots=True)
class Found:
    """A ticket with the name of the agent who took it."""

    ticket: Ticket
    agent_name: str | None


def _found(rows: Sequence[Any]) -> list[Found]:
    return [Found(ticket_from_row(r._mapping), r.agent_name) for r in rows]


def _select() -> Any:
    return select(tickets, users.c.name.label("agent_name")).outerjoin(
        users, users.c.id == tickets.c.agent_id
    )


async def insert_ticket(conn: AsyncConnection, ticket: Ticket) -> None:
    await conn.execute(tickets.insert(), [ticket_row(ticket)])


async def update_ticket(conn: AsyncConnection, ticket: Ticket) -> None:
    row = ticket_row(ticket)
    del row["id"]
    await conn.execute(update(tickets).where(tickets.c.id == ticket.id).values(**row))


async def ticket_by_id(conn: AsyncConnection, ticket_id: str, lock: bool = False) -> Found | None:
    where = tickets.c.id == ticket_id
    stmt = _select().where(where)
    if lock:
        result = await locked_row(conn, tickets, where, stmt)
    else:
        result = await conn.execute(stmt)
    found = _found(result.all())
    return found[0] if found else None


async def tickets_by_ids(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Ticket]:
    """The tickets of these ids (those that exist), a few hundred per query."""
    out: dict[str, Ticket] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        stmt = select(tickets).where(tickets.c.id.in_(wanted[start : start + 500]))
        for r in (await conn.execute(stmt)).mappings():
            out[r["id"]] = ticket_from_row(r)
    return out


async def add_event(
    conn: AsyncConnection,
    ticket_id: str,
    at: datetime,
    user: tuple[int | None, str, str | None],
    action: str,
    detail: dict[str, Any],
) -> None:
    """Append one history row (the only write the history table takes)."""
    user_id, name, work_number = user
    await conn.execute(
        ticket_history.insert(),
        [
            {
                "ticket_id": ticket_id,
                "at": at,
                "user_id": user_id,
                "user_name": name,
                "work_number": work_number,
                "action": action,
                "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True),
            }
        ],
    )


async def history(conn: AsyncConnection, ticket_id: str) -> list[dict[str, Any]]:
    stmt = (
        select(ticket_history)
        .where(ticket_history.c.ticket_id == ticket_id)
        .order_by(ticket_history.c.id)
    )
    out = []
    for r in (await conn.execute(stmt)).all():
        row = dict(r._mapping)
        row["detail"] = json.loads(row["detail"])
        out.append(row)
    return out


async def call_exists(conn: AsyncConnection, call_id: str) -> bool:
    return bool(await conn.scalar(select(exists().where(calls.c.id == call_id))))


async def is_linked(conn: AsyncConnection, ticket_id: str, call_id: str) -> bool:
    stmt = select(
        exists().where(ticket_calls.c.ticket_id == ticket_id, ticket_calls.c.call_id == call_id)
    )
    return bool(await conn.scalar(stmt))


async def link_call(
    conn: AsyncConnection, ticket_id: str, call_id: str, at: datetime, by: int | None, how: str
) -> None:
    await conn.execute(
        ticket_calls.insert(),
        [
            {
                "ticket_id": ticket_id,
                "call_id": call_id,
                "linked_at": at,
                "linked_by": by,
                "how": how,
            }
        ],
    )


async def linked_calls(conn: AsyncConnection, ticket_id: str) -> list[Any]:
    """The ticket's calls, first linked first, with the phone that answered them."""
    linker = users.alias("linker")
    stmt = (
        select(
            ticket_calls.c.call_id,
            ticket_calls.c.linked_at,
            ticket_calls.c.how,
            linker.c.name.label("linked_by"),
            calls.c.caller,
            calls.c.offered_at,
            calls.c.answered_at,
            calls.c.ended_at,
            calls.c.final,
            calls.c.monitored,
            legs.c.extension,
            users.c.name.label("agent_name"),
        )
        .join(calls, calls.c.id == ticket_calls.c.call_id)
        .outerjoin(linker, linker.c.id == ticket_calls.c.linked_by)
        .outerjoin(legs, and_(legs.c.call_pk == calls.c.id, legs.c.leg_ref == calls.c.answered_leg))
        .outerjoin(users, users.c.id == legs.c.agent_id)
        .where(ticket_calls.c.ticket_id == ticket_id)
        .order_by(ticket_calls.c.linked_at, ticket_calls.c.call_id)
    )
    return list((await conn.execute(stmt)).all())


async def call_ids_of(conn: AsyncConnection, ticket_id: str) -> list[str] | None:
    """The ticket's call ids; None when there is no such ticket."""
    if not await conn.scalar(select(exists().where(tickets.c.id == ticket_id))):
        return None
    stmt = select(ticket_calls.c.call_id).where(ticket_calls.c.ticket_id == ticket_id)
    return [r.call_id for r in await conn.execute(stmt)]


async def owners_of_call(conn: AsyncConnection, call_id: str) -> frozenset[int]:
    """The agents who took a ticket on this call (首问责任制)."""
    stmt = (
        select(tickets.c.agent_id)
        .join(ticket_calls, ticket_calls.c.ticket_id == tickets.c.id)
        .where(ticket_calls.c.call_id == call_id, tickets.c.agent_id.is_not(None))
    )
    return frozenset(r.agent_id for r in await conn.execute(stmt))


async def last_answered_call(
    conn: AsyncConnection, agent_id: int, ended_since: datetime, answered_since: datetime
) -> str | None:
    """The agent's latest answered call that ended at or after `ended_since` (or has not
    ended), answered after `answered_since`."""
    stmt = (
        select(legs.c.call_pk)
        .where(
            legs.c.agent_id == agent_id,
            legs.c.answered_at.is_not(None),
            legs.c.answered_at >= answered_since,
            or_(legs.c.ended_at.is_(None), legs.c.ended_at >= ended_since),
        )
        .order_by(legs.c.answered_at.desc())
        .limit(1)
    )
    return cast(str | None, await conn.scalar(stmt))


async def call_for_pop(
    conn: AsyncConnection, call_id: str, agent_id: int, extension: str | None
) -> tuple[str, bool] | None:
    """(caller, rang this agent's phone) of a call; None when there is no such call."""
    caller = await conn.scalar(select(calls.c.caller).where(calls.c.id == call_id))
    if caller is None:
        return None
    mine = legs.c.agent_id == agent_id
    if extension:
        mine = or_(mine, legs.c.extension == extension)
    rang = await conn.scalar(select(exists().where(legs.c.call_pk == call_id, mine)))
    return str(caller), bool(rang)


@dataclass(frozen=True, slots=True)
class Filter:
    """What a search asks for; None: any."""

    phone: str | None = None
    address: str | None = None  # a standard form or the start of one
    address_exact: bool = False
    station: str | None = None
    statuses: tuple[str, ...] | None = None
    kind: str | None = None
    agent_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


def _next_after(prefix: str) -> str:
    """The first string after every string starting with `prefix` (code-point order)."""
    stem = prefix.rstrip("\U0010ffff")
    return stem[:-1] + chr(ord(stem[-1]) + 1) if stem else "\U0010ffff"


async def search(
    conn: AsyncConnection, f: Filter, limit: int, before: Cursor | None = None
) -> list[Found]:
    """Tickets matching every given filter, newest first, after `before` (keyset)."""
    return _found((await conn.execute(search_statement(f, limit, before))).all())


def search_statement(f: Filter, limit: int, before: Cursor | None = None) -> Any:
    where = []
    if f.phone is not None:
        where.append(tickets.c.phone == f.phone)
    if f.address is not None:
        if f.address_exact:
            where.append(tickets.c.address_standard == f.address)
        else:
            where.append(tickets.c.address_standard >= f.address)
            where.append(tickets.c.address_standard < _next_after(f.address))
    if f.station is not None:
        where.append(tickets.c.station == f.station)
    if f.statuses is not None and len(f.statuses) == 1:
        where.append(tickets.c.status == f.statuses[0])
    elif f.statuses is not None:
        where.append(tickets.c.status.in_(f.statuses))
    if f.kind is not None:
        where.append(tickets.c.kind == f.kind)
    if f.agent_id is not None:
        where.append(tickets.c.agent_id == f.agent_id)
    if f.start is not None:
        where.append(tickets.c.created_at >= f.start)
    if f.end is not None:
        where.append(tickets.c.created_at < f.end)
    if before is not None:
        where.append(keyset_before(tickets.c.created_at, tickets.c.id, before))
    return (
        _select()
        .where(*where)
        .order_by(tickets.c.created_at.desc(), tickets.c.id.desc())
        .limit(limit)
    )


async def last_address(conn: AsyncConnection, phone: str) -> str | None:
    """The standard address most recently given with this number."""
    stmt = (
        select(tickets.c.address_standard)
        .where(tickets.c.phone == phone, tickets.c.address_standard.is_not(None))
        .order_by(tickets.c.created_at.desc())
        .limit(1)
    )
    return cast(str | None, await conn.scalar(stmt))


async def open_tickets(
    conn: AsyncConnection, phone: str | None, address: str | None, limit: int
) -> list[Found]:
    """Tickets not yet closed or cancelled from this number or at this address: one small
    query per status, each read off its (phone | address, status, created_at) index, so a
    number with thousands of closed tickets costs no more than one with none."""
    out: dict[str, Found] = {}
    for status in OPEN_STATUSES:
        for f in (
            Filter(phone=phone, statuses=(status,)) if phone else None,
            Filter(address=address, address_exact=True, statuses=(status,)) if address else None,
        ):
            if f is not None:
                for found in await search(conn, f, limit):
                    out.setdefault(found.ticket.id, found)
    ordered = sorted(out.values(), key=lambda x: (x.ticket.created_at, x.ticket.id), reverse=True)
    return ordered[:limit]


async def count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(tickets)) or 0)
