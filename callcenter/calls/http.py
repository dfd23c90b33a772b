"""Routes for calls, answer statistics, violations and the live feed: parse → authorize →
query → dump."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import store as auth_store
from callcenter.auth.http import principal
from callcenter.auth.model import (
    CALL_READERS,
    LIVE_READERS,
    NAME_RE,
    SOURCE_READERS,
    STATS_READERS,
    VIOLATION_READERS,
    Principal,
    Role,
)
from callcenter.calls import schemas, stats, store
from callcenter.calls.rings import RingRule
from callcenter.calls.service import CallTracker
from callcenter.clock import Clock, iso_z
from callcenter.errors import Invalid
from callcenter.web.live import LiveHub, own_call
from callcenter.web.paging import paged, read_cursor, read_instant, read_limit


@dataclass(frozen=True, slots=True)
class CallsDeps:
    """What the call routes need: the store, the live tracker and the live hub."""

    db: Callable[[], AsyncEngine]
    tracker: Callable[[], CallTracker]
    clock: Clock
    rule: RingRule
    timezone: str
    hub: LiveHub
    # Each PBX event source's status as JSON (GET /api/sources).
    sources: Callable[[], list[dict[str, Any]]]
    # The hotline as the line probe last saw it (None: no probe): the live page's banner.
    line: Callable[[], dict[str, Any] | None] = lambda: None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


CALLS = web.AppKey("calls", CallsDeps)

MAX_LIMIT = 10_000


def time_range(request: web.Request, deps: CallsDeps) -> tuple[datetime, datetime]:
    """[from, to): default today in the hotline's time zone."""
    # A time without offset is the hotline's local time.
    start = read_instant(request, "from", deps.tz)
    end = read_instant(request, "to", deps.tz)
    if start is None:
        start = stats.local_day_start(end or deps.clock.now(), deps.tz)
    if end is None:
        end = start + timedelta(days=1)
    if end <= start:
        raise Invalid("bad-range", "to must be after from", "to")
    return start, end


async def _agent_filter(request: web.Request, user: Principal, deps: CallsDeps) -> int | None:
    """Agents see only their own; others may ask for one agent by name."""
    if user.role == Role.AGENT:
        return user.id
    name = request.query.get("agent")
    if not name:
        return None
    agent = None
    if NAME_RE.match(name):  # a name no user can have (a NUL…) is not sent to the database
        async with deps.db().connect() as conn:
            agent = await auth_store.user_by_name(conn, name)
    if agent is None:
        raise Invalid("no-such-agent", f"no user named {name!r}", "agent")
    return agent.id


async def list_calls(request: web.Request) -> web.Response:
    deps = request.app[CALLS]
    user = await principal(request, CALL_READERS)
    start, end = time_range(request, deps)
    agent_id = await _agent_filter(request, user, deps)
    limit = read_limit(request, 1000, MAX_LIMIT)
    async with deps.db().connect() as conn:
        rows = await store.calls_between(
            conn, start, end, agent_id, limit, before=read_cursor(request)
        )
    now = deps.clock.now()
    full = deps.hub.numbers.full(user.role)  # agents list only their own calls
    body = [schemas.call_json(c, deps.rule, now, full) for c in rows]
    return paged(request, body, limit, (rows[-1].offered_at, rows[-1].id) if rows else None)


async def answer_stats(request: web.Request) -> web.Response:
    deps = request.app[CALLS]
    await principal(request, STATS_READERS)
    start, end = time_range(request, deps)
    group_by = request.query.get("group_by") or None
    if group_by not in (None, "agent", "hour", "day"):
        raise Invalid("bad-parameter", "group_by must be agent, hour or day", "group_by")
    async with deps.db().connect() as conn:
        rows = await store.calls_between(conn, start, end, monitored_only=True)
    groups, total = stats.answer_stats(
        rows,
        deps.rule,
        group_by,  # type: ignore[arg-type]
        deps.tz,
        deps.clock.now(),
    )
    body: dict[str, Any] = {
        "from": iso_z(start),
        "to": iso_z(end),
        "group_by": group_by,
        "ring_limit": deps.rule.limit,
        "cycle_seconds": deps.rule.cycle_seconds,
        "timezone": deps.timezone,
        "definition": stats.RATE_DEFINITION,
        "groups": groups,
        "total": total,
    }
    return web.json_response(body)


async def list_violations(request: web.Request) -> web.Response:
    deps = request.app[CALLS]
    user = await principal(request, VIOLATION_READERS)
    start, end = time_range(request, deps)
    agent_id = await _agent_filter(request, user, deps)
    limit = read_limit(request, 1000, MAX_LIMIT)
    async with deps.db().connect() as conn:
        rows = await store.violations_between(
            conn, start, end, agent_id, limit, before=read_cursor(request)
        )
    full = deps.hub.numbers.full(user.role)  # agents list only their own violations
    body = [schemas.violation_row_json(r, full) for r in rows]
    return paged(request, body, limit, (rows[-1].occurred_at, rows[-1].id) if rows else None)


def ringing_now(deps: CallsDeps, user: Principal) -> list[dict[str, Any]]:
    """Phones ringing at this moment, from live memory."""
    now = deps.clock.now()
    out = []
    for call in deps.tracker().calls.values():
        if call.closed or not call.monitored:
            continue
        for leg in call.legs.values():
            if leg.ringing:
                seconds = schemas.leg_ring_seconds(leg, now) or 0.0
                out.append(
                    {
                        "call_id": call.id,
                        "leg_id": leg.id,
                        "extension": leg.extension,
                        "agent": leg.agent.name if leg.agent else None,
                        "caller": deps.hub.numbers.show(
                            call.caller,
                            user.role,
                            own_call(user, leg.extension, leg.agent.name if leg.agent else None),
                        ),
                        "ring_started_at": iso_z(leg.ring_started_at),
                        "ring_seconds": seconds,
                        "rings": deps.rule.rings(seconds),
                        # After a restart: rang before it, not heard of since (not ticking).
                        "state": "unknown" if leg.unknown_since else "ringing",
                        "unknown_since": iso_z(leg.unknown_since),
                    }
                )
    return out


async def live(request: web.Request) -> web.StreamResponse:
    deps = request.app[CALLS]
    user = await principal(request, LIVE_READERS)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    snapshot = {
        "type": "snapshot",
        "now": iso_z(deps.clock.now()),
        "ring_limit": deps.rule.limit,
        "cycle_seconds": deps.rule.cycle_seconds,
        "timezone": deps.timezone,
        "ringing": ringing_now(deps, user),
        "line": deps.line(),
    }
    await deps.hub.serve(ws, user, snapshot)
    return ws


async def list_sources(request: web.Request) -> web.Response:
    """Each PBX event source's health (connected, last event, events/s, errors)."""
    deps = request.app[CALLS]
    await principal(request, SOURCE_READERS)
    return web.json_response(deps.sources())


async def list_overflows(request: web.Request) -> web.Response:
    """Calls sent to an overflow target at the ring limit, with the PBX's answers."""
    deps = request.app[CALLS]
    await principal(request, STATS_READERS)
    start, end = time_range(request, deps)
    async with deps.db().connect() as conn:
        rows = await store.overflows_between(conn, start, end)
    return web.json_response(
        [
            {
                "id": r.id,
                "call_id": r.call_pk,
                "leg_id": r.leg_pk,
                "source": r.source,
                "target": r.target,
                "at": iso_z(r.at),
                "ok": r.ok,
                "response": r.response,
            }
            for r in rows
        ]
    )


def add_routes(app: web.Application, deps: CallsDeps) -> None:
    app[CALLS] = deps
    app.router.add_get("/api/sources", list_sources, name="sources")
    app.router.add_get("/api/overflows", list_overflows, name="overflows")
    app.router.add_get("/api/calls", list_calls, name="calls")
    app.router.add_get("/api/stats/answers", answer_stats, name="answer_stats")
    app.router.add_get("/api/violations", list_violations, name="violations")
    app.router.add_get("/api/live", live, name="live")
