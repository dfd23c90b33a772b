"""GET /api/qa/assessment: the monthly assessment (月度考核) as JSON, CSV or the printable XLSX.
The department head, supervisors and admins read every agent's row; an agent reads their own
(`agent=me`): they sign it, and wages and bonuses are confidential (004 保密制度 1)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import store as auth_store
from callcenter.auth.http import principal
from callcenter.auth.model import NAME_RE, Role
from callcenter.clock import Clock
from callcenter.errors import Forbidden, Invalid
from callcenter.qa import assessment, export
from callcenter.qa.checklists import Checklist, Sheet
from callcenter.qa.settings import QaSettings

READERS = frozenset({Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
MONTH_RE = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")
FORMATS = ("json", "csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class AssessmentDeps:
    db: Callable[[], AsyncEngine]
    clock: Clock
    timezone: str
    qa: QaSettings
    checklists: Callable[[], Mapping[Sheet, Checklist]]


ASSESSMENT = web.AppKey("qa_assessment", AssessmentDeps)


def read_month(value: str | None, clock: Clock, tz: ZoneInfo) -> str:
    """ "2026-12"; none: the current month, so far."""
    if value is None:
        return clock.now().astimezone(tz).strftime("%Y-%m")
    if not MONTH_RE.match(value):
        raise Invalid("bad-month", "month: YYYY-MM, e.g. 2026-12", "month")
    return value


async def build_month(
    engine: AsyncEngine,
    clock: Clock,
    timezone: str,
    qa: QaSettings,
    checklists: Mapping[Sheet, Checklist],
    month: str,
    agent_id: int | None = None,
) -> export.Month:
    """The month's assessment of every agent (or one), as the API and the CLI give it."""
    tz = ZoneInfo(timezone)
    start, end = assessment.month_bounds(month, tz)
    async with engine.connect() as conn:
        months = await assessment.load_month(conn, start, end, checklists, agent_id)
    rows = tuple(assessment.assess(m, qa.fines, qa.bonus) for m in months)
    return export.Month(month, timezone, start, end, clock.now(), rows)


def render(m: export.Month, qa: QaSettings, fmt: str) -> web.Response:
    if fmt == "json":
        return web.json_response(export.month_json(m, qa.fines))
    name = f"assessment-{m.month}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        body = export.to_csv(m)
        return web.Response(
            body=body, content_type="text/csv", charset="utf-8", headers=disposition
        )
    return web.Response(body=export.to_xlsx(m, qa.fines), content_type=XLSX, headers=disposition)


async def get_assessment(request: web.Request) -> web.Response:
    deps = request.app[ASSESSMENT]
    user = await principal(request, READERS | {Role.AGENT})
    q = request.query
    fmt = q.get("format", "json")
    if fmt not in FORMATS:
        raise Invalid("bad-format", f"format must be one of {', '.join(FORMATS)}", "format")
    month = read_month(q.get("month"), deps.clock, ZoneInfo(deps.timezone))
    agent_id: int | None = None
    wanted = q.get("agent")
    if user.role == Role.AGENT and wanted not in ("me", user.name):
        raise Forbidden("forbidden", "an agent reads their own assessment: agent=me", "agent")
    if wanted in ("me", user.name):
        agent_id = user.id
    elif wanted:
        found = None
        if NAME_RE.match(wanted):
            async with deps.db().connect() as conn:
                found = await auth_store.user_by_name(conn, wanted)
        if found is None:
            raise Invalid("no-such-agent", f"no user named {wanted[:64]!r}", "agent")
        agent_id = found.id
    m = await build_month(
        deps.db(), deps.clock, deps.timezone, deps.qa, deps.checklists(), month, agent_id
    )
    return render(m, deps.qa, fmt)


def add_routes(app: web.Application, deps: AssessmentDeps) -> None:
    app[ASSESSMENT] = deps
    app.router.add_get("/api/qa/assessment", get_assessment, name="qa_assessment")
