"""The desk's settings for the page: the intake script's opening today (您好, or the holiday
greeting on the dates announced in [desk] holidays) and the holidays themselves."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.auth.http import principal
from callcenter.auth.model import ALL_ROLES
from callcenter.clock import Clock
from callcenter.config import DeskSettings

DEFAULT_OPENING = "您好"


@dataclass(frozen=True, slots=True)
class DeskDeps:
    desk: DeskSettings
    timezone: str
    clock: Clock


DESK = web.AppKey("desk", DeskDeps)


async def desk_config(request: web.Request) -> web.Response:
    deps = request.app[DESK]
    await principal(request, ALL_ROLES)
    today = deps.clock.now().astimezone(ZoneInfo(deps.timezone)).date()
    holiday = next((h for h in deps.desk.holidays if h.start <= today <= h.end), None)
    return web.json_response(
        {
            "today": today.isoformat(),
            "timezone": deps.timezone,
            "opening": holiday.opening if holiday else DEFAULT_OPENING,
            "holidays": [
                {"from": h.start.isoformat(), "to": h.end.isoformat(), "opening": h.opening}
                for h in deps.desk.holidays
            ],
        }
    )


def add_routes(app: web.Application, deps: DeskDeps) -> None:
    app[DESK] = deps
    app.router.add_get("/api/desk/config", desk_config, name="desk_config")
