"""Routes for incidents: list, open, confirm or dismiss a proposal, change, close, look one up
by address (the desk as the agent types), and the desk's one-key incident report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcenter.auth.http import json_body, principal
from callcenter.errors import Invalid, NotFound
from callcenter.incidents import model, schemas
from callcenter.incidents.model import INCIDENT_READERS, STATUSES, AreaError, Place
from callcenter.incidents.reporting import IncidentReports, ReportRequest
from callcenter.incidents.service import Incidents
from callcenter.tickets.model import CATEGORIES, TICKET_USERS
from callcenter.web.params import ID_RE, path_id

# The ticket as the tickets routes dump it (numbers masked by role): (user, ticket id) → JSON.
TicketJson = Callable[[Any, str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class IncidentsDeps:
    incidents: Callable[[], Incidents]
    reports: Callable[[], IncidentReports]
    ticket_json: TicketJson


INCIDENTS = web.AppKey("incidents", IncidentsDeps)
MAX_LIMIT = 500


def _places(deps: IncidentsDeps, typed: list[tuple[str, str]] | None) -> tuple[Place, ...] | None:
    if typed is None:
        return None
    book = deps.incidents().book()
    places = []
    for n, (kind, name) in enumerate(typed):
        try:
            place, _ = model.resolve_place(book, kind, name)  # type: ignore[arg-type]
        except AreaError as exc:
            raise Invalid(exc.code, f"area[{n}] {name!r}: {exc.message}", "area") from None
        places.append(place)
    return tuple(places)


async def list_incidents(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    await principal(request, INCIDENT_READERS)
    q = request.query
    statuses = tuple(s for s in q.get("status", "").split(",") if s)
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise Invalid("unknown-status", f"status: some of {', '.join(STATUSES)}", "status")
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise Invalid("bad-limit", "limit: a number 1-500", "limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid("bad-limit", "limit: a number 1-500", "limit")
    service = deps.incidents()
    if statuses and set(statuses) <= set(model.LIVE):
        live = await service.live()
        body = [schemas.incident_json(i, c) for i, c in live if i.status in statuses]
        return web.json_response(body[:limit])
    found = await service.search(statuses, limit, None)
    return web.json_response([schemas.incident_json(i) for i in found])


async def open_incident(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    user = await principal(request, model.INCIDENT_OPENERS)
    body = await json_body(request)
    opening = schemas.opening(body, _places(deps, schemas.area(body)))
    incident = await deps.incidents().open(user, opening)
    response = web.json_response(await _detail(deps, incident.id), status=201)
    response.headers["Location"] = f"/api/incidents/{incident.id}"
    return response


async def _detail(deps: IncidentsDeps, incident_id: str) -> dict[str, Any]:
    incident, extra = await deps.incidents().detail(incident_id)
    return {
        **schemas.incident_json(incident, (extra["tickets"], extra["calls"])),
        "ticket_ids": extra["ticket_ids"],
        "order": schemas.order_brief(extra["order"]),
        "history": [
            {**e, "at": e["at"].isoformat().replace("+00:00", "Z")} for e in extra["history"]
        ],
    }


async def get_incident(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    await principal(request, INCIDENT_READERS)
    return web.json_response(await _detail(deps, path_id(request, "incident")))


async def change_incident(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    user = await principal(request, model.INCIDENT_OPENERS)
    values = schemas.patch(await json_body(request))
    incident = await deps.incidents().update(user, path_id(request, "incident"), values)
    return web.json_response(await _detail(deps, incident.id))


async def confirm_incident(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    user = await principal(request, model.INCIDENT_HEADS)
    body = await json_body(request)
    opening = schemas.opening(body, _places(deps, schemas.area(body)))
    incident = await deps.incidents().confirm(user, path_id(request, "incident"), opening)
    return web.json_response(await _detail(deps, incident.id))


async def dismiss_incident(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    user = await principal(request, model.INCIDENT_HEADS)
    reason = schemas.reason(await json_body(request), "reason")
    incident = await deps.incidents().dismiss(user, path_id(request, "incident"), reason)
    return web.json_response(await _detail(deps, incident.id))


async def close_incident(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    user = await principal(request, model.INCIDENT_HEADS)
    note, repaired_at = schemas.closing(await json_body(request))
    incident = await deps.incidents().close(user, path_id(request, "incident"), note, repaired_at)
    return web.json_response(await _detail(deps, incident.id))


async def unlink_ticket(request: web.Request) -> web.Response:
    deps = request.app[INCIDENTS]
    user = await principal(request, TICKET_USERS)
    ticket_id = request.match_info["ticket"]
    if not ID_RE.match(ticket_id):
        raise NotFound("not-in-incident", f"no ticket {ticket_id[:64]!r}", "ticket")
    incident = await deps.incidents().unlink(user, path_id(request, "incident"), ticket_id)
    return web.json_response(await _detail(deps, incident.id))


async def lookup(request: web.Request) -> web.Response:
    """The live incidents covering an address, as the agent types it."""
    deps = request.app[INCIDENTS]
    await principal(request, INCIDENT_READERS)
    address = request.query.get("address", "").strip()
    if not address or len(address) > 200:
        raise Invalid("missing-field", "address: the address as typed (≤ 200)", "address")
    service = deps.incidents()
    standard, found = await service.covering_address(address)
    return web.json_response(
        {"address_standard": standard, "incidents": [schemas.incident_json(i) for i in found]}
    )


async def report(request: web.Request) -> web.Response:
    """The desk's one key: this call reported as part of the incident."""
    deps = request.app[INCIDENTS]
    user = await principal(request, TICKET_USERS)
    body = await json_body(request)
    allowed = ("call", "phone", "address", "reporter_name", "category")
    for key in body:
        if key not in allowed:
            raise Invalid("unknown-field", f"{key}: one of {', '.join(allowed)}", key)
        if body[key] is not None and not isinstance(body[key], str):
            raise Invalid("bad-type", f"{key} must be a string", key)
    category = body.get("category")
    if category is not None and category not in CATEGORIES:
        raise Invalid("bad-category", f"category: one of {', '.join(CATEGORIES)}", "category")
    req = ReportRequest(
        call=body.get("call") or None,
        phone=body.get("phone") or None,
        address=(body.get("address") or "").strip()[:200] or None,
        reporter_name=(body.get("reporter_name") or "").strip()[:64] or None,
        category=category,
    )
    if req.call is not None and not ID_RE.match(req.call):
        raise Invalid("no-such-call", f"no call {req.call[:64]!r}", "call")
    done = await deps.reports().report(user, path_id(request, "incident"), req)
    ticket = await deps.ticket_json(user, done.found.ticket.id)
    return web.json_response(
        {"created": done.created, "ticket": ticket}, status=201 if done.created else 200
    )


def add_routes(app: web.Application, deps: IncidentsDeps) -> None:
    app[INCIDENTS] = deps
    app.router.add_get("/api/incidents", list_incidents, name="incidents")
    app.router.add_post("/api/incidents", open_incident, name="incidents_open")
    app.router.add_get("/api/incidents/lookup", lookup, name="incidents_lookup")
    app.router.add_get("/api/incidents/{id}", get_incident, name="incident")
    app.router.add_patch("/api/incidents/{id}", change_incident, name="incident_change")
    app.router.add_post("/api/incidents/{id}/confirm", confirm_incident, name="incident_confirm")
    app.router.add_post("/api/incidents/{id}/dismiss", dismiss_incident, name="incident_dismiss")
    app.router.add_post("/api/incidents/{id}/close", close_incident, name="incident_close")
    app.router.add_post("/api/incidents/{id}/report", report, name="incident_report")
    app.router.add_delete(
        "/api/incidents/{id}/tickets/{ticket}", unlink_ticket, name="incident_unlink"
    )
