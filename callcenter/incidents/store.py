"""Incidents and their history in the database, and the queries the screen-pop, the linking
and the clustering need: the live incidents (a few hundred at most, read whole), a window of
recent repair reports, an incident's tickets and calls."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime, locked_row
from callcenter.incidents.model import LIVE, AreaKeys, Incident, Place, Status
from callcenter.tickets.store import ticket_calls, ticket_history, tickets


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status", "status", "created_at"),
        # One live proposal or incident per area and category: two service instances, or two
        # tickets arriving together, cannot propose the same cluster twice.
        Index(
            "uq_incidents_live_cluster",
            "cluster_key",
            unique=True,
            sqlite_where="status IN ('proposed', 'open') AND cluster_key IS NOT NULL",
            postgresql_where="status IN ('proposed', 'open') AND cluster_key IS NOT NULL",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    station: Mapped[str] = mapped_column(String(32))
    area: Mapped[str] = mapped_column(Text)  # JSON: [{kind, name, keys}]
    categories: Mapped[str] = mapped_column(String(200))  # JSON list
    cause: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expected_repair_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    announcement: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    cluster_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    opened_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    repaired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)


class IncidentEventRow(Base):
    """An incident's history, one row per step; never updated or deleted (migration 0017)."""

    __tablename__ = "incident_history"
    __table_args__ = (Index("ix_incident_history_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="{}")


incidents = cast(Table, IncidentRow.__table__)
incident_history = cast(Table, IncidentEventRow.__table__)

_PLAIN = (
    "id", "status", "station", "cause", "started_at", "expected_repair_at", "announcement",
    "created_at", "created_by", "cluster_key", "opened_at", "opened_by", "closed_at",
    "closed_by", "repaired_at", "note", "ticket_id",
)  # fmt: skip


def _place_json(p: Place) -> dict[str, Any]:
    keys = {k: v for k, v in vars_of(p.keys).items() if v is not None}
    return {"kind": p.kind, "name": p.name, "keys": keys}


def vars_of(keys: AreaKeys) -> dict[str, str | None]:
    return {f: getattr(keys, f) for f in AreaKeys.__slots__}


def incident_row(i: Incident) -> dict[str, Any]:
    row = {c: getattr(i, c) for c in _PLAIN}
    row["area"] = json.dumps([_place_json(p) for p in i.area], ensure_ascii=False)
    row["categories"] = json.dumps(list(i.categories))
    return row


def incident_from_row(r: Mapping[Any, Any]) -> Incident:
    area = tuple(Place(p["kind"], p["name"], AreaKeys(**p["keys"])) for p in json.loads(r["area"]))
    return Incident(
        **{c: r[c] for c in _PLAIN if c not in ("status",)},
        status=cast(Status, r["status"]),
        area=area,
        categories=tuple(json.loads(r["categories"])),
    )


async def insert(conn: AsyncConnection, incident: Incident) -> None:
    await conn.execute(incidents.insert().values(**incident_row(incident)))


async def save(conn: AsyncConnection, incident: Incident) -> None:
    row = incident_row(incident)
    del row["id"]
    await conn.execute(update(incidents).where(incidents.c.id == incident.id).values(**row))


async def get(
    conn: AsyncConnection, incident_id: str, lock: bool = False, share: bool = False
) -> Incident | None:
    """`lock`: for a change of the incident (db.locked_row); `share`: for linking a report
    to it, so that a close or dismissal waits for the report (and sees it), or the report
    sees it closed (SQLite: the linking transaction has written its ticket first, so it
    holds the write lock already)."""
    where = incidents.c.id == incident_id
    query = select(incidents).where(where)
    if lock:
        result = await locked_row(conn, incidents, where, query)
    elif share and conn.dialect.name == "postgresql":
        result = await conn.execute(query.with_for_update(read=True))
    else:
        result = await conn.execute(query)
    row = result.mappings().first()
    return incident_from_row(row) if row else None


async def first_live(conn: AsyncConnection, candidates: list[Incident]) -> Incident | None:
    """The first of `candidates` still live once its row is share-locked: the open one
    before a proposal, the older first."""
    for candidate in sorted(candidates, key=lambda i: (i.status != "open", i.created_at)):
        locked = await get(conn, candidate.id, share=True)
        if locked is not None and locked.status in LIVE:
            return locked
    return None


async def live(conn: AsyncConnection) -> list[Incident]:
    rows = await conn.execute(
        select(incidents)
        .where(incidents.c.status.in_(LIVE))
        .order_by(incidents.c.created_at, incidents.c.id)
    )
    return [incident_from_row(r) for r in rows.mappings()]


async def search(
    conn: AsyncConnection, statuses: Sequence[str], limit: int, before: datetime | None
) -> list[Incident]:
    query = select(incidents).order_by(incidents.c.created_at.desc(), incidents.c.id.desc())
    if statuses:
        query = query.where(incidents.c.status.in_(statuses))
    if before is not None:
        query = query.where(incidents.c.created_at < before)
    rows = await conn.execute(query.limit(limit))
    return [incident_from_row(r) for r in rows.mappings()]


async def last_dismissal(conn: AsyncConnection, key: str) -> datetime | None:
    """When a proposal of this area and category was last dismissed: reports before it have
    been looked at and are not counted again."""
    found = await conn.scalar(
        select(func.max(incidents.c.closed_at)).where(
            incidents.c.cluster_key == key, incidents.c.status == "dismissed"
        )
    )
    return cast(datetime | None, found)


async def add_event(
    conn: AsyncConnection, incident_id: str, at: datetime, by: str, action: str, detail: Any
) -> None:
    await conn.execute(
        incident_history.insert().values(
            incident_id=incident_id,
            at=at,
            by=by,
            action=action,
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )


async def history(conn: AsyncConnection, incident_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(incident_history)
        .where(incident_history.c.incident_id == incident_id)
        .order_by(incident_history.c.id)
    )
    return [
        {"at": r.at, "by": r.by, "action": r.action, "detail": json.loads(r.detail)} for r in rows
    ]


# -- its tickets ---------------------------------------------------------------------------


async def recent_reports(
    conn: AsyncConnection,
    categories: Sequence[str],
    since: datetime,
    until: datetime,
    statuses: Sequence[str] = ("open", "dispatched", "repaired", "closed"),
) -> list[Mapping[Any, Any]]:
    """Repair tickets of these categories taken in [since, until] and not part of any
    incident: the clustering's candidates (a flood's few hundred at most)."""
    t = tickets.c
    rows = await conn.execute(
        select(t.id, t.created_at, t.category, t.address_standard, t.phone, t.station)
        .where(
            t.kind == "repair",
            t.status.in_(statuses),
            t.incident_id.is_(None),
            t.category.in_(categories),
            t.created_at >= since,
            t.created_at <= until,
        )
        .order_by(t.created_at, t.id)
    )
    return list(rows.mappings())


async def unlinked_by_hand(conn: AsyncConnection, ticket_ids: Sequence[str]) -> set[str]:
    """Which of these tickets someone took out of an incident (a report linked by mistake):
    an incident opening later leaves them as the person decided."""
    if not ticket_ids:
        return set()
    h = ticket_history.c
    rows = await conn.execute(
        select(h.ticket_id, h.detail).where(
            h.ticket_id.in_(list(ticket_ids)), h.action == "status", h.detail.contains('"unlinked"')
        )
    )
    return {r.ticket_id for r in rows if "unlinked" in json.loads(r.detail or "{}")}


async def link(conn: AsyncConnection, ticket_ids: Sequence[str], incident_id: str) -> int:
    if not ticket_ids:
        return 0
    done = await conn.execute(
        update(tickets)
        .where(tickets.c.id.in_(ticket_ids), tickets.c.incident_id.is_(None))
        .values(incident_id=incident_id)
    )
    return int(done.rowcount or 0)


async def move(conn: AsyncConnection, source: str, target: str) -> int:
    done = await conn.execute(
        update(tickets).where(tickets.c.incident_id == source).values(incident_id=target)
    )
    return int(done.rowcount or 0)


async def unlink_all(conn: AsyncConnection, incident_id: str) -> int:
    done = await conn.execute(
        update(tickets).where(tickets.c.incident_id == incident_id).values(incident_id=None)
    )
    return int(done.rowcount or 0)


async def ticket_ids(conn: AsyncConnection, incident_id: str) -> list[str]:
    """The reports linked to it (not its own ticket, the station's order)."""
    rows = await conn.execute(
        select(tickets.c.id)
        .where(tickets.c.incident_id == incident_id, tickets.c.kind == "repair")
        .order_by(tickets.c.created_at, tickets.c.id)
    )
    return [r.id for r in rows]


async def counts(conn: AsyncConnection, incident_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(tickets, calls) linked to each incident."""
    if not incident_ids:
        return {}
    t, tc = tickets.c, ticket_calls.c
    found = {
        r.incident_id: (int(r.n), 0)
        for r in await conn.execute(
            select(t.incident_id, func.count().label("n"))
            .where(t.incident_id.in_(incident_ids), t.kind == "repair")
            .group_by(t.incident_id)
        )
    }
    for r in await conn.execute(
        select(t.incident_id, func.count(func.distinct(tc.call_id)).label("n"))
        .select_from(tickets.join(ticket_calls, tc.ticket_id == t.id))
        .where(t.incident_id.in_(incident_ids), t.kind == "repair")
        .group_by(t.incident_id)
    ):
        found[r.incident_id] = (found.get(r.incident_id, (0, 0))[0], int(r.n))
    return found


async def same_household(
    conn: AsyncConnection, incident_id: str, standard: str | None, phone: str
) -> list[Mapping[Any, Any]]:
    """The incident's repair tickets from this flat or this number, oldest first."""
    t = tickets.c
    rows = await conn.execute(
        select(t.id, t.address_standard, t.phone)
        .where(
            t.incident_id == incident_id,
            t.kind == "repair",
            or_(t.address_standard == standard, t.phone == phone),
        )
        .order_by(t.created_at, t.id)
    )
    return list(rows.mappings())


async def owner_of_ticket(conn: AsyncConnection, ticket_id: str) -> str | None:
    """The incident whose own ticket (the station's one order) this is."""
    found = await conn.scalar(select(incidents.c.id).where(incidents.c.ticket_id == ticket_id))
    return cast(str | None, found)
