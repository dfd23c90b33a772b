"""GET /api/reports/{daily|weekly|monthly|season}: the report form (日报表) of a period as JSON,
CSV or the printable XLSX; GET /api/reports/days: one CSV row per day of a range, streamed.
Supervisors, the department head, team leads and admins read them: the form holds counts,
no resident's data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from aiohttp import web
from sqlalchemy import select

from callcenter.auth.http import principal
from callcenter.auth.model import STATS_READERS
from callcenter.clock import iso_z
from callcenter.errors import Invalid, NotFound
from callcenter.reports import archive, export
from callcenter.reports.archiving import Archivist
from callcenter.reports.model import REPORT_KINDS
from callcenter.reports.schemas import report_json
from callcenter.reports.service import Reports
from callcenter.web.paging import read_limit

FORMATS = ("json", "csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARAM = {"daily": "date", "weekly": "week", "monthly": "month", "season": "season"}
MOST_DAYS = 400  # a season and then some: the days export of a longer range is refused


@dataclass(frozen=True, slots=True)
class ReportsDeps:
    reports: Callable[[], Reports]
    archivist: Callable[[], Archivist]


REPORTS = web.AppKey("reports", ReportsDeps)


def _format(request: web.Request) -> str:
    fmt = request.query.get("format", "json")
    if fmt not in FORMATS:
        raise Invalid("bad-format", f"format must be one of {', '.join(FORMATS)}", "format")
    return fmt


async def get_report(request: web.Request) -> web.Response:
    reports = request.app[REPORTS].reports()
    await principal(request, STATS_READERS)
    kind = request.match_info["kind"]
    if kind not in REPORT_KINDS:
        raise web.HTTPNotFound()
    fmt = _format(request)
    name = PARAM[kind]
    # A weekly report also takes any day of its week.
    text = request.query.get(name) or (request.query.get("date") if kind == "weekly" else None)
    try:
        period = reports.parse(kind, text)
    except Invalid as exc:
        raise Invalid(exc.code, exc.message, name) from None
    await reports.check(period)
    report = await reports.build(period)
    if fmt == "json":
        body = report_json(report, reports.complete(period))
        body["archive"] = await request.app[REPORTS].archivist().verdict(period, body)
        return web.json_response(body)
    filename = f"report-{kind}-{period.key.replace('/', '-')}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        return web.Response(
            body=export.to_csv(report), content_type="text/csv", charset="utf-8",
            headers=disposition,
        )  # fmt: skip
    return web.Response(body=export.to_xlsx(report), content_type=XLSX, headers=disposition)


def _date(request: web.Request, name: str) -> date:
    text = request.query.get(name)
    if text is None:
        raise Invalid("missing-parameter", f"{name} is required (YYYY-MM-DD)", name)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("bad-date", f"{name} must be a date YYYY-MM-DD", name) from None


async def get_days(request: web.Request) -> web.StreamResponse:
    """Each day's first line and calls, `from` to `to` included, as CSV: written a day at a
    time, so a season's export never sits whole in memory."""
    reports = request.app[REPORTS].reports()
    await principal(request, STATS_READERS)
    if request.query.get("format", "csv") != "csv":
        raise Invalid("bad-format", "the days export is CSV: format=csv", "format")
    first, last = _date(request, "from"), _date(request, "to")
    if last < first:
        raise Invalid("bad-range", "to is before from", "to")
    if (last - first).days + 1 > MOST_DAYS:
        raise Invalid("range-too-large", f"at most {MOST_DAYS} days in one export", "to")
    last = min(last, reports.today())
    if first > last:
        raise Invalid("future-period", f"{first} has not begun: nothing to report yet", "from")
    await reports.check(reports.parse("daily", last.isoformat()))
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="days-{first}-{last}.csv"',
        }
    )
    await response.prepare(request)
    await response.write(export.days_csv_header())
    day = first
    while day <= last:
        report = await reports.build(reports.parse("daily", day.isoformat()))
        await response.write(export.day_csv_row(report))
        day += timedelta(days=1)
    await response.write_eof()
    return response


async def get_archive(request: web.Request) -> web.Response:
    """The archived reports, newest first, and whether the chain is intact."""
    reports = request.app[REPORTS].reports()
    await principal(request, STATS_READERS)
    limit = read_limit(request)
    async with reports.db().connect() as conn:
        rows = await conn.execute(
            select(
                archive.report_archive.c.seq,
                archive.report_archive.c.kind,
                archive.report_archive.c.period,
                archive.report_archive.c.archived_at,
                archive.report_archive.c.sha256,
            )
            .order_by(archive.report_archive.c.seq.desc())
            .limit(limit)
        )
        entries = [
            {"seq": r.seq, "kind": r.kind, "period": r.period,
             "archived_at": iso_z(r.archived_at), "sha256": r.sha256}
            for r in rows
        ]  # fmt: skip
    verdict = await archive.verify(reports.db())
    return web.json_response(
        {
            "chain": {"ok": verdict.ok, "entries": verdict.entries, "reason": verdict.reason,
                      "broken_at": verdict.broken_at},
            "entries": entries,
        }
    )  # fmt: skip


async def get_archived(request: web.Request) -> web.Response:
    """One archived report, exactly as kept (its SHA-256 is over these bytes)."""
    reports = request.app[REPORTS].reports()
    await principal(request, STATS_READERS)
    kind, period = request.match_info["kind"], request.match_info["period"]
    async with reports.db().connect() as conn:
        kept = (
            await conn.execute(
                select(archive.report_archive.c.body, archive.report_archive.c.sha256).where(
                    archive.report_archive.c.kind == kind,
                    archive.report_archive.c.period == period,
                )
            )
        ).first()
    if kept is None:
        raise NotFound("not-archived", f"no archived {kind[:16]} report of {period[:16]}")
    return web.Response(
        body=kept.body.encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
        headers={"X-Content-SHA256": kept.sha256},
    )


def add_routes(app: web.Application, deps: ReportsDeps) -> None:
    app[REPORTS] = deps
    app.router.add_get("/api/reports/days", get_days, name="report_days")
    app.router.add_get("/api/reports/archive", get_archive, name="report_archive")
    app.router.add_get("/api/reports/archive/{kind}/{period}", get_archived, name="report_archived")
    app.router.add_get("/api/reports/{kind}", get_report, name="report")
