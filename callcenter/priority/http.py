"""GET /api/temperature: the outdoor temperature the priorities use now, where it comes from,
and what went wrong with its source last (parse → authorize → read → dump)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from callcenter.auth.http import principal
from callcenter.priority import schemas
from callcenter.priority.service import OutdoorTemperature
from callcenter.tickets.model import TICKET_USERS


@dataclass(frozen=True, slots=True)
class PriorityDeps:
    temperature: OutdoorTemperature


PRIORITY = web.AppKey("priority", PriorityDeps)


async def get_temperature(request: web.Request) -> web.Response:
    deps = request.app[PRIORITY]
    # The hotline's people, who take and dispatch the repairs it orders.
    await principal(request, TICKET_USERS)
    return web.json_response(schemas.temperature_json(deps.temperature))


def add_routes(app: web.Application, deps: PriorityDeps) -> None:
    app[PRIORITY] = deps
    app.router.add_get("/api/temperature", get_temperature, name="temperature")
