"""The wallboard's routes: its page, its figures, live feed and today's charts for a board's
token, and the tokens' API for supervisors, the department head (客服部长) and admins.

A board presents its token in the address (?token=), never a login: the token opens these
four routes only, and no other route knows it. The page sends no Referer anywhere, so the
token in its address does not travel with the requests it makes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcenter.auth.http import json_body, principal
from callcenter.errors import Invalid, NotFound
from callcenter.reports import charts, series
from callcenter.reports.chart_text import LANGS
from callcenter.reports.service import Reports
from callcenter.wallboard import schemas
from callcenter.wallboard.live import WallboardHub
from callcenter.wallboard.model import TOKEN_ISSUERS
from callcenter.wallboard.service import Wallboards
from callcenter.web.routes import TEMPLATES_DIR


@dataclass(frozen=True, slots=True)
class WallboardDeps:
    wallboards: Callable[[], Wallboards]
    hub: WallboardHub
    reports: Callable[[], Reports]


WALLBOARD = web.AppKey("wallboard", WallboardDeps)
NO_STORE = {"Cache-Control": "no-store"}
ID_RE = re.compile(r"^[0-9]{1,12}$")
# Today's charts a board may show: not `agents`, which names the agents (a TV in a room is
# not the place to rank colleagues by name).
BOARD_CHARTS: tuple[series.ChartName, ...] = ("hourly", "rings", "stations", "anomalies")


async def read_figures(wallboards: Wallboards) -> dict[str, Any]:
    """The figures message, the same for HTTP and the WebSocket."""
    figures = await wallboards.figures()
    return schemas.figures_json(figures, wallboards.rule, wallboards.timezone)


def board_url(request: web.Request, token: str) -> str:
    """The address to open on the TV, on the host the issuer reached (behind a TLS proxy
    that says so, https)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").lower()
    scheme = "https" if request.secure or forwarded == "https" else "http"
    return f"{scheme}://{request.host}/wallboard?token={token}"


async def page(_request: web.Request) -> web.FileResponse:
    response = web.FileResponse(TEMPLATES_DIR / "wallboard.html")
    response.headers["Cache-Control"] = "no-store"
    # The token is in this page's address: none of its requests may carry it as a Referer.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def figures(request: web.Request) -> web.Response:
    deps = request.app[WALLBOARD]
    wallboards = deps.wallboards()
    await wallboards.authenticate(request.query.get("token"))
    return web.json_response(await read_figures(wallboards), headers=NO_STORE)


async def live(request: web.Request) -> web.StreamResponse:
    deps = request.app[WALLBOARD]
    wallboards = deps.wallboards()
    board = await wallboards.authenticate(request.query.get("token"))
    first = await read_figures(wallboards)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    await deps.hub.serve(ws, board.id, first)
    return ws


async def chart(request: web.Request) -> web.Response:
    """Today's chart as SVG, drawn as the reports page's (one definition of each figure)."""
    deps = request.app[WALLBOARD]
    await deps.wallboards().authenticate(request.query.get("token"))
    name = request.match_info["name"]
    if name not in BOARD_CHARTS:
        raise NotFound("no-such-chart", f"a board shows {', '.join(BOARD_CHARTS)}", "name")
    lang = request.query.get("lang", "zh-CN")
    if lang not in LANGS:
        raise Invalid("bad-parameter", f"lang must be one of {', '.join(LANGS)}", "lang")
    reports = deps.reports()
    data = await series.load(reports, name, await series.day(reports, None))
    return web.Response(
        body=charts.render(data, lang).encode("utf-8"),
        content_type="image/svg+xml",
        charset="utf-8",
        headers=NO_STORE,
    )


async def create_token(request: web.Request) -> web.Response:
    deps = request.app[WALLBOARD]
    user = await principal(request, TOKEN_ISSUERS)
    body = await json_body(request)
    token, secret = await deps.wallboards().create(body.get("name"), user.name)
    body = schemas.created_json(token, secret, board_url(request, secret))
    return web.json_response(body, status=201, headers=NO_STORE)


async def list_tokens(request: web.Request) -> web.Response:
    deps = request.app[WALLBOARD]
    await principal(request, TOKEN_ISSUERS)
    tokens = await deps.wallboards().tokens()
    return web.json_response([schemas.token_json(t) for t in tokens])


async def revoke_token(request: web.Request) -> web.Response:
    deps = request.app[WALLBOARD]
    user = await principal(request, TOKEN_ISSUERS)
    raw = request.match_info["id"]
    if not ID_RE.match(raw):
        raise NotFound("no-such-wallboard-token", f"no wallboard token {raw[:64]!r}", "id")
    token = await deps.wallboards().revoke(int(raw), user.name)
    closed = await deps.hub.revoke(token.id)
    return web.json_response({**schemas.token_json(token), "boards_closed": closed})


def add_routes(app: web.Application, deps: WallboardDeps) -> None:
    app[WALLBOARD] = deps
    app.router.add_get("/wallboard", page, name="wallboard_page")
    app.router.add_get("/api/wallboard/figures", figures, name="wallboard_figures")
    app.router.add_get("/api/wallboard/live", live, name="wallboard_live")
    app.router.add_get("/api/wallboard/charts/{name}", chart, name="wallboard_chart")
    app.router.add_post("/api/wallboard/tokens", create_token, name="wallboard_tokens_create")
    app.router.add_get("/api/wallboard/tokens", list_tokens, name="wallboard_tokens")
    app.router.add_delete("/api/wallboard/tokens/{id}", revoke_token, name="wallboard_token_revoke")
