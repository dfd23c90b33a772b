"""GET /metrics: the Prometheus text format, behind a bearer token on the main listener, or
alone on a listener of its own (metrics.listen) that needs none."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.errors import StartupError, Unauthenticated
from callcenter.metrics import store
from callcenter.metrics.collect import LiveCollector, Scrape
from callcenter.metrics.service import Metrics
from callcenter.metrics.settings import MetricsSettings
from callcenter.web.errors import error_middleware

log = logging.getLogger(__name__)

# A scrape must answer even with the database hung: Prometheus' own timeout is 10 s.
DATABASE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class MetricsDeps:
    metrics: Metrics
    collector: LiveCollector
    db: Callable[[], AsyncEngine]
    token: str  # "" on the listener of its own


METRICS = web.AppKey("metrics", MetricsDeps)


async def read_database(db: Callable[[], AsyncEngine]) -> Scrape:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            async with db().connect() as conn:
                figures: store.DatabaseFigures | None = await store.read_figures(conn)
    except Exception as exc:  # down, hung or not started: database_up 0, the rest still shown
        log.warning("metrics: the database did not answer error=%s", type(exc).__name__)
        figures = None
    return Scrape(figures, time.perf_counter() - started)


def render(deps: MetricsDeps, scrape: Scrape) -> bytes:
    # No await between setting the reading and rendering it: scrapes cannot interleave here.
    deps.collector.scrape = scrape
    try:
        return generate_latest(deps.metrics.registry)
    finally:
        deps.collector.scrape = None


def _authorized(request: web.Request, token: str) -> bool:
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[METRICS]
    if not _authorized(request, deps.token):
        raise Unauthenticated("not-authenticated", "send the metrics bearer token (metrics.token)")
    body = render(deps, await read_database(deps.db))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application, deps: MetricsDeps) -> None:
    app[METRICS] = deps
    app.router.add_get("/metrics", metrics, name="metrics")


def separate_listener(
    settings: MetricsSettings, deps: MetricsDeps, web_listen: tuple[str, int]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx serving only /metrics on metrics.listen, with no token; the address it
    bound (port 0: one the system chose) is kept in `deps.metrics.address`."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        assert settings.listen is not None
        host, port = settings.listen
        if settings.listen == web_listen:
            raise StartupError(f"metrics.listen: {host}:{port} is web.listen; pick another port")
        app = web.Application(middlewares=[error_middleware])
        add_routes(app, MetricsDeps(deps.metrics, deps.collector, deps.db, token=""))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(f"metrics.listen: cannot listen on {host}:{port}: {exc}") from exc
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        bound = sockets[0].getsockname()[:2] if sockets else (host, port)
        deps.metrics.address = (str(bound[0]), int(bound[1]))
        log.info("metrics on http://%s:%d/metrics", bound[0], bound[1])
        try:
            yield
        finally:
            await runner.cleanup()

    return ctx
