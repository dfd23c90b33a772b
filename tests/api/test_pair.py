"""An active/standby pair on one PostgreSQL database, two real apps in one process sharing a
fake clock: one active, the other standing by; the standby takes over when the active goes,
and each ring-limit alert is raised once by the pair, even by an active that lost its lock
and still runs. (Two processes and kill -9: tests/integration/test_failover.py.)"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from sqlalchemy import text

from callcenter.app import SERVICES, build
from callcenter.clock import FakeClock
from callcenter.events import RingLimitReached
from tests.api.test_calls_api import Phone
from tests.conftest import Hotline, settings_for
from tests.waiting import eventually

Make = Callable[..., Coroutine[Any, Any, Hotline]]


@pytest.fixture
def make(fresh_postgres_url: str, aiohttp_client: Any) -> Make:
    async def make(name: str, clock: FakeClock) -> Hotline:
        settings = settings_for(fresh_postgres_url, ha={"enabled": True, "instance": name})
        app = build(settings, clock=clock, migrate=True, mqtt=False, hep=False)
        return Hotline(await aiohttp_client(app), app[SERVICES], clock)

    return make


def heard(hotline: Hotline) -> list[RingLimitReached]:
    alerts: list[RingLimitReached] = []

    async def note(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        alerts.append(event)

    hotline.svc.bus.subscribe(RingLimitReached, note)
    return alerts


def role(hotline: Hotline) -> str:
    assert hotline.svc.pair is not None
    return hotline.svc.pair.leader.role


async def rows(hotline: Hotline, sql: str) -> list[Any]:
    async with hotline.svc.db().connect() as conn:
        return list(await conn.execute(text(sql)))


async def test_one_instance_is_active_and_the_other_answers_only_its_health(make: Make) -> None:
    clock = FakeClock()
    a = await make("a", clock)
    b = await make("b", clock)
    assert await (await a.client.get("/api/health")).json() == {"status": "ok", "role": "active"}
    assert await (await b.client.get("/api/health")).json() == {"status": "ok", "role": "standby"}
    lead = await a.token("lead", "team_lead")
    health = await (await b.client.get("/api/health", headers=lead)).json()
    assert health["ha"]["instance"] == "b" and health["ha"]["active"] == "a"
    refused = await b.client.get("/api/calls", headers=lead)
    assert refused.status == 503 and refused.headers["Retry-After"] == "1"
    body = await refused.json()
    assert body["error"] == "standby" and "a is active" in body["message"]
    login = await b.client.post("/api/login", json={"username": "lead", "password": "x"})
    assert login.status == 503
    assert (await a.client.get("/api/calls", headers=lead)).status == 200


async def test_the_standby_takes_over_and_raises_what_fell_due_meanwhile_once_late(
    make: Make,
) -> None:
    clock = FakeClock()
    a = await make("a", clock)
    b = await make("b", clock)
    await a.add_user("li.na", "agent", "2001")
    from_a, from_b = heard(a), heard(b)
    early = Phone(a, "early")
    early.ring()
    clock.advance(10)
    Phone(a, "later").ring()  # its deadline falls at 25 s
    clock.advance(6)  # "early" rang 16 s: raised by a
    await a.svc.calls().settled()
    await a.client.close()  # a stops; b takes the lock
    clock.advance(14)  # "later"'s deadline passes while neither is active
    await eventually(lambda: role(b) == "active")
    await b.svc.calls().settled()
    assert [x.sip_call_id for x in from_a] == ["early"] and not from_a[0].late
    (late,) = from_b
    assert late.sip_call_id == "later" and late.late
    assert (late.raised_at - late.deadline_at).total_seconds() == 5.0
    raised_by = await rows(b, "SELECT raised_by, late FROM alerts ORDER BY raised_at")
    assert [tuple(r) for r in raised_by] == [("a", False), ("b", True)]
    kinds = await rows(b, "SELECT kind FROM violations")
    assert [r.kind for r in kinds] == ["ring_limit", "ring_limit"]


async def test_an_active_that_lost_its_lock_raises_nothing_more(
    make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real service stops at once when its lock session fails; kept alive here, it shows
    # that even then the database refuses its claims and the new active raises the alert.
    lost: list[str] = []
    monkeypatch.setattr("callcenter.ha.service._lost", lost.append)
    clock = FakeClock()
    a = await make("a", clock)
    b = await make("b", clock)
    await a.add_user("li.na", "agent", "2001")
    from_a, from_b = heard(a), heard(b)
    Phone(a, "ringing").ring()
    await a.svc.calls().settled()
    assert a.svc.pair is not None and a.svc.pair.leader.fence is not None
    pid = a.svc.pair.leader.fence.pid
    await rows(b, f"SELECT pg_terminate_backend({pid})")
    await eventually(lambda: role(b) == "active")
    await eventually(lambda: lost)
    clock.advance(16)  # both have a timer for the leg; only b may raise it
    await b.svc.calls().settled()
    await eventually(lambda: from_b)
    assert from_a == [] and [x.sip_call_id for x in from_b] == ["ringing"]
    assert len(await rows(b, "SELECT id FROM violations")) == 1
