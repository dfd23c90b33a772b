"""What the within-limit rate counts, one fault per leg, paging, the live feed's privacy, and
what a restart leaves behind — through the real app and tracker with a fake clock."""

from __future__ import annotations

from typing import Any

from callcenter.clock import FakeClock, iso_z
from tests.api.test_calls_api import CALLER, Phone, get
from tests.conftest import Hotline, HotlineFactory


async def lead_of(hotline: Hotline) -> dict[str, str]:
    await hotline.add_user("li.na", "agent", "2001")
    await hotline.add_user("wang.wei", "agent", "2002")
    return await hotline.token("lead", "team_lead")


async def test_caller_who_gave_up_after_the_limit_counts_against_the_rate(
    hotline: Hotline,
) -> None:
    lead = await lead_of(hotline)
    on_time = Phone(hotline, "on-time")
    on_time.ring()
    on_time.after(2)
    on_time.answer()
    gave_up = Phone(hotline, "gave-up")
    gave_up.ring("2002")
    gave_up.after(25)  # rang past the 15 s limit, then the resident hung up
    gave_up.abandon()
    total = (await get(hotline, "/api/stats/answers", lead))["total"]
    assert total["abandoned"] == 1 and total["abandoned_in_time"] == 0
    assert total["rate_base"] == 2 and total["within_limit_rate"] == 0.5


async def test_caller_who_hung_up_before_the_limit_is_not_counted(hotline: Hotline) -> None:
    lead = await lead_of(hotline)
    quick = Phone(hotline, "quick")
    quick.ring()
    quick.after(6)
    quick.abandon()
    never_rang = Phone(hotline, "ivr")  # hung up before any phone rang
    never_rang.after(3)
    never_rang.abandon()
    answered = Phone(hotline, "answered")
    answered.ring()
    answered.after(1)
    answered.answer()
    body = await get(hotline, "/api/stats/answers", lead)
    total = body["total"]
    assert total["offered"] == 3 and total["abandoned_in_time"] == 2
    assert total["rate_base"] == 1 and total["within_limit_rate"] == 1.0
    assert "abandoned_in_time" in body["definition"] and body["timezone"] == "Asia/Shanghai"


async def test_call_still_ringing_inside_the_limit_has_no_verdict_yet(hotline: Hotline) -> None:
    lead = await lead_of(hotline)
    Phone(hotline, "ringing").ring()
    total = (await get(hotline, "/api/stats/answers", lead))["total"]
    assert total["pending"] == 1 and total["rate_base"] == 0
    assert total["within_limit_rate"] is None
    hotline.clock.advance(16)  # now it rang past the limit: a failure, whatever comes next
    total = (await get(hotline, "/api/stats/answers", lead))["total"]
    assert total["pending"] == 0 and total["rate_base"] == 1
    assert total["within_limit_rate"] == 0.0 and total["over_limit"] == 1


async def test_phone_ringing_past_the_limit_then_ringing_out_is_one_violation(
    hotline: Hotline,
) -> None:
    lead = await lead_of(hotline)
    p = Phone(hotline, "one-fault")
    p.ring()
    p.after(20)
    p.ring_out()
    (violation,) = await get(hotline, "/api/violations", lead)
    assert violation["kind"] == "ring_limit"
    assert violation["leg_outcome"] == "unanswered" and violation["leg_end_cause"] == "cancelled"
    total = (await get(hotline, "/api/stats/answers", lead))["total"]
    assert total["over_limit"] == 1 and total["unanswered"] == 1


async def test_ringing_out_inside_the_limit_is_still_rang_out(hotline: Hotline) -> None:
    lead = await lead_of(hotline)
    p = Phone(hotline, "short")
    p.ring()
    p.after(10)
    p.ring_out()
    (violation,) = await get(hotline, "/api/violations", lead)
    assert violation["kind"] == "rang_out" and violation["leg_outcome"] == "unanswered"


async def test_calls_and_violations_page_newest_first_with_a_cursor(hotline: Hotline) -> None:
    lead = await lead_of(hotline)
    for i in range(5):
        p = Phone(hotline, f"c{i}")
        p.ring()
        p.after(16)  # each rings past the limit: one violation each
    await hotline.svc.calls().settled()
    for path, key in (("/api/calls", "sip_call_id"), ("/api/violations", "call_id")):
        seen: list[Any] = []
        url: str | None = f"{path}?limit=2"
        pages = 0
        while url is not None:
            response = await hotline.client.get(url, headers=lead)
            assert response.status == 200
            seen += await response.json()
            pages += 1
            link = response.headers.get("Link")
            url = link[link.index("<") + 1 : link.index(">")] if link else None
        assert len(seen) == 5 and pages == 3, path
        assert len({row[key] for row in seen}) == 5
        times = [row["offered_at" if path == "/api/calls" else "occurred_at"] for row in seen]
        assert times == sorted(times, reverse=True)
    calls = await get(hotline, "/api/calls", lead)
    assert [c["sip_call_id"] for c in calls] == ["c4", "c3", "c2", "c1", "c0"]


async def test_a_cursor_that_was_not_given_out_is_a_400(hotline: Hotline) -> None:
    lead = await lead_of(hotline)
    response = await hotline.client.get("/api/calls?cursor=not-a-cursor", headers=lead)
    assert response.status == 400 and (await response.json())["field"] == "cursor"


async def snapshot(hotline: Hotline, headers: dict[str, str]) -> dict[str, Any]:
    await hotline.svc.calls().settled()
    ws = await hotline.client.ws_connect("/api/live", headers=headers)
    try:
        first: dict[str, Any] = await ws.receive_json(timeout=5)
    finally:
        await ws.close()
    return first


async def test_agent_sees_colleagues_ringing_phones_masked_and_own_in_full(
    hotline: Hotline,
) -> None:
    await lead_of(hotline)
    agent = await hotline.token("zhao.min", "agent", "2003")
    Phone(hotline, "theirs", caller="13900000002").ring("2002")
    Phone(hotline, "mine").ring("2003")
    first = await snapshot(hotline, agent)
    callers = {r["extension"]: r["caller"] for r in first["ringing"]}
    assert callers == {"2002": "139****0002", "2003": CALLER}
    assert first["timezone"] == "Asia/Shanghai"


async def test_full_number_roles_is_a_setting(hotline_factory: HotlineFactory, db_url: str) -> None:
    h = await hotline_factory(db_url, privacy={"full_number_roles": ["supervisor"]})
    boss = await h.token("boss", "supervisor")
    Phone(h, "c").ring()
    (call,) = await get(h, "/api/calls", boss)
    assert call["caller"] == CALLER
    assert (await snapshot(h, boss))["ringing"][0]["caller"] == CALLER


async def restarted(
    hotline_factory: HotlineFactory, db_url: str, clock: FakeClock, ring_for: float
) -> Hotline:
    """A phone rings `ring_for` seconds, the service stops, and starts again."""
    first = await hotline_factory(db_url, clock=clock)
    await first.add_user("li.na", "agent", "2001")
    p = Phone(first, "open")
    p.ring()
    p.after(ring_for)
    await first.svc.calls().settled()
    await first.client.close()
    return await hotline_factory(db_url, clock=clock)


async def test_phone_ringing_at_a_restart_shows_unknown_not_ticking(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    second = await restarted(hotline_factory, db_url, clock, ring_for=5)
    lead = await second.token("lead", "team_lead")
    restarted_at = iso_z(clock.now())
    clock.advance(30)
    (leg,) = (await snapshot(second, lead))["ringing"]
    assert leg["state"] == "unknown" and leg["unknown_since"] == restarted_at


async def test_resumed_leg_is_matched_when_its_call_is_heard_of_again(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    second = await restarted(hotline_factory, db_url, clock, ring_for=5)
    lead = await second.token("lead", "team_lead")
    clock.advance(3)
    p = Phone(second, "open")  # a repeated offer changes nothing: the same call resumes
    p.answer()
    (call,) = await get(second, "/api/calls", lead)
    assert call["outcome"] == "answered" and call["ring_seconds"] == 8.0
    assert (await snapshot(second, lead))["ringing"] == []


async def test_resumed_leg_never_heard_of_again_is_closed_as_lost_without_blame(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    second = await restarted(hotline_factory, db_url, clock, ring_for=5)
    lead = await second.token("lead", "team_lead")
    violations_before = await get(second, "/api/violations", lead)
    clock.advance(180)  # max_ring_seconds (default 180) after the ring started
    second.svc.calls().sweep()
    (call,) = await get(second, "/api/calls", lead)
    assert call["outcome"] == "lost" and call["legs"][0]["outcome"] == "lost"
    kinds = [v["kind"] for v in await get(second, "/api/violations", lead)]
    assert "rang_out" not in kinds and len(kinds) == len(violations_before) + 1  # ring_limit
    total = (await get(second, "/api/stats/answers", lead))["total"]
    assert total["lost"] == 1 and total["offered"] == 0 and total["within_limit_rate"] is None
    assert (await snapshot(second, lead))["ringing"] == []


async def test_deadline_that_fell_while_down_is_raised_once_at_start_marked_late(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    first = await hotline_factory(db_url, clock=clock)
    await first.add_user("li.na", "agent", "2001")
    Phone(first, "open").ring()
    clock.advance(5)
    await first.svc.calls().settled()
    await first.client.close()
    clock.advance(55)  # down for the deadline at 15 s
    second = await hotline_factory(db_url, clock=clock)
    lead = await second.token("lead", "team_lead")
    clock.advance(0)
    (violation,) = await get(second, "/api/violations", lead)
    assert violation["kind"] == "ring_limit" and "raised late" in violation["detail"]
    await second.client.close()
    third = await hotline_factory(db_url, clock=clock)
    headers = await third.token("lead2", "team_lead")
    assert len(await get(third, "/api/violations", headers)) == 1  # not raised twice
