"""/api/sources, and the overflow action at the ring limit with the PBX's answer."""

from __future__ import annotations

import asyncio

from callcenter import signals as t
from callcenter.clock import FakeClock
from callcenter.signals import CommandResult
from tests.conftest import Hotline, HotlineFactory


class FakePbx:
    """Stands in for an AMI/ESL adapter's command port."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        self.calls: list[tuple[str, str, str]] = []

    async def redirect(self, call_id: str, leg_id: str, target: str) -> CommandResult:
        self.calls.append((call_id, leg_id, target))
        return self.result


async def overflow_hotline(
    factory: HotlineFactory, db_url: str, result: CommandResult
) -> tuple[Hotline, FakePbx]:
    h: Hotline = await factory(
        db_url,
        rings={
            "actions": [
                {"extension": "2001", "on_ring_limit": "overflow", "target": "8000@overflow"}
            ]
        },
    )
    pbx = FakePbx(result)
    assert h.svc.actions is not None
    h.svc.actions.redirectors = {"pbx1": pbx}
    await h.add_user("li.na", "agent", "2001")
    return h, pbx


def ring(h: Hotline, call_id: str, ext: str) -> None:
    tracker = h.svc.calls()
    now = h.clock.now()
    tracker.handle(t.CallOffered("pbx1", call_id, "", now, "13800000001", "96069"))
    tracker.handle(t.LegRinging("pbx1", call_id, "", "leg-" + ext, ext, now, queue="repairs"))


async def settle(h: Hotline) -> None:
    for _ in range(50):
        await h.svc.calls().settled()
        assert h.svc.actions is not None
        if not h.svc.actions._tasks:
            return
        await asyncio.sleep(0.02)


async def test_sources_list_the_hep_listener_without_secrets(
    hotline_factory: HotlineFactory, sqlite_url: str
) -> None:
    h: Hotline = await hotline_factory(sqlite_url, hep=True, sip={"hep_password": "s3cret-key"})
    lead = await h.token("lead", "team_lead")
    response = await h.client.get("/api/sources", headers=lead)
    assert response.status == 200
    (source,) = await response.json()
    assert source["id"] == "hep" and source["kind"] == "hep" and source["state"] == "listening"
    assert "s3cret-key" not in await response.text()
    agent = await h.token("li.na", "agent", "2001")
    assert (await h.client.get("/api/sources", headers=agent)).status == 403


async def test_overflow_at_the_ring_limit_redirects_and_records_the_answer(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h, pbx = await overflow_hotline(
        hotline_factory, db_url, CommandResult(True, "Success: Redirect successful")
    )
    ring(h, "linked-1", "2001")
    assert isinstance(h.clock, FakeClock)
    h.clock.advance(15.1)
    await settle(h)
    assert pbx.calls == [("linked-1", "leg-2001", "8000@overflow")]
    lead = await h.token("lead", "team_lead")
    (attempt,) = await (await h.client.get("/api/overflows", headers=lead)).json()
    assert attempt["ok"] is True and attempt["target"] == "8000@overflow"
    assert attempt["response"] == "Success: Redirect successful"


async def test_failed_overflow_is_an_alert_on_the_live_feed(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h, _ = await overflow_hotline(
        hotline_factory, db_url, CommandResult(False, "Error: Channel not found")
    )
    lead = await h.token("lead", "team_lead")
    async with h.client.ws_connect("/api/live", headers=lead) as ws:
        assert (await ws.receive_json())["type"] == "snapshot"
        ring(h, "linked-2", "2001")
        assert isinstance(h.clock, FakeClock)
        h.clock.advance(15.1)
        await settle(h)
        seen = []
        while "overflow_failed" not in seen:
            seen.append((await asyncio.wait_for(ws.receive_json(), 5))["type"])
    (attempt,) = await (await h.client.get("/api/overflows", headers=lead)).json()
    assert attempt["ok"] is False and attempt["response"] == "Error: Channel not found"


async def test_alert_only_extensions_are_not_redirected(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h, pbx = await overflow_hotline(hotline_factory, db_url, CommandResult(True, "ok"))
    await h.add_user("wang.wei", "agent", "2002")
    ring(h, "linked-3", "2002")
    assert isinstance(h.clock, FakeClock)
    h.clock.advance(15.1)
    await settle(h)
    assert pbx.calls == []
