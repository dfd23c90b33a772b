"""Routes for repair orders: dispatch a ticket, list and read orders, and the station's steps
(accept, contact, return, refuse). A station's account sees and acts on its own orders only.

An order still at its station carries its priority now (priority by the cold); the list of
those orders is sorted by it, highest first, then the oldest dispatched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from callcenter.auth.http import json_body, principal
from callcenter.auth.model import Principal, Role
from callcenter.errors import Invalid, NotFound
from callcenter.orders import schemas
from callcenter.orders.model import (
    ACTIVE_STATUSES,
    DISPATCHERS,
    ORDER_READERS,
    ORDER_STATUSES,
    Order,
    OrderStatus,
    StationAction,
)
from callcenter.orders.service import Orders
from callcenter.privacy import NumberPolicy, mask_number
from callcenter.stations.model import AddressBook
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import Ticket
from callcenter.web.paging import paged, read_cursor, read_limit
from callcenter.web.params import ID_RE, path_id

# A ticket → its priority as JSON, whatever the ticket's status (the order decides).
PriorityOf = Callable[[Ticket], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class OrdersDeps:
    orders: Callable[[], Orders]
    book: Callable[[], AddressBook]
    numbers: NumberPolicy = field(default_factory=NumberPolicy)
    priority: PriorityOf | None = None


ORDERS = web.AppKey("orders", OrdersDeps)

MAX_NOTE = 2000
MAX_REPAIRMAN = 64
ACTIONS: tuple[StationAction, ...] = ("accept", "contact", "return", "refuse")


def _text(body: dict[str, Any], name: str, most: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("bad-field", f"{name} must be text", name)
    value = value.strip()
    if len(value) > most:
        raise Invalid("too-long", f"{name} is longer than {most} characters", name)
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise Invalid("bad-field", f"{name} holds control characters", name)
    return value or None


def _own_station(user: Principal) -> str | None:
    """A station's account is held to its own station; None for the hotline's people."""
    if user.role != Role.STATION:
        return None
    if not user.station:
        # An account made without --station can see nothing rather than everything.
        raise Invalid("no-station", "this station account names no station", "station")
    return user.station


async def dispatch(request: web.Request) -> web.Response:
    deps = request.app[ORDERS]
    user = await principal(request, DISPATCHERS)
    order = await deps.orders().dispatch(user, path_id(request, "ticket"))
    response = web.json_response(await _order_json(deps, order), status=201)
    response.headers["Location"] = f"/api/orders/{order.id}"
    return response


async def list_orders(request: web.Request) -> web.Response:
    deps = request.app[ORDERS]
    user = await principal(request, ORDER_READERS)
    q = request.query
    station = q.get("station") or None
    if station is not None and deps.book().station(station) is None:
        raise Invalid("unknown-station", f"no station {station!r} in the address book", "station")
    own = _own_station(user)
    if own is not None:
        if station not in (None, own):
            raise Invalid("not-your-station", "a station lists its own orders", "station")
        station = own
    statuses: list[OrderStatus] = []
    for name in (q.get("status") or "").split(","):
        if not name:
            continue
        status = next((s for s in ORDER_STATUSES if s == name), None)
        if status is None:
            raise Invalid(
                "unknown-status", f"status must be some of {', '.join(ORDER_STATUSES)}", "status"
            )
        statuses.append(status)
    ticket = q.get("ticket") or None
    if ticket is not None and not ID_RE.match(ticket):
        raise Invalid("bad-parameter", "ticket is not a ticket id", "ticket")
    limit = read_limit(request)
    if _sort(request, statuses) == "priority":
        return await _by_priority(request, deps, station, statuses or list(ACTIVE_STATUSES),
                                  ticket, limit)  # fmt: skip
    cursor = read_cursor(request)
    if cursor is not None and not ID_RE.match(cursor[1]):
        raise Invalid("bad-parameter", "cursor is not one this API gave out", "cursor")
    rows = await deps.orders().search(station, statuses, ticket, cursor, limit)
    priorities = await _priorities(deps, rows)
    last = (rows[-1].dispatched_at, rows[-1].id) if rows else None
    body = [schemas.order_json(o, priority=priorities.get(o.id)) for o in rows]
    return paged(request, body, limit, last)


def _sort(request: web.Request, statuses: list[OrderStatus]) -> str:
    """`sort`: priority by default when only orders still at a station are listed (the
    work to do), else newest first."""
    at_station = bool(statuses) and all(s in ACTIVE_STATUSES for s in statuses)
    sort = request.query.get("sort") or ("priority" if at_station else "newest")
    if sort not in ("priority", "newest"):
        raise Invalid("bad-parameter", "sort must be priority or newest", "sort")
    if sort == "priority" and statuses and not at_station:
        raise Invalid(
            "bad-parameter",
            "sort=priority lists orders still at a station: status must be some of "
            f"{', '.join(ACTIVE_STATUSES)}",
            "sort",
        )
    return sort


async def _by_priority(
    request: web.Request,
    deps: OrdersDeps,
    station: str | None,
    statuses: list[OrderStatus],
    ticket: str | None,
    limit: int,
) -> web.Response:
    """Every matching order still at a station, sorted in memory (priorities move with the
    clock and the weather, so no index can hold them): highest first, then the oldest. A
    station has a handful; the whole hotline a few hundred in a cold snap. Paged by
    `offset`: a page read later may repeat or skip an order whose priority moved meanwhile."""
    if request.query.get("cursor"):
        raise Invalid("bad-parameter", "sort=priority pages with offset, not cursor", "cursor")
    text = request.query.get("offset", "0")
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise Invalid("bad-parameter", "offset must be a whole number >= 0", "offset")
    offset = int(text)
    rows = await deps.orders().search(station, statuses, ticket, None, None)
    priorities = await _priorities(deps, rows)

    def key(o: Order) -> tuple[float, datetime, str]:
        p = priorities.get(o.id)
        return (-(p["score"] if p else 0.0), o.dispatched_at, o.id)

    rows.sort(key=key)
    page = rows[offset : offset + limit]
    response = web.json_response(
        [schemas.order_json(o, priority=priorities.get(o.id)) for o in page]
    )
    if offset + limit < len(rows):
        url = request.rel_url.update_query(offset=str(offset + limit))
        response.headers["Link"] = f'<{url}>; rel="next"'
    return response


async def _priorities(
    deps: OrdersDeps, orders: Sequence[Order], tickets: dict[str, Ticket] | None = None
) -> dict[str, dict[str, Any] | None]:
    """The priority now of each order still at its station, by order id."""
    active = [o for o in orders if o.status in ACTIVE_STATUSES]
    if deps.priority is None or not active:
        return {}
    if tickets is None:
        async with deps.orders().db().connect() as conn:
            tickets = await tickets_store.tickets_by_ids(conn, [o.ticket_id for o in active])
    return {o.id: deps.priority(tickets[o.ticket_id]) for o in active if o.ticket_id in tickets}


async def _order_json(deps: OrdersDeps, order: Order) -> dict[str, Any]:
    priorities = await _priorities(deps, [order])
    return schemas.order_json(order, priority=priorities.get(order.id))


async def get_order(request: web.Request) -> web.Response:
    deps = request.app[ORDERS]
    user = await principal(request, ORDER_READERS)
    order, history = await deps.orders().get(path_id(request, "order"))
    own = _own_station(user)
    if own is not None and order.station != own:
        # Another station's order does not exist for this one (no probing of ids).
        raise NotFound("no-such-order", f"no order {order.id!r}", "id")
    async with deps.orders().db().connect() as conn:
        found = await tickets_store.ticket_by_id(conn, order.ticket_id)
    ticket = found.ticket if found is not None else None
    priorities = await _priorities(deps, [order], {ticket.id: ticket} if ticket else {})
    body = schemas.order_json(order, history, _ticket(deps, user, ticket), priorities.get(order.id))
    return web.json_response(body)


def _ticket(deps: OrdersDeps, user: Principal, ticket: Ticket | None) -> dict[str, Any] | None:
    """The resident and the fault, embedded: a station may not read the ticket itself
    (TICKET_USERS) and needs them to repair. Only the order's own station and the hotline's
    roles get here; the station calls the resident, so it sees the number in full, the
    hotline as [privacy] says (an agent a colleague's ticket's number masked)."""
    if ticket is None:
        return None
    full = user.role == Role.STATION or deps.numbers.full(
        user.role, own_call=ticket.agent_id == user.id
    )
    return schemas.ticket_json(ticket, ticket.phone if full else mask_number(ticket.phone))


def _action(name: str) -> Callable[[web.Request], Any]:
    assert name in ACTIONS
    action: StationAction = next(a for a in ACTIONS if a == name)

    async def handle(request: web.Request) -> web.Response:
        deps = request.app[ORDERS]
        user = await principal(request, ORDER_READERS)
        body = await json_body(request) if request.can_read_body else {}
        note = _text(body, "result" if action == "return" else "reason", MAX_NOTE)
        if action in ("accept", "contact"):
            note = _text(body, "note", MAX_NOTE)
        repairman = _text(body, "repairman", MAX_REPAIRMAN)
        order = await deps.orders().act(
            user, path_id(request, "order"), action, repairman=repairman, note=note
        )
        return web.json_response(await _order_json(deps, order))

    return handle


async def recall(request: web.Request) -> web.Response:
    deps = request.app[ORDERS]
    user = await principal(request, DISPATCHERS)
    body = await json_body(request)
    reason = _text(body, "reason", MAX_NOTE)
    if not reason:
        raise Invalid("missing-field", "say why the order is recalled", "reason")
    order = await deps.orders().recall(user, path_id(request, "order"), reason)
    return web.json_response(await _order_json(deps, order))


def add_routes(app: web.Application, deps: OrdersDeps) -> None:
    app[ORDERS] = deps
    app.router.add_post("/api/tickets/{id}/dispatch", dispatch, name="ticket_dispatch")
    app.router.add_get("/api/orders", list_orders, name="orders")
    app.router.add_get("/api/orders/{id}", get_order, name="order")
    for name in ACTIONS:
        app.router.add_post(f"/api/orders/{{id}}/{name}", _action(name), name=f"order_{name}")
    app.router.add_post("/api/orders/{id}/recall", recall, name="order_recall")
