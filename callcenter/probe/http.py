"""GET /api/probe/results: the line probe's calls, newest first, paged (parse → authorize →
query → dump)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.http import principal
from callcenter.auth.model import STATS_READERS
from callcenter.errors import Invalid
from callcenter.probe import schemas, store
from callcenter.web.paging import paged, read_cursor, read_instant, read_limit


@dataclass(frozen=True, slots=True)
class ProbeDeps:
    db: Callable[[], AsyncEngine]
    timezone: str


PROBE = web.AppKey("probe", ProbeDeps)


async def list_results(request: web.Request) -> web.Response:
    deps = request.app[PROBE]
    await principal(request, STATS_READERS)
    tz = ZoneInfo(deps.timezone)
    start, end = read_instant(request, "from", tz), read_instant(request, "to", tz)
    if start is not None and end is not None and end <= start:
        raise Invalid("bad-range", "to must be after from", "to")
    limit = read_limit(request, 100, 1000)
    cursor = read_cursor(request)
    if cursor is not None and not (cursor[1].isascii() and cursor[1].isdigit()):
        raise Invalid("bad-parameter", "cursor is not one this API gave out", "cursor")
    async with deps.db().connect() as conn:
        rows = await store.page(conn, start, end, limit, cursor)
    body = [schemas.result_json(r) for r in rows]
    last = (rows[-1].started_at, str(rows[-1].id)) if rows else None
    return paged(request, body, limit, last)


def add_routes(app: web.Application, deps: ProbeDeps) -> None:
    app[PROBE] = deps
    app.router.add_get("/api/probe/results", list_results, name="probe_results")
