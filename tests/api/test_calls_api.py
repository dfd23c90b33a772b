"""Calls, answer statistics and violations as the API reports them, driven through the real
call tracker with a fake clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from callcenter import signals as t
from callcenter.clock import FakeClock
from tests.conftest import Hotline, HotlineFactory

CALLER = "13800000001"


class Phone:
    """Drives one call through the tracker as an adapter would."""

    def __init__(self, hotline: Hotline, call_id: str, caller: str = CALLER) -> None:
        self.h = hotline
        self.clock: FakeClock = hotline.clock  # type: ignore[assignment]
        self.call_id = call_id
        self.tracker = hotline.svc.calls()
        self.tracker.handle(t.CallOffered("hep", call_id, "ft", self.clock.now(), caller, "96069"))

    def after(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def ring(self, ext: str = "2001", leg: str = "a") -> None:
        self.tracker.handle(t.LegRinging("hep", self.call_id, "ft", leg, ext, self.clock.now()))

    def answer(self, ext: str = "2001", leg: str = "a") -> None:
        self.tracker.handle(t.LegAnswered("hep", self.call_id, "ft", leg, ext, self.clock.now()))

    def hang_up(self, by: t.HungUpBy = "caller") -> None:
        self.tracker.handle(t.CallEnded("hep", self.call_id, "ft", self.clock.now(), by))

    def abandon(self) -> None:
        self.tracker.handle(t.CallAbandoned("hep", self.call_id, "ft", self.clock.now()))

    def ring_out(self, ext: str = "2001", leg: str = "a") -> None:
        now = self.clock.now()
        self.tracker.handle(t.LegUnanswered("hep", self.call_id, "ft", leg, ext, now, "cancelled"))
        self.tracker.handle(t.CallUnanswered("hep", self.call_id, "ft", now, "408 Request Timeout"))


async def get(h: Hotline, path: str, headers: dict[str, str]) -> Any:
    await h.svc.calls().settled()
    response = await h.client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.fixture
async def lead(hotline: Hotline) -> dict[str, str]:
    await hotline.add_user("li.na", "agent", "2001")
    await hotline.add_user("wang.wei", "agent", "2002")
    return await hotline.token("lead", "team_lead")


async def test_call_answered_on_time_is_reported_with_its_rings(
    hotline: Hotline, lead: dict[str, str]
) -> None:
    p = Phone(hotline, "call-1")
    p.after(0.2)
    p.ring()
    p.after(7.0)
    p.answer()
    p.after(30)
    p.hang_up()
    (call,) = await get(hotline, "/api/calls", lead)
    assert call["sip_call_id"] == "call-1"
    assert call["caller"] == CALLER
    assert call["agent"] == "li.na" and call["extension"] == "2001"
    assert call["outcome"] == "answered" and call["hung_up_by"] == "caller"
    assert call["ring_seconds"] == 7.0 and call["rings"] == 2
    assert call["within_ring_limit"] is True
    assert call["offered_at"].endswith("Z") and call["ended_at"] is not None


async def test_phone_ringing_past_the_limit_records_a_violation_at_the_deadline(
    hotline: Hotline, lead: dict[str, str]
) -> None:
    p = Phone(hotline, "call-2")
    p.ring()
    p.after(14.9)
    assert await get(hotline, "/api/violations", lead) == []
    p.after(0.2)
    (violation,) = await get(hotline, "/api/violations", lead)
    assert violation["kind"] == "ring_limit" and violation["agent"] == "li.na"
    assert violation["rings"] == 4
    (call,) = await get(hotline, "/api/calls", lead)
    assert call["outcome"] == "ringing" and call["within_ring_limit"] is False


async def test_late_answer_is_counted_late(hotline: Hotline, lead: dict[str, str]) -> None:
    p = Phone(hotline, "call-3")
    p.ring()
    p.after(16)
    p.answer()
    (call,) = await get(hotline, "/api/calls", lead)
    assert call["within_ring_limit"] is False and call["rings"] == 4
    stats = await get(hotline, "/api/stats/answers", lead)
    assert stats["total"]["answered_late"] == 1 and stats["total"]["answered_within_limit"] == 0


async def test_answer_statistics_equal_the_calls_stored(
    hotline: Hotline, lead: dict[str, str]
) -> None:
    on_time = Phone(hotline, "on-time")
    on_time.ring("2001")
    on_time.after(3)
    on_time.answer("2001")
    late = Phone(hotline, "late")
    late.ring("2002")
    late.after(20)
    late.answer("2002")
    gone = Phone(hotline, "abandoned")
    gone.ring("2001")
    gone.after(4)
    gone.abandon()
    out = Phone(hotline, "rang-out")
    out.ring("2002")
    out.after(30)
    out.ring_out("2002")
    stats = await get(hotline, "/api/stats/answers?group_by=agent", lead)
    assert stats["total"] == {
        "offered": 4,
        "answered": 2,
        "answered_within_limit": 1,
        "answered_late": 1,
        "abandoned": 1,
        "abandoned_in_time": 1,
        "unanswered": 1,
        "pending": 0,
        "lost": 0,
        "over_limit": 2,
        "rate_base": 3,
        "answer_rate": 0.5,
        # The caller who hung up after 4 s is not counted; the phone that rang out is.
        "within_limit_rate": 0.3333,
    }
    by_agent = {g["key"]: g for g in stats["groups"]}
    assert by_agent["li.na"]["offered"] == 2 and by_agent["li.na"]["abandoned"] == 1
    assert by_agent["wang.wei"]["answered_late"] == 1 and by_agent["wang.wei"]["unanswered"] == 1
    calls = await get(hotline, "/api/calls", lead)
    assert {c["sip_call_id"]: c["outcome"] for c in calls} == {
        "on-time": "answered",
        "late": "answered",
        "abandoned": "abandoned",
        "rang-out": "unanswered",
    }
    violations = await get(hotline, "/api/violations", lead)
    # One fault per leg: the phone that rang past the limit and then rang out is one row.
    assert sorted(v["kind"] for v in violations) == ["ring_limit", "ring_limit"]
    assert stats["total"]["over_limit"] == len(violations)


async def test_stats_group_by_hour_uses_local_time(hotline: Hotline, lead: dict[str, str]) -> None:
    p = Phone(hotline, "c")  # the fake clock starts 01:00 UTC = 09:00 Asia/Shanghai
    p.ring()
    p.after(1)
    p.answer()
    stats = await get(hotline, "/api/stats/answers?group_by=hour", lead)
    assert [g["key"] for g in stats["groups"]] == ["2026-11-23T09:00:00+08:00"]


async def test_agent_hanging_up_first_is_recorded(hotline: Hotline, lead: dict[str, str]) -> None:
    p = Phone(hotline, "call-4")
    p.ring()
    p.after(2)
    p.answer()
    p.after(10)
    p.hang_up("agent")
    (violation,) = await get(hotline, "/api/violations?agent=li.na", lead)
    assert violation["kind"] == "hung_up_first"
    (call,) = await get(hotline, "/api/calls", lead)
    assert call["hung_up_by"] == "agent"


async def test_agent_sees_only_own_calls_and_violations(
    hotline: Hotline, lead: dict[str, str]
) -> None:
    mine = Phone(hotline, "mine")
    mine.ring("2001")
    theirs = Phone(hotline, "theirs")
    theirs.ring("2002")
    hotline.clock.advance(16)  # both ring past the limit
    agent = await hotline.token("li.na.token", "agent")  # an agent with no phone sees nothing
    assert await get(hotline, "/api/calls", agent) == []
    response = await hotline.client.post(
        "/api/login", json={"name": "li.na", "password": "correct horse battery"}
    )
    assert response.status == 200
    calls = await get(hotline, "/api/calls", {})
    assert [c["sip_call_id"] for c in calls] == ["mine"]
    violations = await get(hotline, "/api/violations?agent=wang.wei", {})
    assert [v["agent"] for v in violations] == ["li.na"]


async def test_supervisor_sees_masked_resident_numbers(
    hotline: Hotline, lead: dict[str, str]
) -> None:
    Phone(hotline, "c").ring()
    boss = await hotline.token("boss", "supervisor")
    (call,) = await get(hotline, "/api/calls", boss)
    assert call["caller"] == "138****0001"
    (call,) = await get(hotline, "/api/calls", lead)
    assert call["caller"] == CALLER


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z", "to"),
        ("limit=0", "limit"),
        ("agent=nobody", "agent"),
        ("agent=li%00na", "agent"),  # PostgreSQL refuses a NUL in text: not a 503
    ],
)
async def test_bad_query_gets_400_naming_the_field(
    hotline: Hotline, lead: dict[str, str], query: str, field: str
) -> None:
    response = await hotline.client.get(f"/api/calls?{query}", headers=lead)
    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_bad_group_by_gets_400(hotline: Hotline, lead: dict[str, str]) -> None:
    response = await hotline.client.get("/api/stats/answers?group_by=station", headers=lead)
    assert response.status == 400
    assert (await response.json())["field"] == "group_by"


async def test_range_filters_calls_by_offer_time(hotline: Hotline, lead: dict[str, str]) -> None:
    Phone(hotline, "early")
    hotline.clock.advance(3600)
    Phone(hotline, "late")
    start = (hotline.clock.now() - timedelta(minutes=5)).isoformat()
    calls = await get(hotline, "/api/calls?from=" + start.replace("+00:00", "Z"), lead)
    assert [c["sip_call_id"] for c in calls] == ["late"]


async def test_pending_deadline_survives_a_restart(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    first = await hotline_factory(db_url, clock=clock)
    await first.add_user("li.na", "agent", "2001")
    p = Phone(first, "restart")
    p.ring()
    p.after(5)
    await first.svc.calls().settled()
    await first.client.close()  # the service stops 5 s into the ring

    second = await hotline_factory(db_url, clock=clock)
    headers = await second.token("lead", "team_lead")
    clock.advance(9.9)
    assert await get(second, "/api/violations", headers) == []
    clock.advance(0.2)
    (violation,) = await get(second, "/api/violations", headers)
    assert violation["kind"] == "ring_limit" and violation["agent"] == "li.na"
