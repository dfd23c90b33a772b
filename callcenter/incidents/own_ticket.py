"""An incident's own ticket (kind "incident"): the one order its station gets for the whole
area, dispatched as any repair is, in the transaction that opens the incident."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.auth.model import Principal
from callcenter.incidents import needs, store
from callcenter.incidents.model import Incident
from callcenter.orders.service import OrderChanged, Orders
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import CATEGORIES, Category, Ticket


def new_id() -> str:
    return uuid.uuid4().hex


def _who(user: Principal) -> tuple[int | None, str, str | None]:
    return user.id, user.name, user.work_number


async def dispatch(
    conn: AsyncConnection,
    orders: Orders,
    user: Principal,
    incident: Incident,
    now: datetime,
    weigh: needs.Weigh,
) -> tuple[Incident, OrderChanged]:
    """The incident's own ticket, sent to its station in the same transaction: with the most
    vulnerable of the reports it has already (a proposal's), so its deadlines by priority
    band are that household's."""
    households = len(await store.ticket_ids(conn, incident.id))
    vulnerability = await needs.most_vulnerable(conn, incident.id, weigh)
    ticket = Ticket(
        id=new_id(),
        kind="incident",
        status="open",
        reporter_name="",
        phone=None,
        address_typed=incident.area_label[:200],
        address_standard=None,
        address_routing=None,
        address_reason=None,
        station_proposed=incident.station,
        station=incident.station,
        category=_category(incident.categories),
        fault_location=None,
        severity="urgent",
        description=f"{incident.cause}（片区故障 {incident.id[:8]}，已报 {households} 户）",
        agent_id=user.id,
        agent_work_number=user.work_number,
        created_at=now,
        updated_at=now,
        incident_id=incident.id,
        vulnerability=vulnerability,
    )
    await tickets_store.insert_ticket(conn, ticket)
    await tickets_store.add_event(
        conn, ticket.id, now, _who(user), "created", {"incident": incident.id}
    )
    incident = replace(incident, ticket_id=ticket.id)
    await store.save(conn, incident)
    sent = await orders.dispatch_in(conn, user, ticket.id, now)
    return incident, sent


def _category(categories: Sequence[str]) -> Category | None:
    return next((c for c in CATEGORIES if c in categories), None)
