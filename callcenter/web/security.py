"""Browser security: a state-changing request or live WebSocket that a session cookie would
authenticate must come from our own pages, and every response tells the browser what it may
do with it (Content-Security-Policy, no sniffing, no framing, no referrer leaving the site).

A browser sends the session cookie with requests another site makes it send; its `Origin`
(or, failing that, `Referer`) names the page that made it, and must name the host the request
was sent to. A bearer-token request is not sent by a browser on another site's behalf (no page
can add an Authorization header to a cross-site request without our consent): it needs none.
Behind a reverse proxy, the proxy must pass the browser's Host (nginx: `proxy_set_header Host
$host`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web
from yarl import URL

from callcenter.auth.http import SESSION_COOKIE
from callcenter.errors import Forbidden

log = logging.getLogger(__name__)

PAGE_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: with it, browsers send `Origin: null` on our own form posts.
    "Referrer-Policy": "same-origin",
}
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Requests a session cookie never authenticates, even when the browser sends one.
NOT_BY_COOKIE = frozenset({"/api/login"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _host_port(host: str, port: int | None) -> tuple[str, int | None]:
    return host.lower().rstrip("."), port


def _origin_of(value: str) -> tuple[str, int | None] | None:
    """host and port of an Origin or Referer value; None for "null" or garbage."""
    try:
        url = URL(value)
    except ValueError:
        return None
    if not url.host or url.scheme not in _DEFAULT_PORTS:
        return None
    return _host_port(url.host, url.port)


def _request_host(request: web.Request, scheme: str) -> tuple[str, int | None] | None:
    try:
        url = URL(f"{scheme}://{request.host}")
    except ValueError:
        return None
    if not url.host:
        return None
    return _host_port(url.host, url.port)


def same_origin(request: web.Request, source: str) -> bool:
    """Whether the page at `source` (an Origin or Referer) is on the host the request went to.
    The scheme is not compared: behind a TLS proxy the request here is plain HTTP."""
    origin = _origin_of(source)
    if origin is None:
        return False
    scheme = URL(source).scheme
    return origin == _request_host(request, "http" if scheme in ("http", "ws") else "https")


def _needs_origin(request: web.Request) -> bool:
    websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    return (request.method in STATE_CHANGING or websocket) and (
        hdrs.AUTHORIZATION not in request.headers
    )


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse (403 bad-origin) a cookie-carried state-changing request or WebSocket from
    another site. Without a cookie a foreign Origin is refused too (a login posted from
    another site), a missing one is not (a script or curl)."""
    if _needs_origin(request):
        source = request.headers.get(hdrs.ORIGIN) or request.headers.get(hdrs.REFERER)
        cookie = SESSION_COOKIE in request.cookies and request.path not in NOT_BY_COOKIE
        if (source is None and cookie) or (source is not None and not same_origin(request, source)):
            log.warning(
                "cross-site request refused method=%s path=%s origin=%r host=%r address=%s",
                request.method,
                request.path,
                source,
                request.host,
                request.remote,
            )
            raise Forbidden(
                "bad-origin",
                "this request must come from the service's own pages (Origin or Referer)",
            )
    return await handler(request)


async def add_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the security headers on every response, pages and API alike."""
    page = response.content_type == "text/html"
    response.headers["Content-Security-Policy"] = PAGE_CSP if page else API_CSP
    # A page with a secret in its address (the wallboard's token) sends no referrer at all:
    # the stricter policy it set stays.
    strict = response.headers.get("Referrer-Policy") == "no-referrer"
    response.headers.update(HEADERS)
    if strict:
        response.headers["Referrer-Policy"] = "no-referrer"
