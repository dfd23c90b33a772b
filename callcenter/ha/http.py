"""What the standby answers over HTTP: /api/health (who is active), the OpenAPI document and
static files; everything else is a 503 `standby` naming the active instance, so nothing a
client sends it is written (a proxy in front sends users to the active)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from callcenter.errors import Unavailable
from callcenter.ha.leader import Leadership

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STANDBY_PATHS = frozenset({"/api/health", "/api/openapi.json"})


def standby_middleware(leader: Leadership) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if leader.active or path in STANDBY_PATHS or path.startswith("/static/"):
            return await handler(request)
        active = leader.active_name or "another instance"
        raise Unavailable(
            "standby",
            f"this instance ({leader.name}) is the standby; {active} is active",
            retry_after=1,
        )

    return middleware
