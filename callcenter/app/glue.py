"""The small callables the composition root hands one capability to reach another's state
without importing it: the call a ticket is taken on, a ticket's recordings, priorities."""

from __future__ import annotations

from typing import Any

from callcenter.app.services import Services
from callcenter.auth.model import Principal
from callcenter.incidents import schemas as incidents_schemas
from callcenter.orders.model import Deadlines
from callcenter.priority import schemas as priority_schemas
from callcenter.probe import schemas as probe_schemas
from callcenter.recordings.schemas import recording_json
from callcenter.tickets import schemas as tickets_schemas
from callcenter.tickets.model import Ticket


async def current_call(svc: Services, extension: str) -> str | None:
    """The call the agent on `extension` is talking on (answered, not ended), once saved:
    the call a ticket typed now was taken on."""
    tracker = svc.tracker
    if tracker is None:
        return None
    for call in reversed(tracker.calls.values()):  # the most recently active first
        if call.closed:
            continue
        for leg in call.legs.values():
            if leg.extension == extension and leg.answered_at is not None and leg.ended_at is None:
                await tracker.wait_saved(call.id)
                return call.id
    return None


async def recordings_for_calls(svc: Services, call_ids: list[str]) -> list[dict[str, Any]]:
    """A ticket's recordings: those of its calls, newest first."""
    if svc.recordings is None:
        return []
    return [recording_json(r) for r in await svc.recordings.page(limit=200, call_ids=call_ids)]


def line_now(svc: Services) -> dict[str, Any] | None:
    """The hotline as the probe last saw it, for the live page's snapshot (None: no probe)."""
    if svc.probe is None:
        return None
    return probe_schemas.line_json(svc.probe.line, svc.probe.last, svc.settings.probe.number)


async def incidents_at(svc: Services, standards: list[str | None]) -> list[dict[str, Any]]:
    found = await svc.incident_service().covering(standards)
    return [incidents_schemas.incident_json(i) for i in found]


async def ticket_for(svc: Services, user: Principal, ticket_id: str) -> dict[str, Any]:
    """A ticket as GET /api/tickets lists it, its number shown as the user may see it."""
    detail = await svc.ticket_service().detail(ticket_id)
    own = detail.found.ticket.agent_id == user.id
    return tickets_schemas.ticket_json(detail.found, svc.hub.numbers.full(user.role, own_call=own))


def station_name(svc: Services, code: str) -> str:
    """宏城 (hongcheng): how spot-check evidence names a station."""
    station = svc.book.station(code) if svc.book is not None else None
    return f"{station.name} ({code})" if station is not None else code


def ticket_priority(svc: Services, ticket: Ticket) -> dict[str, Any] | None:
    """A repair still waiting: its priority now; anything else: None."""
    if svc.prioritizer is None:
        return None
    return priority_schemas.priority_json(svc.prioritizer.of_waiting(ticket))


def order_priority(svc: Services, ticket: Ticket) -> dict[str, Any] | None:
    """An order at its station: its ticket's priority now."""
    if svc.prioritizer is None:
        return None
    return priority_schemas.priority_json(svc.prioritizer.of(ticket))


def dispatch_deadlines(
    svc: Services, ticket: Ticket, base: Deadlines
) -> tuple[Deadlines, dict[str, Any] | None]:
    """An order's deadlines by its priority band at dispatch, and the band in its history."""
    if svc.prioritizer is None:
        return base, None
    deadlines, p = svc.prioritizer.deadlines(ticket, base)
    f = svc.settings.priority.factors(p.band)
    why = {
        "band": p.band,
        "score": p.score,
        "temperature": "ok" if p.outdoor.known else "unknown",
        "deadline_factors": {"accept": f.accept, "contact": f.contact, "repair": f.repair},
    }
    return deadlines, why
