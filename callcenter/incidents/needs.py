"""The incident's own ticket (the station's one order) carries the most vulnerable household
among its reports, so the order ranks in the station's list as that household's own repair
would (priority by the cold): a main break where an infant or a patient on oxygen went cold
is not an ordinary one. Kept in step as reports are taken, changed, linked and unlinked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.incidents.model import Incident
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import Vulnerability, is_final
from callcenter.tickets.store import tickets

# How much a vulnerability weighs ([priority.weights] vulnerability); the heaviest wins.
Weigh = Callable[[str], float]
SERVICE = (None, "service", None)


async def most_vulnerable(
    conn: AsyncConnection, incident_id: str, weigh: Weigh
) -> Vulnerability | None:
    t = tickets.c
    rows = await conn.execute(
        select(t.vulnerability)
        .where(t.incident_id == incident_id, t.kind == "repair", t.vulnerability.is_not(None))
        .distinct()
    )
    found = sorted(str(v) for (v,) in rows)  # sorted: a tie goes the same way every time
    return cast(Vulnerability | None, max(found, key=weigh, default=None))


async def refresh(conn: AsyncConnection, incident: Incident, weigh: Weigh, now: datetime) -> bool:
    """Set the own ticket's vulnerability to its reports' heaviest (its history says so);
    whether it changed."""
    if incident.ticket_id is None:
        return False
    own = await tickets_store.ticket_by_id(conn, incident.ticket_id, lock=True)
    if own is None or is_final(own.ticket.status):
        return False
    most = await most_vulnerable(conn, incident.id, weigh)
    before = own.ticket.vulnerability
    if most == before:
        return False
    await tickets_store.update_ticket(conn, replace(own.ticket, vulnerability=most, updated_at=now))
    await tickets_store.add_event(
        conn, own.ticket.id, now, SERVICE, "changed",
        {"changes": {"vulnerability": [before, most]}, "incident": incident.id},
    )  # fmt: skip
    return True
