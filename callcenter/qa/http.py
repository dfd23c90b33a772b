"""Routes for spot-check samples: a reviewer's queue, drawing a period now, and coverage per
agent against the rule. The evaluations are in http_evaluations.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web

from callcenter.auth import store as auth_store
from callcenter.auth.http import json_body, principal
from callcenter.auth.model import NAME_RE, Principal
from callcenter.errors import Forbidden, Invalid
from callcenter.qa import coverage as cov
from callcenter.qa import periods
from callcenter.qa.draw import Draws
from callcenter.qa.model import QA_READERS, REVIEWERS, SCOPE_OF, SCOPES, Scope
from callcenter.qa.sample_json import sample_json
from callcenter.web.paging import paged, read_cursor, read_limit


@dataclass(frozen=True, slots=True)
class QaDeps:
    draws: Callable[[], Draws]


QA = web.AppKey("qa", QaDeps)
STATUSES = ("queued", "scored", "void")


async def _reviewer(request: web.Request, user: Principal, draws: Draws) -> Principal:
    """The reviewer whose samples are asked for: oneself, or for a supervisor or an admin
    the one named by `reviewer`."""
    name = request.query.get("reviewer")
    if not name or name == user.name:
        if user.role not in REVIEWERS:
            raise Invalid("bad-parameter", "name the reviewer: reviewer=NAME", "reviewer")
        return user
    if user.role in REVIEWERS:
        raise Forbidden("not-your-samples", "a reviewer reads their own samples")
    found = None
    if NAME_RE.match(name):
        async with draws.db().connect() as conn:
            found = await auth_store.user_by_name(conn, name)
    if found is None or found.role not in REVIEWERS:
        raise Invalid("no-such-reviewer", f"no team lead or QA lead {name[:64]!r}", "reviewer")
    return found


async def list_samples(request: web.Request) -> web.Response:
    draws = request.app[QA].draws()
    user = await principal(request, QA_READERS)
    reviewer = await _reviewer(request, user, draws)
    status = request.query.get("status") or None
    if status is not None and status not in STATUSES:
        raise Invalid("unknown-status", f"status must be one of {', '.join(STATUSES)}", "status")
    limit = read_limit(request)
    rows = await draws.queue(reviewer.id, status, limit, read_cursor(request))
    last = (rows[-1].sample.drawn_at, rows[-1].sample.id) if rows else None
    return paged(request, [sample_json(d) for d in rows], limit, last)


def _scope(value: Any, reviewer: Principal) -> Scope:
    own = SCOPE_OF[reviewer.role]
    if value is None:
        return own
    if value not in SCOPES:
        raise Invalid("bad-parameter", "scope must be daily or weekly", "scope")
    if value != own:
        raise Invalid("wrong-scope", f"a {reviewer.role.value} draws the {own} sample", "scope")
    return cast(Scope, value)


async def draw_now(request: web.Request) -> web.Response:
    draws = request.app[QA].draws()
    user = await principal(request, REVIEWERS)
    body = await json_body(request)
    scope = _scope(body.get("scope"), user)
    text = body.get("period")
    if text is None:
        period = periods.due(scope, draws.clock.now(), draws.tz)
    else:
        try:
            if not isinstance(text, str):
                raise ValueError(text)
            period = periods.parse(scope, text)
        except ValueError:
            example = "2026-12-03" if scope == "daily" else "2026-W49"
            raise Invalid("bad-period", f"period must look like {example}", "period") from None
    drawn = await draws.draw_for(user, scope, period)
    return web.json_response(
        {"scope": scope, "period": period.key, "samples": [sample_json(d) for d in drawn]}
    )


async def get_coverage(request: web.Request) -> web.Response:
    draws = request.app[QA].draws()
    await principal(request, QA_READERS)
    now = draws.clock.now()
    today = periods.today(now, draws.tz)
    q = request.query
    try:
        week = periods.parse("weekly", q["week"]) if q.get("week") else periods.week_of(today)
    except ValueError:
        raise Invalid("bad-parameter", "week must look like 2026-W49", "week") from None
    try:
        month = cov.month_window(q.get("month") or today.isoformat()[:7])
    except ValueError:
        raise Invalid("bad-parameter", "month must look like 2026-12", "month") from None
    windows = {"week": cov.week_window(week), "month": month}
    async with draws.db().connect() as conn:
        body = await cov.coverage(conn, windows, draws.qa, now, draws.tz)
    return web.json_response(body)


def add_routes(app: web.Application, deps: QaDeps) -> None:
    app[QA] = deps
    app.router.add_get("/api/qa/samples", list_samples, name="qa_samples")
    app.router.add_post("/api/qa/draw", draw_now, name="qa_draw")
    app.router.add_get("/api/qa/coverage", get_coverage, name="qa_coverage")
