"""Routes for tickets and the caller's history the desk pops: parse → authorize → use case →
dump. Paging is the shape of /api/calls: newest first, a Link rel="next" when a page is full."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.auth import store as auth_store
from callcenter.auth.http import json_body, principal
from callcenter.auth.model import NAME_RE, Principal
from callcenter.errors import Invalid, NotFound
from callcenter.privacy import NumberPolicy
from callcenter.stations.model import route
from callcenter.tickets import model, schemas
from callcenter.tickets.model import ALL_KINDS, STATUSES, TICKET_USERS, Ticket
from callcenter.tickets.service import CallerHistory, Detail, Tickets
from callcenter.tickets.store import Cursor, Filter, Found
from callcenter.web.paging import paged, read_cursor, read_instant, read_limit
from callcenter.web.params import ID_RE, path_id

RecordingsForCalls = Callable[[list[str]], Awaitable[list[dict[str, Any]]]]
IncidentsAt = Callable[[list[str | None]], Awaitable[list[dict[str, Any]]]]
# A ticket → its priority now as JSON (None: not a repair still waiting).
PriorityOf = Callable[[Ticket], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class TicketsDeps:
    """What the ticket routes need: the use cases, who sees numbers in full, the hotline's
    time zone, and the recordings capability's hook (None: every ticket lists none)."""

    tickets: Callable[[], Tickets]
    numbers: NumberPolicy
    timezone: str
    recordings_for_calls: RecordingsForCalls | None = None
    # The live incidents (callcenter/incidents) covering these standard addresses, as JSON.
    incidents_at: IncidentsAt | None = None
    priority: PriorityOf | None = None


TICKETS = web.AppKey("tickets", TicketsDeps)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Ids this service gives out (tickets and calls: 32 hex digits); anything else names nothing
# and never reaches the database (PostgreSQL refuses a NUL with an error, not a miss).


def _full(deps: TicketsDeps, user: Principal, found: Found) -> bool:
    """Numbers in full per [privacy]; an agent sees a colleague's ticket's number masked."""
    return deps.numbers.full(user.role, own_call=found.ticket.agent_id == user.id)


def _json(deps: TicketsDeps, user: Principal, found: Found) -> dict[str, Any]:
    """A ticket as the API answers it, with its priority computed now (waiting time moves)."""
    body = schemas.ticket_json(found, _full(deps, user, found))
    body["priority"] = deps.priority(found.ticket) if deps.priority is not None else None
    return body


def _cursor(request: web.Request) -> Cursor | None:
    cursor = read_cursor(request)
    if cursor is not None and not ID_RE.match(cursor[1]):
        raise Invalid("bad-parameter", "cursor is not one this API gave out", "cursor")
    return cursor


def _phone(text: str | None, field: str) -> str | None:
    if not text:
        return None
    number = model.normalize_phone(text) if len(text) <= 32 else None
    if number is None:
        raise Invalid(
            "bad-phone",
            f"{field} is not a Chinese mobile (1[3-9] and 9 digits) "
            "or a landline with its area code",
            field,
        )
    return number


async def _filter(request: web.Request, deps: TicketsDeps) -> Filter:
    q = request.query
    tickets = deps.tickets()
    tz = ZoneInfo(deps.timezone)
    address = None
    if q.get("address"):
        text = schemas.text(dict(q), "address", schemas.MAX_ADDRESS) or ""
        address = route(tickets.book(), text).standard
        if not address:
            raise Invalid("bad-parameter", "address has nothing to search by", "address")
    station = q.get("station") or None
    if station is not None and tickets.book().station(station) is None:
        raise Invalid("unknown-station", f"no station {station!r} in the address book", "station")
    statuses = None
    if q.get("status"):
        statuses = tuple(q["status"].split(","))
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise Invalid(
                "unknown-status", f"status must be some of {', '.join(STATUSES)}", "status"
            )
    kind = q.get("kind") or None
    if kind is not None and kind not in ALL_KINDS:
        raise Invalid("unknown-kind", f"kind must be one of {', '.join(ALL_KINDS)}", "kind")
    agent_id = None
    if q.get("agent"):
        agent = None
        if NAME_RE.match(q["agent"]):  # a name no user can have is not looked up
            async with tickets.db().connect() as conn:
                agent = await auth_store.user_by_name(conn, q["agent"])
        if agent is None:
            raise Invalid("no-such-agent", f"no user named {q['agent'][:64]!r}", "agent")
        agent_id = agent.id
    start, end = read_instant(request, "from", tz), read_instant(request, "to", tz)
    if start is not None and end is not None and end <= start:
        raise Invalid("bad-range", "to must be after from", "to")
    return Filter(
        phone=_phone(q.get("phone"), "phone"),
        address=address,
        station=station,
        statuses=statuses,
        kind=kind,
        agent_id=agent_id,
        start=start,
        end=end,
    )


async def _detail_json(deps: TicketsDeps, user: Principal, detail: Detail) -> dict[str, Any]:
    full = _full(deps, user, detail.found)
    calls = [schemas.call_json(c, full) for c in detail.calls]
    recordings: list[dict[str, Any]] = []
    if deps.recordings_for_calls is not None and calls:
        recordings = await deps.recordings_for_calls([c["id"] for c in calls])
    return {
        **_json(deps, user, detail.found),
        "calls": calls,
        "recordings": recordings,
        "timeline": [schemas.event_json(e, full) for e in detail.history],
    }


async def create_ticket(request: web.Request) -> web.Response:
    deps = request.app[TICKETS]
    user = await principal(request, TICKET_USERS)
    new = schemas.new_ticket(await json_body(request))
    tickets = deps.tickets()
    found = await tickets.create(user, new)
    body = await _detail_json(deps, user, await tickets.detail(found.ticket.id))
    response = web.json_response(body, status=201)
    response.headers["Location"] = f"/api/tickets/{found.ticket.id}"
    return response


async def list_tickets(request: web.Request) -> web.Response:
    deps = request.app[TICKETS]
    user = await principal(request, TICKET_USERS)
    f = await _filter(request, deps)
    limit = read_limit(request, DEFAULT_LIMIT, MAX_LIMIT)
    rows = await deps.tickets().search(f, limit, _cursor(request))
    body = [_json(deps, user, r) for r in rows]
    last = (rows[-1].ticket.created_at, rows[-1].ticket.id) if rows else None
    return paged(request, body, limit, last)


async def get_ticket(request: web.Request) -> web.Response:
    deps = request.app[TICKETS]
    user = await principal(request, TICKET_USERS)
    detail = await deps.tickets().detail(path_id(request, "ticket"))
    return web.json_response(await _detail_json(deps, user, detail))


async def change_ticket(request: web.Request) -> web.Response:
    deps = request.app[TICKETS]
    user = await principal(request, TICKET_USERS)
    change = schemas.patch(await json_body(request))
    tickets = deps.tickets()
    ticket_id = path_id(request, "ticket")
    await tickets.update(user, ticket_id, change)
    return web.json_response(await _detail_json(deps, user, await tickets.detail(ticket_id)))


async def link_call(request: web.Request) -> web.Response:
    deps = request.app[TICKETS]
    user = await principal(request, TICKET_USERS)
    call_id = schemas.linked_call(await json_body(request))
    tickets = deps.tickets()
    ticket_id = path_id(request, "ticket")
    await tickets.link(user, ticket_id, call_id)
    body = await _detail_json(deps, user, await tickets.detail(ticket_id))
    return web.json_response(body, status=201)


def _history_json(
    deps: TicketsDeps, user: Principal, history: CallerHistory, number: str | None
) -> dict[str, Any]:
    def dump(rows: list[Found]) -> list[dict[str, Any]]:
        return [_json(deps, user, r) for r in rows]

    return {
        "phone": number,
        "address": history.address,
        "tickets": dump(history.tickets),
        "address_tickets": dump(history.address_tickets),
        "open": dump(history.open),
    }


async def caller_history(request: web.Request) -> web.Response:
    deps = request.app[TICKETS]
    user = await principal(request, TICKET_USERS)
    phone = _phone(request.match_info["phone"], "phone")
    history = await deps.tickets().caller_history(phone)
    return web.json_response(_history_json(deps, user, history, phone))


async def screen_pop(request: web.Request) -> web.Response:
    """The caller of a ringing call and their history, for the agent's desk."""
    deps = request.app[TICKETS]
    user = await principal(request, TICKET_USERS)
    call_id = request.query.get("call", "")
    if not call_id:
        raise Invalid("missing-field", "call is required: the call's id", "call")
    if not ID_RE.match(call_id):
        raise NotFound("no-such-call", f"no call {call_id[:64]!r}", "call")
    tickets = deps.tickets()
    caller, rang_mine = await tickets.call_for_pop(call_id, user)
    phone = model.normalize_phone(caller)
    history = await tickets.caller_history(phone)
    shown = deps.numbers.show(caller, user.role, own_call=rang_mine)
    body = _history_json(deps, user, history, deps.numbers.show(phone, user.role, rang_mine))
    # Is the caller's flat inside an open incident? Then the call is most likely about it.
    incidents = []
    if deps.incidents_at is not None:
        known = [history.address, *(f.ticket.address_standard for f in history.open)]
        incidents = await deps.incidents_at(known)
    return web.json_response(
        {"call": {"id": call_id, "caller": shown}, **body, "incidents": incidents}
    )


def add_routes(app: web.Application, deps: TicketsDeps) -> None:
    app[TICKETS] = deps
    app.router.add_post("/api/tickets", create_ticket, name="tickets_create")
    app.router.add_get("/api/tickets", list_tickets, name="tickets")
    app.router.add_get("/api/tickets/{id}", get_ticket, name="ticket")
    app.router.add_patch("/api/tickets/{id}", change_ticket, name="ticket_change")
    app.router.add_post("/api/tickets/{id}/calls", link_call, name="ticket_calls")
    app.router.add_get("/api/callers/{phone}/history", caller_history, name="caller_history")
    app.router.add_get("/api/screen-pop", screen_pop, name="screen_pop")
