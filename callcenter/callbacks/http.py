"""Routes for callbacks (回访): an agent's list, one callback, recording how it went, and the
figures per agent or station for the department head."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.auth import store as auth_store
from callcenter.auth.http import json_body, principal
from callcenter.auth.model import NAME_RE
from callcenter.callbacks import schemas
from callcenter.callbacks.model import (
    CALLBACK_LEADS,
    CALLBACK_STATUSES,
    CALLBACK_USERS,
    CallbackStatus,
)
from callcenter.callbacks.service import Callbacks
from callcenter.clock import Clock
from callcenter.errors import Invalid
from callcenter.web.paging import paged, read_cursor, read_instant, read_limit
from callcenter.web.params import path_id


@dataclass(frozen=True, slots=True)
class CallbacksDeps:
    callbacks: Callable[[], Callbacks]
    clock: Clock
    timezone: str


CALLBACKS = web.AppKey("callbacks", CallbacksDeps)


async def list_callbacks(request: web.Request) -> web.Response:
    deps = request.app[CALLBACKS]
    user = await principal(request, CALLBACK_USERS)
    q = request.query
    statuses: list[CallbackStatus] = []
    for name in (q.get("status") or "").split(","):
        if not name:
            continue
        status = next((s for s in CALLBACK_STATUSES if s == name), None)
        if status is None:
            raise Invalid(
                "unknown-status",
                f"status must be some of {', '.join(CALLBACK_STATUSES)}",
                "status",
            )
        statuses.append(status)
    agent_id = None
    if q.get("agent"):
        callbacks = deps.callbacks()
        agent = None
        if NAME_RE.match(q["agent"]):
            async with callbacks.db().connect() as conn:
                agent = await auth_store.user_by_name(conn, q["agent"])
        if agent is None:
            raise Invalid("no-such-agent", f"no user named {q['agent'][:64]!r}", "agent")
        agent_id = agent.id
    tz = ZoneInfo(deps.timezone)
    start, end = read_instant(request, "from", tz), read_instant(request, "to", tz)
    limit = read_limit(request)
    cursor = read_cursor(request)
    rows = await deps.callbacks().search(user, agent_id, tuple(statuses), start, end, limit, cursor)
    now = deps.clock.now()
    last = (rows[-1].created_at, rows[-1].id) if rows else None
    # The due list is sorted by due time: it is one page, never paged on.
    if tuple(statuses) == ("due",) and start is None and end is None:
        last = None
    return paged(request, [schemas.callback_json(c, now) for c in rows], limit, last)


async def get_callback(request: web.Request) -> web.Response:
    deps = request.app[CALLBACKS]
    user = await principal(request, CALLBACK_USERS)
    callback = await deps.callbacks().get(user, path_id(request, "callback"))
    return web.json_response(schemas.callback_json(callback, deps.clock.now()))


async def record_callback(request: web.Request) -> web.Response:
    deps = request.app[CALLBACKS]
    user = await principal(request, CALLBACK_USERS)
    outcome, answers, call_at, call = schemas.record(await json_body(request))
    callback = await deps.callbacks().record(
        user, path_id(request, "callback"), outcome, answers=answers, call_at=call_at, call_id=call
    )
    return web.json_response(schemas.callback_json(callback, deps.clock.now()))


async def figures(request: web.Request) -> web.Response:
    deps = request.app[CALLBACKS]
    await principal(request, CALLBACK_LEADS)
    group = request.query.get("by", "agent")
    if group not in ("agent", "station"):
        raise Invalid("bad-parameter", "by must be agent or station", "by")
    tz = ZoneInfo(deps.timezone)
    end = read_instant(request, "to", tz) or deps.clock.now()
    start = read_instant(request, "from", tz) or end - timedelta(days=30)
    if end <= start:
        raise Invalid("bad-range", "to must be after from", "to")
    callbacks = deps.callbacks()
    rows = await callbacks.figures(group, start, end)
    names: dict[object, str] = {}
    if group == "agent":
        async with callbacks.db().connect() as conn:
            names = {u.id: u.name for u in await auth_store.list_users(conn)}
    return web.json_response(schemas.figures_json(rows, names))


def add_routes(app: web.Application, deps: CallbacksDeps) -> None:
    app[CALLBACKS] = deps
    app.router.add_get("/api/callbacks", list_callbacks, name="callbacks")
    app.router.add_get("/api/callbacks/figures", figures, name="callback_figures")
    app.router.add_get("/api/callbacks/{id}", get_callback, name="callback")
    app.router.add_post("/api/callbacks/{id}", record_callback, name="callback_record")
