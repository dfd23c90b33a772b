"""Pages, static files, the OpenAPI document and the health check; capability routes are
added by each capability's http.py."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from sqlalchemy import text

from callcenter import __version__
from callcenter.auth import http as auth_http
from callcenter.calls import http as calls_http
from callcenter.web.keys import SERVICES

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
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return handler


async def health(request: web.Request) -> web.Response:
    """One status per component; 503 when the database is down."""
    svc = request.app[SERVICES]
    database = "ok"
    try:
        async with svc.db().connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        database = "down"
    mqtt: dict[str, Any] = {"enabled": svc.publisher is not None}
    if svc.publisher is not None:
        mqtt |= {
            "connected": svc.publisher.connected,
            "published": svc.publisher.published,
            "queued": svc.publisher.queue.qsize(),
            "dropped": svc.publisher.dropped,
            "embedded_broker": svc.broker is not None,
        }
    hep: dict[str, Any] = {"enabled": svc.listener is not None}
    if svc.listener is not None and svc.hep_address is not None:
        st = svc.listener.stats
        hep |= {
            "listen": f"{svc.hep_address[0]}:{svc.hep_address[1]}",
            "datagrams": st.datagrams,
            "sip_messages": st.sip_messages,
            "events": st.events,
            "ignored": st.ignored,
            "untracked": st.untracked,
            "errors": dict(st.errors),
        }
    tracker = svc.tracker
    body = {
        "status": "ok" if database == "ok" else "degraded",
        "version": __version__,
        "database": database,
        "mqtt": mqtt,
        "hep": hep,
        "calls": {
            "in_memory": len(tracker.calls) if tracker else 0,
            "events_handled": tracker.events_handled if tracker else 0,
            "flush_failures": tracker.flush_failures if tracker else 0,
        },
        "sources": {k: v.status.state for k, v in svc.sources.items()},
        "live_clients": len(svc.hub.clients),
    }
    return web.json_response(body, status=200 if database == "ok" else 503)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", _page("live.html"), name="live_page")
    app.router.add_get("/login", _page("login.html"), name="login_page")
    app.router.add_get("/api/openapi.json", openapi, name="openapi")
    app.router.add_get("/api/health", health, name="health")
    app.router.add_static("/static/", STATIC_DIR, name="static")
    auth_http.add_routes(app)
    calls_http.add_routes(app)
