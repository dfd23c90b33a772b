"""Who may call what: tokens, browser sessions, roles."""

from sqlalchemy import select

from callcenter.auth import service as auth_service
from callcenter.auth import store
from callcenter.clock import FakeClock
from callcenter.db import create_engine
from tests.conftest import PASSWORD, Hotline


async def test_missing_credentials_get_401_naming_the_problem(hotline: Hotline) -> None:
    response = await hotline.client.get("/api/calls")
    assert response.status == 401
    assert (await response.json())["error"] == "not-authenticated"


async def test_wrong_token_gets_401(hotline: Hotline) -> None:
    response = await hotline.client.get("/api/calls", headers={"Authorization": "Bearer nope"})
    assert response.status == 401
    assert (await response.json())["error"] == "bad-credentials"


async def test_other_authorization_scheme_is_a_wrong_token(hotline: Hotline) -> None:
    response = await hotline.client.get("/api/calls", headers={"Authorization": "Basic eDp5"})
    assert response.status == 401


async def test_station_may_not_read_calls(hotline: Hotline) -> None:
    headers = await hotline.token("hongcheng", "station")
    response = await hotline.client.get("/api/calls", headers=headers)
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"


async def test_agent_may_not_read_answer_statistics(hotline: Hotline) -> None:
    headers = await hotline.token("li.na", "agent", "2001")
    assert (await hotline.client.get("/api/stats/answers", headers=headers)).status == 403


async def test_supervisor_token_reads_calls(hotline: Hotline) -> None:
    headers = await hotline.token("boss", "supervisor")
    response = await hotline.client.get("/api/calls", headers=headers)
    assert response.status == 200
    assert await response.json() == []


async def test_browser_login_sets_a_session_cookie_that_works(hotline: Hotline) -> None:
    await hotline.add_user("lead", "team_lead")
    response = await hotline.client.post("/api/login", json={"name": "lead", "password": PASSWORD})
    assert response.status == 200
    assert (await response.json())["role"] == "team_lead"
    cookie = response.cookies["cc_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    me = await hotline.client.get("/api/me")
    assert (await me.json())["name"] == "lead"


async def test_wrong_password_gets_401_and_no_cookie(hotline: Hotline) -> None:
    await hotline.add_user("lead", "team_lead")
    response = await hotline.client.post("/api/login", json={"name": "lead", "password": "x" * 9})
    assert response.status == 401
    assert (await response.json())["error"] == "bad-credentials"
    assert "cc_session" not in response.cookies
    assert (await hotline.client.get("/api/me")).status == 401


async def test_logout_ends_the_session(hotline: Hotline) -> None:
    await hotline.add_user("lead", "team_lead")
    await hotline.client.post("/api/login", json={"name": "lead", "password": PASSWORD})
    own_page = str(hotline.client.make_url("/").origin())  # a browser says where it posts from
    await hotline.client.post("/api/logout", headers={"Origin": own_page})
    assert (await hotline.client.get("/api/me")).status == 401


async def test_login_without_password_names_the_field(hotline: Hotline) -> None:
    response = await hotline.client.post("/api/login", json={"name": "lead"})
    assert response.status == 400
    body = await response.json()
    assert body["error"] == "missing-field" and body["field"] == "password"


async def test_login_with_broken_json_is_a_400(hotline: Hotline) -> None:
    response = await hotline.client.post(
        "/api/login", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "bad-json"


async def test_unknown_route_is_json_404(hotline: Hotline) -> None:
    response = await hotline.client.get("/api/nothing-here")
    assert response.status == 404
    assert (await response.json())["error"] == "not-found"


async def test_database_down_is_a_503_naming_it(hotline: Hotline) -> None:
    working = hotline.svc.engine
    hotline.svc.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        response = await hotline.client.get("/api/calls", headers={"Authorization": "Bearer x"})
        assert response.status == 503
        assert (await response.json())["error"] == "backend-unavailable"
        assert (await hotline.client.get("/api/health")).status == 503
    finally:
        await hotline.svc.db().dispose()
        hotline.svc.engine = working


# ---- revocation ----------------------------------------------------------------------------


async def log_in(hotline: Hotline, name: str = "lead") -> None:
    response = await hotline.client.post("/api/login", json={"name": name, "password": PASSWORD})
    assert response.status == 200


async def auth_events(hotline: Hotline) -> list[tuple[str, str, bool]]:
    async with hotline.svc.db().connect() as conn:
        rows = await conn.execute(select(store.auth_log).order_by(store.auth_log.c.id))
        return [(r.event, r.name, r.ok) for r in rows if r.event != "login"]


async def test_changing_the_password_ends_the_users_sessions(hotline: Hotline) -> None:
    await hotline.add_user("lead", "team_lead")
    await log_in(hotline)
    assert (await hotline.client.get("/api/me")).status == 200
    ended = await auth_service.set_password(
        hotline.svc.db(), hotline.clock, "lead", "a brand new password"
    )
    assert ended == 1
    assert (await hotline.client.get("/api/me")).status == 401
    response = await hotline.client.post(
        "/api/login", json={"name": "lead", "password": "a brand new password"}
    )
    assert response.status == 200
    assert ("password-changed", "lead", True) in await auth_events(hotline)


async def test_a_disabled_users_session_and_token_stop_working_at_once(
    hotline: Hotline,
) -> None:
    token = await hotline.token("lead", "team_lead")
    await log_in(hotline)
    db, clock = hotline.svc.db(), hotline.clock
    assert await auth_service.set_disabled(db, clock, "lead", disabled=True)
    assert (await hotline.client.get("/api/calls", headers=token)).status == 401
    assert (await hotline.client.get("/api/me")).status == 401
    assert not await auth_service.set_disabled(db, clock, "lead", disabled=True)  # already
    assert await auth_service.set_disabled(db, clock, "lead", disabled=False)
    assert (await hotline.client.get("/api/calls", headers=token)).status == 200
    assert (await hotline.client.get("/api/me")).status == 401  # its sessions were ended
    events = await auth_events(hotline)
    assert events[-2:] == [("user-disabled", "lead", True), ("user-enabled", "lead", True)]


async def test_a_token_may_carry_an_expiry(hotline: Hotline) -> None:
    await hotline.add_user("lead", "team_lead")
    token = await auth_service.create_token(hotline.svc.db(), hotline.clock, "lead", expires_days=1)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await hotline.client.get("/api/calls", headers=headers)).status == 200
    clock = hotline.clock
    assert isinstance(clock, FakeClock)
    clock.advance(86_399)
    assert (await hotline.client.get("/api/calls", headers=headers)).status == 200
    clock.advance(1)
    response = await hotline.client.get("/api/calls", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "bad-credentials"


async def test_a_revoked_token_is_refused(hotline: Hotline) -> None:
    headers = await hotline.token("lead", "team_lead")
    (listed,) = await auth_service.list_tokens(hotline.svc.db(), "lead")
    assert listed.user == "lead" and listed.expires_at is None
    await auth_service.revoke_token(hotline.svc.db(), hotline.clock, listed.id)
    assert (await hotline.client.get("/api/calls", headers=headers)).status == 401
    assert await auth_service.list_tokens(hotline.svc.db()) == []
    assert await auth_events(hotline) == [
        ("user-added", "lead", True),
        ("token-created", "lead", True),
        ("token-revoked", "lead", True),
    ]
