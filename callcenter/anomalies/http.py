"""Routes for anomalies: list and read them (agents: their own tickets' only), log one on a
ticket, report a late step, follow up and close a complaint. Paged like /api/orders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.anomalies import schemas
from callcenter.anomalies.model import ANOMALY_LEADS, ANOMALY_READERS, AnomalyKind
from callcenter.anomalies.service import Anomalies
from callcenter.auth import store as auth_store
from callcenter.auth.http import json_body, principal
from callcenter.auth.model import NAME_RE, Role
from callcenter.errors import Forbidden, Invalid
from callcenter.tickets.model import TICKET_USERS
from callcenter.web.paging import paged, read_cursor, read_instant, read_limit
from callcenter.web.params import ID_RE, path_id


@dataclass(frozen=True, slots=True)
class AnomaliesDeps:
    anomalies: Callable[[], Anomalies]
    timezone: str


ANOMALIES = web.AppKey("anomalies", AnomaliesDeps)

MAX_NOTE = 2000


async def list_anomalies(request: web.Request) -> web.Response:
    deps = request.app[ANOMALIES]
    user = await principal(request, ANOMALY_READERS)
    q = request.query
    tz = ZoneInfo(deps.timezone)
    start, end = read_instant(request, "from", tz), read_instant(request, "to", tz)
    if start is not None and end is not None and end <= start:
        raise Invalid("bad-range", "to must be after from", "to")
    kinds: list[AnomalyKind] = [
        schemas.kind_of(name) for name in (q.get("kind") or "").split(",") if name
    ]
    agent_id = None
    if q.get("agent"):
        agent = None
        if NAME_RE.match(q["agent"]):  # a name no user can have is not looked up
            async with deps.anomalies().db().connect() as conn:
                agent = await auth_store.user_by_name(conn, q["agent"])
        if agent is None:
            raise Invalid("no-such-agent", f"no user named {q['agent'][:64]!r}", "agent")
        agent_id = agent.id
    if user.role == Role.AGENT:
        # 首问责任制: an agent's anomalies are those of the tickets they took.
        if agent_id not in (None, user.id):
            raise Forbidden("forbidden", "an agent lists the anomalies of their own tickets")
        agent_id = user.id
    ticket = q.get("ticket") or None
    if ticket is not None and not ID_RE.match(ticket):
        raise Invalid("bad-parameter", "ticket is not a ticket id", "ticket")
    state = q.get("state") or None
    if state not in (None, "open"):
        raise Invalid("bad-parameter", "state may be open (complaints not yet closed)", "state")
    limit = read_limit(request)
    cursor = read_cursor(request)
    if cursor is not None and not ID_RE.match(cursor[1]):
        raise Invalid("bad-parameter", "cursor is not one this API gave out", "cursor")
    rows = await deps.anomalies().search(
        start, end, kinds, agent_id, cursor, limit, ticket, state == "open"
    )
    last = (rows[-1].anomaly.occurred_at, rows[-1].anomaly.id) if rows else None
    return paged(request, [schemas.anomaly_json(r) for r in rows], limit, last)


async def get_anomaly(request: web.Request) -> web.Response:
    deps = request.app[ANOMALIES]
    user = await principal(request, ANOMALY_READERS)
    named = await deps.anomalies().get(user, path_id(request, "anomaly"))
    return web.json_response(schemas.anomaly_json(named))


async def log_on_ticket(request: web.Request) -> web.Response:
    deps = request.app[ANOMALIES]
    user = await principal(request, TICKET_USERS)
    new = schemas.new_anomaly(await json_body(request))
    named = await deps.anomalies().log_on_ticket(user, path_id(request, "ticket"), new)
    response = web.json_response(schemas.anomaly_json(named), status=201)
    response.headers["Location"] = f"/api/anomalies/{named.anomaly.id}"
    return response


async def report(request: web.Request) -> web.Response:
    deps = request.app[ANOMALIES]
    user = await principal(request, ANOMALY_READERS)
    named = await deps.anomalies().report(user, path_id(request, "anomaly"))
    return web.json_response(schemas.anomaly_json(named))


async def follow_up(request: web.Request) -> web.Response:
    deps = request.app[ANOMALIES]
    user = await principal(request, ANOMALY_READERS)
    body = await json_body(request)
    note = schemas.required_text(body, "note", "say how the resident was contacted or answered")
    named = await deps.anomalies().follow_up(user, path_id(request, "anomaly"), note)
    return web.json_response(schemas.anomaly_json(named))


async def close(request: web.Request) -> web.Response:
    deps = request.app[ANOMALIES]
    user = await principal(request, ANOMALY_LEADS)
    body = await json_body(request)
    resolution = schemas.required_text(body, "resolution", "say how the complaint was resolved")
    named = await deps.anomalies().close(user, path_id(request, "anomaly"), resolution)
    return web.json_response(schemas.anomaly_json(named))


def add_routes(app: web.Application, deps: AnomaliesDeps) -> None:
    app[ANOMALIES] = deps
    app.router.add_get("/api/anomalies", list_anomalies, name="anomalies")
    app.router.add_get("/api/anomalies/{id}", get_anomaly, name="anomaly")
    app.router.add_post("/api/tickets/{id}/anomalies", log_on_ticket, name="ticket_anomalies")
    app.router.add_post("/api/anomalies/{id}/report", report, name="anomaly_report")
    app.router.add_post("/api/anomalies/{id}/follow-up", follow_up, name="anomaly_follow_up")
    app.router.add_post("/api/anomalies/{id}/close", close, name="anomaly_close")
