"""Pages, static files, the OpenAPI document and the health check; each capability adds its
own routes (its http.py's add_routes), wired in app.build."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import __version__
from callcenter.auth.http import principal
from callcenter.auth.model import ALL_ROLES

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"


@functools.cache
def openapi_document() -> dict[str, Any]:
    with (WEB_DIR / "openapi.yaml").open(encoding="utf-8") as fh:
        doc: dict[str, Any] = yaml.safe_load(fh)
    return doc


async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def _page(name: str) -> Any:
    async def handler(_request: web.Request) -> web.FileResponse:
        response = web.FileResponse(TEMPLATES_DIR / name)
        response.headers["Cache-Control"] = "no-store"  # security headers: web/security.py
        return response

    return handler


@dataclass(frozen=True, slots=True)
class SiteDeps:
    """What the site's own routes need: the database to check, each component's status and
    what is wrong (the composition root assembles them; this module knows no component)."""

    db: Callable[[], AsyncEngine]
    components: Callable[[], dict[str, Any]]
    problems: Callable[[], list[str]]
    # What everyone may read beside the status (an active/standby pair's role).
    public: Callable[[], dict[str, Any]] = dict


SITE = web.AppKey("site", SiteDeps)


async def _signed_in(request: web.Request) -> bool:
    try:
        await principal(request, ALL_ROLES)
    except Exception:  # no or bad credentials, or no database to check them against
        return False
    return True


async def health(request: web.Request) -> web.Response:
    """ok (200) or degraded (503) for load balancers; to a signed-in user (any role, or a
    monitoring token) also why, the version and each component's counters."""
    deps = request.app[SITE]
    database = "ok"
    try:
        async with deps.db().connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        database = "down"
    reasons = ([] if database == "ok" else ["database: down"]) + deps.problems()
    body: dict[str, Any] = {"status": "degraded" if reasons else "ok", **deps.public()}
    if database == "ok" and await _signed_in(request):
        body |= {
            "reasons": reasons,
            "version": __version__,
            "database": database,
            **deps.components(),
        }
    return web.json_response(body, status=503 if reasons else 200)


def add_routes(app: web.Application, deps: SiteDeps) -> None:
    """The pages, the OpenAPI document and the health check."""
    app[SITE] = deps
    app.router.add_get("/", _page("live.html"), name="live_page")
    app.router.add_get("/desk", _page("desk.html"), name="desk_page")
    app.router.add_get("/station", _page("station.html"), name="station_page")
    app.router.add_get("/qa", _page("qa.html"), name="qa_page")
    app.router.add_get("/reports", _page("reports.html"), name="reports_page")
    app.router.add_get("/login", _page("login.html"), name="login_page")
    app.router.add_get("/api/openapi.json", openapi, name="openapi")
    app.router.add_get("/api/health", health, name="health")
    app.router.add_static("/static/", STATIC_DIR, name="static")
