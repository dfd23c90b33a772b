"""Log in and out, who am I, and the role check every route uses."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import login as logins
from callcenter.auth import service
from callcenter.auth.guard import LoginGuard
from callcenter.auth.model import ALL_ROLES, Principal, Role
from callcenter.clock import Clock
from callcenter.config import AuthSettings, WebSettings
from callcenter.errors import Forbidden, Invalid

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AuthDeps:
    """What the login routes and the role check need."""

    db: Callable[[], AsyncEngine]
    clock: Clock
    web: WebSettings
    # Bearer tokens' last use, written in batches by the composition root's flusher.
    usage: service.TokenUsage
    auth: AuthSettings = field(default_factory=AuthSettings)


AUTH = web.AppKey("auth", AuthDeps)
# The login throttle and its rules: this app's own, built with its routes.
LOGIN_RULES = web.AppKey("login_rules", logins.LoginRules)

SESSION_COOKIE = "cc_session"


async def principal(request: web.Request, roles: frozenset[Role]) -> Principal:
    """Who is asking (bearer token or session cookie), and whether their role may."""
    deps = request.app[AUTH]
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    if header and bearer is None:
        bearer = "\x00invalid"  # an Authorization header of another scheme is a wrong token
    user = await service.authenticate(
        deps.db(), deps.clock, bearer, request.cookies.get(SESSION_COOKIE), deps.usage
    )
    if user.role not in roles:
        raise Forbidden("forbidden", f"the role {user.role.value} may not do this")
    return user


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise Invalid("bad-content-type", "send application/json")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Invalid("bad-json", "the request body is not valid UTF-8 JSON") from None
    except RecursionError:
        raise Invalid("bad-json", "the request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise Invalid("bad-json", "the body must be a JSON object")
    return body


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise Invalid("missing-field", f"{key} is required", key)
    return value


def me_json(user: Principal) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.value,
        "extension": user.extension,
        "work_number": user.work_number,
        "language": user.language,
        "station": user.station,
    }


def client_address(request: web.Request, trust_forwarded_for: bool) -> str:
    """Who is asking: the peer, or behind a trusted proxy the address it appended to
    X-Forwarded-For (the last entry; the ones before it are whatever the client claimed)."""
    if trust_forwarded_for:
        hops = [
            hop.strip()
            for value in request.headers.getall("X-Forwarded-For", [])
            for hop in value.split(",")
            if hop.strip()
        ]
        if hops:
            return hops[-1][:64]
    return request.remote or "unknown"


async def login(request: web.Request) -> web.Response:
    deps = request.app[AUTH]
    body = await json_body(request)
    name, password = _text(body, "name"), _text(body, "password")
    user, session = await logins.login(
        deps.db(),
        deps.clock,
        request.app[LOGIN_RULES],
        name,
        password,
        client_address(request, deps.auth.trust_forwarded_for),
    )
    if deps.web.secure_cookies and not _over_https(request):
        log.warning(
            "the session cookie is Secure but this login came over plain HTTP: the browser "
            "drops it (put HTTPS in front, or set web.secure_cookies = false) user=%s",
            user.name,
        )
    response = web.json_response(me_json(user))
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="Strict",
        secure=deps.web.secure_cookies,
        max_age=int(deps.web.session_hours * 3600),
        path="/",
    )
    return response


async def logout(request: web.Request) -> web.Response:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        await service.logout(request.app[AUTH].db(), session)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    body = me_json(await principal(request, ALL_ROLES))
    # The zone "today" is counted in: the pages show every time in it, not the browser's.
    body["timezone"] = request.app[AUTH].web.timezone
    return web.json_response(body)


def _over_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def login_rules(deps: AuthDeps) -> logins.LoginRules:
    a = deps.auth
    guard = LoginGuard(
        deps.clock,
        a.max_failures,
        timedelta(minutes=a.lockout_minutes),
        a.throttle_per_address_per_minute,
    )
    return logins.LoginRules(
        guard,
        deps.web.session_hours,
        ZoneInfo(deps.web.timezone),
        a.shifts,
        timedelta(minutes=a.shift_grace_minutes),
    )


def add_routes(app: web.Application, deps: AuthDeps) -> None:
    app[AUTH] = deps
    app[LOGIN_RULES] = login_rules(deps)
    app.router.add_post("/api/login", login, name="login")
    app.router.add_post("/api/logout", logout, name="logout")
    app.router.add_get("/api/me", me, name="me")
