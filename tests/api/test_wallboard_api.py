"""The wallboard (大屏) through the real app on SQLite and PostgreSQL: its tokens (issued by
supervisors, the department head and admins; shown once, stored hashed, revocable, listed
after), a token that opens the board and nothing else, and today's figures equal to what the
daily report and the other APIs say for a day built through the real tracker and desk."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from callcenter import cli
from callcenter.clock import FakeClock
from callcenter.wallboard import store as wallboard_store
from tests.api import month_rows as mr
from tests.api.test_anomaly_complaints_api import COMPLAINT, log
from tests.api.test_callbacks_api import returned
from tests.api.test_calls_api import Phone
from tests.api.test_cli import run
from tests.api.test_orders_api import dispatch
from tests.api.test_tickets_api import REPAIR, person, take
from tests.conftest import Hotline, HotlineFactory
from tests.waiting import eventually

# 23:30 on Sunday 22 November 2026 in Asia/Shanghai: one call before the day the board shows.
START = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
TODAY = "2026-11-23"
TOKEN_RE = re.compile(r"^wb_[A-Za-z0-9_-]{43}$")


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str) -> Hotline:
    h: Hotline = await hotline_factory(db_url, clock=FakeClock(START))
    return h


@pytest.fixture
async def boss(hotline: Hotline) -> dict[str, str]:
    return await person(hotline, "boss", "supervisor")


async def create(h: Hotline, who: dict[str, str], name: str = "大厅电视") -> dict[str, Any]:
    response = await h.client.post("/api/wallboard/tokens", json={"name": name}, headers=who)
    assert response.status == 201, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await response.json()
    return body


async def figures(h: Hotline, token: str, status: int = 200) -> dict[str, Any]:
    await h.svc.calls().settled()
    response = await h.client.get("/api/wallboard/figures", params={"token": token})
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def api(h: Hotline, path: str, who: dict[str, str]) -> Any:
    response = await h.client.get(path, headers=who)
    assert response.status == 200, await response.text()
    return await response.json()


# -- tokens ------------------------------------------------------------------------------------


async def test_a_token_is_shown_once_and_only_its_hash_is_stored(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    made = await create(hotline, boss)
    token = made["token"]
    assert TOKEN_RE.match(token)
    assert made["name"] == "大厅电视" and made["state"] == "active"
    assert made["created_by"] == "boss" and made["created_at"].endswith("Z")
    base = f"http://{hotline.client.host}:{hotline.client.port}"
    assert made["url"] == f"{base}/wallboard?token={token}"

    listing = await hotline.client.get("/api/wallboard/tokens", headers=boss)
    assert token not in await listing.text()
    [listed] = await listing.json()
    assert "token" not in listed and "url" not in listed
    assert (listed["id"], listed["name"], listed["state"]) == (made["id"], "大厅电视", "active")

    async with hotline.svc.db().connect() as conn:
        stored = await conn.execute(text("SELECT * FROM wallboard_tokens"))
        rows = [dict(r._mapping) for r in stored]
    assert [r["token_hash"] for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert not any(token in str(value) for value in rows[0].values())
    # Another board gets another token.
    assert (await create(hotline, boss, "二楼走廊"))["token"] != token


@pytest.mark.parametrize(
    ("role", "status"),
    [("supervisor", 201), ("qa_lead", 201), ("admin", 201), ("team_lead", 403), ("agent", 403)],
)
async def test_supervisors_the_department_head_and_admins_issue_tokens(
    hotline: Hotline, role: str, status: int
) -> None:
    who = await person(hotline, "someone", role, "2001" if role == "agent" else None)
    response = await hotline.client.post("/api/wallboard/tokens", json={"name": "TV"}, headers=who)
    assert response.status == status, await response.text()
    listing = await hotline.client.get("/api/wallboard/tokens", headers=who)
    assert listing.status == (200 if status == 201 else 403)
    if status == 403:
        assert (await response.json())["error"] == "forbidden"
    anonymous = await hotline.client.get("/api/wallboard/tokens")
    assert anonymous.status == 401


async def test_a_name_is_required(hotline: Hotline, boss: dict[str, str]) -> None:
    for body in ({}, {"name": "  "}, {"name": 3}, {"name": "x" * 65}):
        response = await hotline.client.post("/api/wallboard/tokens", json=body, headers=boss)
        assert response.status == 400, body
        assert (await response.json())["field"] == "name"


async def test_a_revoked_token_is_refused_and_stays_listed(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    made = await create(hotline, boss)
    head = await person(hotline, "head", "qa_lead")
    await figures(hotline, made["token"])
    hotline.clock.advance(60)  # type: ignore[attr-defined]

    response = await hotline.client.delete(f"/api/wallboard/tokens/{made['id']}", headers=head)
    assert response.status == 200, await response.text()
    revoked = await response.json()
    assert (revoked["state"], revoked["revoked_by"]) == ("revoked", "head")
    assert revoked["boards_closed"] == 0

    refused = await figures(hotline, made["token"], 401)
    assert refused["error"] == "wallboard-token-revoked" and refused["field"] == "token"
    [listed] = await api(hotline, "/api/wallboard/tokens", boss)
    assert listed["state"] == "revoked" and listed["revoked_at"] == revoked["revoked_at"]
    assert listed["last_seen_at"] == made["created_at"]  # its board read the figures once

    again = await hotline.client.delete(f"/api/wallboard/tokens/{made['id']}", headers=boss)
    assert (await again.json())["revoked_by"] == "head"  # the first revocation stays
    for missing in ("999", "x1"):
        gone = await hotline.client.delete(f"/api/wallboard/tokens/{missing}", headers=boss)
        assert gone.status == 404 and (await gone.json())["error"] == "no-such-wallboard-token"


async def test_a_missing_or_unknown_token_is_a_401_naming_the_problem(hotline: Hotline) -> None:
    response = await hotline.client.get("/api/wallboard/figures")
    assert response.status == 401
    assert (await response.json())["error"] == "wallboard-token-missing"
    for bad in ("nope", "wb_" + "A" * 43, "x" * 5000):
        body = await figures(hotline, bad, 401)
        assert body["error"] == "wallboard-token-invalid", bad
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await hotline.client.ws_connect("/api/wallboard/live", params={"token": "wb_" + "A" * 43})
    assert refused.value.status == 401


async def test_a_wallboard_token_opens_nothing_else(hotline: Hotline, boss: dict[str, str]) -> None:
    token = (await create(hotline, boss))["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for path in ("/api/me", "/api/calls", "/api/stats/answers", "/api/wallboard/tokens"):
        as_bearer = await hotline.client.get(path, headers=bearer)
        assert as_bearer.status == 401, path
        in_query = await hotline.client.get(path, params={"token": token})
        assert in_query.status == 401, path
    post = await hotline.client.post("/api/wallboard/tokens", json={"name": "x"}, headers=bearer)
    assert post.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await hotline.client.ws_connect("/api/live", headers=bearer)
    assert refused.value.status == 401


# -- figures -----------------------------------------------------------------------------------


async def build_day(h: Hotline) -> dict[str, Any]:
    """Yesterday 23:30 one call. Today from 09:00: a repair sent to xingfu and not accepted
    (accept_late at 09:30), a hongcheng repair returned (its callback due in 3 days), a
    complaint logged, two callbacks due today (one overdue), then four calls: answered in
    time, answered late (ring_limit), abandoned in time, and one still ringing for 7 s."""
    clock: FakeClock = h.clock  # type: ignore[assignment]
    agent = await person(h, "li.na", "agent", "2001", "007")
    lead = await person(h, "lead", "team_lead")
    yesterday = Phone(h, "yesterday")
    yesterday.ring()
    yesterday.after(2)
    yesterday.answer()
    yesterday.hang_up()
    clock.advance((datetime(2026, 11, 23, 1, 0, tzinfo=UTC) - clock.now()).total_seconds())

    sent = await take(h, agent)
    await dispatch(h, agent, sent["id"])
    back = await take(h, agent, station="hongcheng")
    await returned(h, agent, back["id"])
    clock.advance(31 * 60)
    assert h.svc.deadlines is not None
    await h.svc.deadlines.settled()
    await log(h, agent, sent["id"], **COMPLAINT)
    agent_id, now = await _user_id(h, "li.na"), clock.now()
    async with h.svc.db().begin() as conn:
        await mr.insert(conn, "callbacks", [
            mr.callback_row("due-later", sent["id"], agent_id, None, now + timedelta(hours=8)),
            mr.callback_row("overdue", sent["id"], agent_id, None, now - timedelta(hours=2)),
            mr.callback_row("made", sent["id"], agent_id, "li.na", now - timedelta(hours=1)),
        ])  # fmt: skip

    on_time = Phone(h, "on-time")
    on_time.ring()
    on_time.after(3)
    on_time.answer()
    on_time.after(30)
    on_time.hang_up()
    late = Phone(h, "late")
    late.ring()
    late.after(16)  # the ring limit (3 × 5 s) passes at 15 s: a ring_limit violation
    late.answer()
    late.after(20)
    late.hang_up()
    gone = Phone(h, "abandoned")
    gone.ring()
    gone.after(4)
    gone.abandon()
    ringing = Phone(h, "ringing")
    ringing.ring()
    ringing.after(7)
    await h.svc.calls().settled()
    return {"agent": agent, "lead": lead}


async def _user_id(h: Hotline, name: str) -> int:
    async with h.svc.db().connect() as conn:
        found = await conn.scalar(text("SELECT id FROM users WHERE name = :n"), {"n": name})
    return int(found)


async def test_the_figures_equal_the_daily_report_and_the_apis(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    people = await build_day(hotline)
    lead = people["lead"]
    token = (await create(hotline, boss))["token"]
    board = await figures(hotline, token)

    # Worked out by hand: 4 calls today (yesterday's is not), 2 answered, 1 within the limit;
    # the abandoned one hung up in time and the ringing one is inside the limit, so the rate
    # is 1 of 2, and the rule is missed by one call.
    assert (board["day"], board["timezone"]) == (TODAY, "Asia/Shanghai")
    calls = board["calls"]
    assert (calls["offered"], calls["answered"], calls["answered_within_limit"]) == (4, 2, 1)
    assert (calls["abandoned"], calls["within_limit_rate"], board["rule"]) == (1, 0.5, "missed")
    assert board["ringing"] == {
        "legs": 1, "past_limit": 0, "longest_seconds": 7.0, "longest_rings": 2,
        "longest_since": (hotline.clock.now() - timedelta(seconds=7)).isoformat(
            timespec="milliseconds").replace("+00:00", "Z"),
    }  # fmt: skip
    assert board["violations"]["total"] == 1
    assert board["anomalies"]["open"] == 1 and board["anomalies"]["today"] == 2
    assert board["orders"]["open"] == 1
    stations = {s["code"]: s["open"] for s in board["orders"]["by_station"]}
    assert stations["xingfu"] == 1 and stations["hongcheng"] == 0
    assert [s["code"] for s in board["orders"]["by_station"]][:2] == ["hongcheng", "yulong"]
    assert board["callbacks"] == {"due_today": 2, "overdue": 1}

    # … and what the report and the other APIs say.
    report = await api(hotline, f"/api/reports/daily?date={TODAY}", boss)
    assert calls == report["hotline"]["calls"]
    assert board["violations"]["by_kind"] == report["hotline"]["violations"]
    assert board["anomalies"]["today_by_kind"] == report["hotline"]["anomalies"]
    assert calls == (await api(hotline, "/api/stats/answers", lead))["total"]
    assert board["violations"]["total"] == len(await api(hotline, "/api/violations", lead))
    open_complaints = await api(hotline, "/api/anomalies?state=open", lead)
    assert board["anomalies"]["open"] == len(open_complaints)
    for code in ("xingfu", "hongcheng"):
        listed = await api(hotline, f"/api/orders?status=sent,accepted,contacted&station={code}",
                           lead)  # fmt: skip
        assert stations[code] == len(listed), code
    due = await api(hotline, "/api/callbacks?status=due", lead)
    assert board["callbacks"]["due_today"] == len([c for c in due if c["due_at"] < board["to"]])
    assert board["callbacks"]["overdue"] == len([c for c in due if c["overdue"]])
    ws = await hotline.client.ws_connect("/api/live", headers=lead)
    snapshot = await ws.receive_json(timeout=5)
    await ws.close()
    assert board["ringing"]["legs"] == len(snapshot["ringing"])
    longest = max(r["ring_seconds"] for r in snapshot["ringing"])
    assert board["ringing"]["longest_seconds"] == longest


async def test_the_figures_hold_no_resident_data(hotline: Hotline, boss: dict[str, str]) -> None:
    await build_day(hotline)
    raw = await (
        await hotline.client.get(
            "/api/wallboard/figures", params={"token": (await create(hotline, boss))["token"]}
        )
    ).text()
    for private in ("13800000001", "138****0001", REPAIR["reporter_name"], "幸福里", "li.na"):
        assert private not in raw, private


# -- live ----------------------------------------------------------------------------------------


async def next_figures(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = await ws.receive_json(timeout=10)
    assert message["type"] == "figures" and message["schema"] == "callcenter.wallboard/1"
    return message


async def test_the_socket_sends_the_figures_then_each_change(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    await hotline.add_user("li.na", "agent", "2001")
    token = (await create(hotline, boss))["token"]
    ws = await hotline.client.ws_connect("/api/wallboard/live", params={"token": token})
    first = await next_figures(ws)
    assert first["calls"]["offered"] == 0 and first["ringing"]["legs"] == 0

    phone = Phone(hotline, "call-1")
    phone.ring()
    ringing = await eventually(lambda: _until(ws, lambda m: m["ringing"]["legs"] == 1), 10)
    assert ringing["calls"]["offered"] == 1
    phone.after(2)
    phone.answer()
    answered = await eventually(lambda: _until(ws, lambda m: m["calls"]["answered"] == 1), 10)
    assert answered["ringing"]["legs"] == 0 and answered["rule"] == "met"
    await ws.close()


async def _until(ws: aiohttp.ClientWebSocketResponse, wanted: Any) -> dict[str, Any] | None:
    message = await next_figures(ws)
    return message if wanted(message) else None


async def test_revoking_a_token_closes_its_open_board_at_once(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    made = await create(hotline, boss)
    other = await create(hotline, boss, "二楼走廊")
    ws = await hotline.client.ws_connect("/api/wallboard/live", params={"token": made["token"]})
    kept = await hotline.client.ws_connect("/api/wallboard/live", params={"token": other["token"]})
    await next_figures(ws)
    await next_figures(kept)

    response = await hotline.client.delete(f"/api/wallboard/tokens/{made['id']}", headers=boss)
    assert (await response.json())["boards_closed"] == 1
    closing = await ws.receive(timeout=5)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert (closing.data, closing.extra) == (4401, "wallboard-token-revoked")
    assert not kept.closed  # another TV's board stays on
    await kept.close()


async def test_a_token_revoked_elsewhere_closes_its_board_at_the_next_refresh(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    """`callcenter wallboard revoke` runs in another process: the service sees it in the
    database when it next refreshes the boards."""
    made = await create(hotline, boss)
    hub = hotline.svc.wallboard_hub()
    hub.refresh = 0.2
    hub.changed()  # the feed was waiting with the old refresh
    ws = await hotline.client.ws_connect("/api/wallboard/live", params={"token": made["token"]})
    await next_figures(ws)
    async with hotline.svc.db().begin() as conn:
        await wallboard_store.revoke(conn, made["id"], "cli:root", hotline.clock.now())
    while (message := await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT:
        pass  # a refresh's figures may come first
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 4401)


# -- the page and the logs -----------------------------------------------------------------------


async def test_the_page_has_no_login_form_and_sends_no_referrer(hotline: Hotline) -> None:
    response = await hotline.client.get("/wallboard", params={"token": "anything"})
    assert response.status == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    assert "<form" not in page and "password" not in page
    assert 'id="wall-charts"' in page
    # The other pages keep theirs.
    live = await hotline.client.get("/")
    assert live.headers["Referrer-Policy"] == "same-origin"


async def test_the_token_never_reaches_the_services_logs(
    hotline: Hotline, boss: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = await create(hotline, boss)
    token = made["token"]
    await figures(hotline, token)
    ws = await hotline.client.ws_connect("/api/wallboard/live", params={"token": token})
    await next_figures(ws)
    await hotline.client.delete(f"/api/wallboard/tokens/{made['id']}", headers=boss)
    await ws.receive(timeout=5)
    await figures(hotline, token, 401)
    await hotline.client.get("/api/calls", headers={"Authorization": f"Bearer {token}"})
    assert "wallboard token created" in caplog.text  # the service did log, without it
    # The test server's own access log prints request lines; `callcenter serve` runs with
    # none (test_serve_runs_without_an_access_log).
    ours = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]
    assert not [m for m in ours if token in m or token[3:20] in m]


def test_serve_runs_without_an_access_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """An access log would print every board's address, its token with it."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(web, "run_app", lambda _app, **kwargs: seen.update(kwargs))
    config = tmp_path / "cc.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cc.sqlite3"\n')
    assert cli.main(["--config", str(config), "serve"]) == 0
    assert "access_log" in seen and seen["access_log"] is None


def test_the_command_creates_lists_and_revokes_a_board(tmp_path: Any) -> None:
    (tmp_path / "cc.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cc.sqlite3"\n'
        '[web]\nlisten = "127.0.0.1:8080"\n'
    )
    assert run(tmp_path, "--config", "cc.toml", "db", "upgrade").returncode == 0
    made = run(tmp_path, "--config", "cc.toml", "wallboard", "create", "大厅电视")
    assert made.returncode == 0, made.stderr
    [token] = re.findall(r"wb_[A-Za-z0-9_-]{43}", made.stdout.split("open on the TV")[0])
    assert f"http://127.0.0.1:8080/wallboard?token={token}" in made.stdout
    listing = run(tmp_path, "--config", "cc.toml", "wallboard", "list")
    assert token not in listing.stdout
    [row] = listing.stdout.splitlines()[1:]
    assert row.split("\t")[:3] == ["1", "大厅电视", "active"]
    revoked = run(tmp_path, "--config", "cc.toml", "wallboard", "revoke", "1")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    listing = run(tmp_path, "--config", "cc.toml", "wallboard", "list")
    assert listing.stdout.splitlines()[1].split("\t")[2] == "revoked"
    unknown = run(tmp_path, "--config", "cc.toml", "wallboard", "revoke", "7")
    assert unknown.returncode == 1 and "no wallboard token 7" in unknown.stderr
    with sqlite3.connect(tmp_path / "cc.sqlite3") as db:
        [(stored,)] = db.execute("SELECT token_hash FROM wallboard_tokens").fetchall()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
