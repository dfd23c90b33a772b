"""GET /api/reports/charts/{name}: a day's chart (图表) as SVG, or its figures as JSON. The
readers of the reports (team leads, QA lead, supervisors, admins) only: who may read is
decided here and nowhere else, so a wallboard with its own token calls series.load and
charts.render directly."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from callcenter.auth.http import principal
from callcenter.auth.model import STATS_READERS
from callcenter.errors import Invalid, NotFound
from callcenter.reports import charts, series
from callcenter.reports.chart_text import LANGS, Lang
from callcenter.reports.http import REPORTS

FORMATS = ("svg", "json")


def _choice(request: web.Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query.get(name, default)
    if value not in allowed:
        code = "bad-format" if name == "format" else "bad-parameter"
        raise Invalid(code, f"{name} must be one of {', '.join(allowed)}", name)
    return value


async def get_chart(request: web.Request) -> web.Response:
    reports = request.app[REPORTS].reports()
    await principal(request, STATS_READERS)
    name = request.match_info["name"]
    if name not in series.CHART_NAMES:
        raise NotFound("no-such-chart", f"no chart {name[:32]!r}: {', '.join(series.CHART_NAMES)}")
    fmt = _choice(request, "format", FORMATS, "svg")
    lang = cast(Lang, _choice(request, "lang", LANGS, "zh-CN"))
    try:
        period = await series.day(reports, request.query.get("date"))
    except Invalid as exc:
        raise Invalid(exc.code, exc.message, "date") from None
    data = await series.load(reports, name, period)
    # Today's figures move while the day runs; a past day's may too (late data): no cache.
    headers = {"Cache-Control": "no-store"}
    if fmt == "json":
        return web.json_response(series.series_json(data), headers=headers)
    return web.Response(
        body=charts.render(data, lang).encode("utf-8"),
        content_type="image/svg+xml",
        charset="utf-8",
        headers=headers,
    )


def add_routes(app: web.Application) -> None:
    """After reports' add_routes: the charts read its REPORTS key."""
    app.router.add_get("/api/reports/charts/{name}", get_chart, name="report_chart")
