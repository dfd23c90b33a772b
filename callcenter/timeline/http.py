"""Routes of the one clock: a station pauses and resumes an order while it waits on the
resident; a ticket's timeline (GET /api/tickets/{id}/clock); the clock report's percentiles
per day and station (GET /api/reports/clock, JSON or CSV)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from aiohttp import web

from callcenter.auth.http import json_body, principal
from callcenter.auth.model import STATS_READERS
from callcenter.errors import Invalid
from callcenter.orders import schemas as orders_schemas
from callcenter.orders.model import ORDER_READERS
from callcenter.stations.model import AddressBook
from callcenter.tickets.model import TICKET_USERS
from callcenter.timeline import schemas
from callcenter.timeline.pauses import PAUSE_REASONS
from callcenter.timeline.service import Clocks, Pauses
from callcenter.web.paging import EARLIEST
from callcenter.web.params import path_id

# Ids this service gives out; anything else names nothing and never reaches the database.
MAX_NOTE = 500
# One report reads every repair ticket of its days at once: a month and a day, no more.
MOST_DAYS = 31


@dataclass(frozen=True, slots=True)
class TimelineDeps:
    pauses: Callable[[], Pauses]
    clocks: Callable[[], Clocks]
    book: Callable[[], AddressBook]
    timezone: str


TIMELINE = web.AppKey("timeline", TimelineDeps)


async def pause(request: web.Request) -> web.Response:
    deps = request.app[TIMELINE]
    user = await principal(request, ORDER_READERS)
    body = await json_body(request)
    reason = body.get("reason")
    if reason not in PAUSE_REASONS:
        raise Invalid("bad-reason", f"reason must be one of {', '.join(PAUSE_REASONS)}", "reason")
    note = body.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise Invalid("bad-field", "note must be text", "note")
        note = note.strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise Invalid("too-long", f"note is longer than {MAX_NOTE} characters", "note")
    if note is not None and any(ord(c) < 32 and c not in "\n\t" for c in note):
        raise Invalid("bad-field", "note holds control characters", "note")
    if reason == "other" and not note:
        raise Invalid("missing-field", "say what the station waits for", "note")
    order = await deps.pauses().pause(
        user, path_id(request, "order"), next(r for r in PAUSE_REASONS if r == reason), note
    )
    return web.json_response(orders_schemas.order_json(order))


async def resume(request: web.Request) -> web.Response:
    deps = request.app[TIMELINE]
    user = await principal(request, ORDER_READERS)
    order = await deps.pauses().resume(user, path_id(request, "order"))
    return web.json_response(orders_schemas.order_json(order))


async def ticket_clock(request: web.Request) -> web.Response:
    deps = request.app[TIMELINE]
    await principal(request, TICKET_USERS)
    clocks = deps.clocks()
    timeline = await clocks.ticket(path_id(request, "ticket"))
    return web.json_response(schemas.timeline_json(timeline, clocks.clock.now()))


def _date(request: web.Request, name: str) -> date:
    text = request.query.get(name)
    if text is None:
        raise Invalid("missing-parameter", f"{name} is required (YYYY-MM-DD)", name)
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid("bad-date", f"{name} must be a date YYYY-MM-DD", name) from None
    # Local midnight of the calendar's first days has no UTC instant; nothing is that old.
    if day < EARLIEST.date():
        raise Invalid("bad-date", f"{name} must be {EARLIEST.date()} or later", name)
    return day


async def clock_report(request: web.Request) -> web.Response:
    deps = request.app[TIMELINE]
    await principal(request, STATS_READERS)
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise Invalid("bad-format", "format must be json or csv", "format")
    first, last = _date(request, "from"), _date(request, "to")
    if last < first:
        raise Invalid("bad-range", "to is before from", "to")
    if (last - first).days + 1 > MOST_DAYS:
        raise Invalid("range-too-large", f"at most {MOST_DAYS} days in one report", "to")
    clocks = deps.clocks()
    if first > clocks.today():
        raise Invalid("future-period", f"{first} has not begun: nothing to report yet", "from")
    last = min(last, clocks.today())
    station = request.query.get("station") or None
    if station is not None and station != "-" and deps.book().station(station) is None:
        raise Invalid(
            "unknown-station", f"no station {station[:32]!r} in the address book", "station"
        )
    # "-": the repair tickets no station has (未分站), as the CSV names their rows.
    rows = await clocks.report(first, last, "" if station == "-" else station)
    if fmt == "csv":
        filename = f"clock-{first}-{last}.csv"
        return web.Response(
            body=schemas.report_csv(rows),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    body = schemas.report_json(
        rows, first.isoformat(), last.isoformat(), station, deps.timezone, clocks.clock.now()
    )
    return web.json_response(body)


def add_routes(app: web.Application, deps: TimelineDeps) -> None:
    """Before the reports' routes: /api/reports/clock is not a report kind."""
    app[TIMELINE] = deps
    app.router.add_post("/api/orders/{id}/pause", pause, name="order_pause")
    app.router.add_post("/api/orders/{id}/resume", resume, name="order_resume")
    app.router.add_get("/api/tickets/{id}/clock", ticket_clock, name="ticket_clock")
    app.router.add_get("/api/reports/clock", clock_report, name="report_clock")
