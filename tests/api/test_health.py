"""/api/health tells the truth: degraded (503) when saving is stuck or a source is down; the
public sees only the status, a signed-in user also why and the counters."""

from __future__ import annotations

import asyncio
import socket
import sqlite3

import pytest
from aiohttp import WSMsgType

from callcenter import signals as t
from callcenter.app import problems
from tests.conftest import Hotline, HotlineFactory
from tests.waiting import eventually


async def test_the_public_sees_only_the_status(hotline: Hotline) -> None:
    response = await hotline.client.get("/api/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_a_signed_in_user_sees_version_counters_and_reasons(hotline: Hotline) -> None:
    lead = await hotline.token("lead", "team_lead")
    body = await (await hotline.client.get("/api/health", headers=lead)).json()
    assert body["status"] == "ok" and body["reasons"] == []
    assert body["database"] == "ok" and "version" in body
    assert {"in_memory", "parked", "writer_lag_seconds", "refused"} <= set(body["calls"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_saving_stuck_behind_a_lock_is_degraded_until_it_recovers(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_factory(db_url, health={"writer_lag_seconds": 0.5})
    locker = sqlite3.connect(db_url.split("///", 1)[1], timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        h.svc.calls().handle(t.CallOffered("hep", "c1", "ft", h.clock.now(), "138", "96069"))
        await asyncio.sleep(1.0)
        response = await h.client.get("/api/health")
        assert response.status == 503
        assert await response.json() == {"status": "degraded"}
        assert any("behind" in r for r in problems(h.svc))
    finally:
        locker.rollback()
        locker.close()

    async def healthy() -> bool:
        return (await h.client.get("/api/health")).status == 200

    await eventually(healthy, within=15)


async def test_a_source_that_is_down_makes_health_degraded(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pbx = [{"id": "ast1", "kind": "ami", "port": port, "username": "u", "secret": "s"}]
    h = await hotline_factory(db_url, pbx=pbx, health={"source_down_seconds": 0})
    lead = await h.token("lead", "team_lead")
    response = await h.client.get("/api/health", headers=lead)
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "degraded"
    assert any(r.startswith("source ast1:") for r in body["reasons"])


async def test_shutdown_closes_live_pages_first_instead_of_waiting_for_them(
    hotline: Hotline,
) -> None:
    lead = await hotline.token("lead", "team_lead")
    ws = await hotline.client.ws_connect("/api/live", headers=lead)
    await ws.receive_json(timeout=5)  # the snapshot
    # aiohttp waits up to 60 s for open handlers at shutdown; the hub closes them first.
    await asyncio.wait_for(hotline.client.server.close(), timeout=20)
    message = await ws.receive(timeout=5)
    assert (message.type, message.data, message.extra) == (WSMsgType.CLOSE, 1001, "server shutdown")
