"""Closing an incident: its own ticket closed, every linked report repaired, and one
callback owed to each household that called (on its first report, by the agent who took it:
首问责任制); the household's other reports are closed with it. In the closing transaction,
so an incident is never closed with its callbacks half-booked."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.callbacks import store as callbacks_store
from callcenter.callbacks.model import DUE_WITHIN, Callback
from callcenter.incidents import model, store
from callcenter.incidents.model import Incident
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import Ticket


def new_id() -> str:
    return uuid.uuid4().hex


async def repair_tickets(
    conn: AsyncConnection, incident: Incident, by: str, now: datetime
) -> tuple[int, int]:
    """Each linked ticket repaired; one callback per household, on its first ticket (its
    agent calls back: 首问责任制), the household's other tickets closed with it."""
    repaired = booked = 0
    if incident.ticket_id is not None:
        own = await tickets_store.ticket_by_id(conn, incident.ticket_id, lock=True)
        if own is not None and own.ticket.status != "closed":
            await set_status(conn, own.ticket, "closed", by, now, incident)
    seen: dict[str, str] = {}
    for ticket_id in await store.ticket_ids(conn, incident.id):
        found = await tickets_store.ticket_by_id(conn, ticket_id, lock=True)
        assert found is not None
        ticket = found.ticket
        if ticket.status not in ("open", "dispatched") or ticket.kind != "repair":
            continue
        key = model.household(ticket.address_standard, ticket.phone) or ticket.id
        first = seen.setdefault(key, ticket.id)
        if first != ticket.id:
            await set_status(conn, ticket, "closed", by, now, incident, same_as=first)
            continue
        await set_status(conn, ticket, "repaired", by, now, incident)
        repaired += 1
        callback = Callback(
            id=new_id(),
            ticket_id=ticket.id,
            order_id=None,
            reason="repair",
            agent_id=ticket.agent_id,
            station=ticket.station,
            created_at=now,
            due_at=now + DUE_WITHIN,
        )
        if await callbacks_store.insert_once(conn, callback):
            booked += 1
    return repaired, booked


async def set_status(
    conn: AsyncConnection,
    ticket: Ticket,
    status: str,
    by: str,
    now: datetime,
    incident: Incident,
    same_as: str | None = None,
) -> None:
    changed = replace(ticket, status=status, updated_at=now)  # type: ignore[arg-type]
    await tickets_store.update_ticket(conn, changed)
    detail: dict[str, Any] = {
        "changes": {"status": [ticket.status, status]},
        "incident": incident.id,
    }
    if same_as is not None:
        detail["same_household_as"] = same_as
    await tickets_store.add_event(conn, ticket.id, now, (None, by, None), "status", detail)
