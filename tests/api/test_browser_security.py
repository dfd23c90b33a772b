"""What a browser is told and what it may not do on another site's behalf: state-changing
requests and the live WebSocket carried by a session cookie must come from our own pages,
and every response carries the security headers."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import PASSWORD, Hotline, HotlineFactory

PAGE_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
EVIL = "https://evil.example"


def own_origin(hotline: Hotline) -> str:
    return str(hotline.client.make_url("/").origin())


async def logged_in(hotline: Hotline) -> None:
    await hotline.add_user("lead", "team_lead")
    response = await hotline.client.post(
        "/api/login",
        json={"name": "lead", "password": PASSWORD},
        headers={"Origin": own_origin(hotline)},
    )
    assert response.status == 200


async def test_a_cookie_request_from_another_site_is_refused(hotline: Hotline) -> None:
    await logged_in(hotline)
    response = await hotline.client.post("/api/logout", headers={"Origin": EVIL})
    assert response.status == 403
    body = await response.json()
    assert body["error"] == "bad-origin" and body["field"] is None
    assert (await hotline.client.get("/api/me")).status == 200  # still logged in


async def test_a_cookie_request_with_no_origin_and_no_referer_is_refused(
    hotline: Hotline,
) -> None:
    await logged_in(hotline)
    response = await hotline.client.post("/api/logout")
    assert response.status == 403
    assert (await response.json())["error"] == "bad-origin"


@pytest.mark.parametrize("header", ["Origin", "Referer"])
async def test_a_cookie_request_from_our_own_page_passes(hotline: Hotline, header: str) -> None:
    await logged_in(hotline)
    value = own_origin(hotline) + ("/" if header == "Referer" else "")
    response = await hotline.client.post("/api/logout", headers={header: value})
    assert response.status == 200
    assert (await hotline.client.get("/api/me")).status == 401


async def test_a_login_posted_from_another_site_is_refused(hotline: Hotline) -> None:
    await hotline.add_user("lead", "team_lead")
    response = await hotline.client.post(
        "/api/login", json={"name": "lead", "password": PASSWORD}, headers={"Origin": EVIL}
    )
    assert response.status == 403
    assert "cc_session" not in response.cookies


async def test_a_bearer_request_needs_no_origin(hotline: Hotline) -> None:
    headers = await hotline.token("lead", "team_lead")
    assert (await hotline.client.post("/api/logout", headers=headers)).status == 200
    async with hotline.client.ws_connect("/api/live", headers=headers) as ws:
        assert (await ws.receive_json())["type"] == "snapshot"


async def test_the_live_socket_opened_by_another_site_is_refused(hotline: Hotline) -> None:
    await logged_in(hotline)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await hotline.client.ws_connect("/api/live", origin=EVIL)
    assert refused.value.status == 403
    async with hotline.client.ws_connect("/api/live", origin=own_origin(hotline)) as ws:
        assert (await ws.receive_json())["type"] == "snapshot"


@pytest.mark.parametrize(
    ("path", "csp"),
    [
        ("/", PAGE_CSP),
        ("/login", PAGE_CSP),
        ("/api/health", API_CSP),
        ("/api/calls", API_CSP),  # a 401
        ("/api/no-such-thing", API_CSP),  # a 404
        ("/static/app.css", API_CSP),
    ],
)
async def test_every_response_carries_the_security_headers(
    hotline: Hotline, path: str, csp: str
) -> None:
    response = await hotline.client.get(path)
    assert response.headers["Content-Security-Policy"] == csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(("web", "secure"), [({"listen": "0.0.0.0:8080"}, True), ({}, False)])
async def test_the_session_cookie_is_secure_unless_served_on_loopback(
    hotline_factory: HotlineFactory, db_url: str, web: dict[str, str], secure: bool
) -> None:
    h = await hotline_factory(db_url, web=web)
    await h.add_user("lead", "team_lead")
    response = await h.client.post("/api/login", json={"name": "lead", "password": PASSWORD})
    assert response.status == 200
    assert bool(response.cookies["cc_session"]["secure"]) is secure


async def test_logging_in_again_needs_no_origin(hotline: Hotline) -> None:
    await logged_in(hotline)  # the client now holds a session cookie
    response = await hotline.client.post("/api/login", json={"name": "lead", "password": PASSWORD})
    assert response.status == 200  # the cookie does not authenticate a login
