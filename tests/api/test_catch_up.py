"""A standby taking over applies the signals it kept after the state it restored: each
deadline that fell between two of them fires between them, so the outcome is the live one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callcenter import signals as t
from callcenter.clock import FakeClock
from callcenter.events import RingLimitReached
from tests.api.test_calls_api import CALLER, get
from tests.conftest import Hotline, HotlineFactory

WINDOW = timedelta(seconds=60)


def signals(start: datetime, answered_after: float | None) -> list[t.SourceEvent]:
    """A call rung on 2001 at `start`, answered `answered_after` seconds later (or not)."""
    out: list[t.SourceEvent] = [
        t.CallOffered("hep", "kept", "ft", start, CALLER, "96069"),
        t.LegRinging("hep", "kept", "ft", "a", "2001", start),
    ]
    if answered_after is not None:
        at = start + timedelta(seconds=answered_after)
        out.append(t.LegAnswered("hep", "kept", "ft", "a", "2001", at))
    return out


async def caught_up(
    hotline: Hotline, answered_after: float | None, now_after: float
) -> tuple[list[RingLimitReached], list[Any]]:
    alerts: list[RingLimitReached] = []

    async def heard(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        alerts.append(event)

    hotline.svc.bus.subscribe(RingLimitReached, heard)
    lead = await hotline.token("lead", "team_lead")
    await hotline.add_user("li.na", "agent", "2001")
    start = hotline.clock.now()
    hotline.clock.advance(now_after)  # FakeClock: the takeover happens now
    hotline.svc.calls().catch_up(signals(start, answered_after), WINDOW)
    return alerts, await get(hotline, "/api/violations", lead)


async def test_a_phone_answered_after_its_deadline_gets_its_ring_limit_alert_late(
    hotline: Hotline,
) -> None:
    alerts, violations = await caught_up(hotline, answered_after=20, now_after=25)
    (alert,) = alerts
    assert alert.late and alert.deadline_at == alert.ring_started_at + timedelta(seconds=15)
    assert (alert.raised_at - alert.deadline_at).total_seconds() == 10.0  # its lateness
    (violation,) = violations
    assert violation["kind"] == "ring_limit" and "raised late" in violation["detail"]


async def test_a_phone_answered_before_its_deadline_raises_nothing(hotline: Hotline) -> None:
    alerts, violations = await caught_up(hotline, answered_after=10, now_after=25)
    assert alerts == [] and violations == []


async def test_a_phone_still_ringing_past_its_deadline_is_raised_at_once_late(
    hotline: Hotline,
) -> None:
    alerts, _ = await caught_up(hotline, answered_after=None, now_after=18)
    (alert,) = alerts
    assert alert.late and (alert.raised_at - alert.deadline_at).total_seconds() == 3.0


async def test_a_ring_kept_whose_deadline_is_ahead_is_raised_on_time(hotline: Hotline) -> None:
    alerts, _ = await caught_up(hotline, answered_after=None, now_after=4)
    assert alerts == []
    hotline.clock.advance(11)
    await hotline.svc.calls().settled()
    (alert,) = alerts
    assert not alert.late and alert.raised_at == alert.deadline_at


async def test_a_restored_phone_answered_in_the_gap_after_its_deadline_gets_the_alert(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    # The active saved the ring, then died; the standby heard the answer, 5 s after the
    # deadline, before it took over.
    clock = FakeClock()
    first = await hotline_factory(db_url, clock=clock)
    await first.add_user("li.na", "agent", "2001")
    start = clock.now()
    for event in signals(start, answered_after=None):
        first.svc.calls().handle(event)
    await first.svc.calls().settled()
    await first.client.close()
    clock.advance(25)
    second = await hotline_factory(db_url, clock=clock)
    alerts: list[RingLimitReached] = []

    async def heard(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        alerts.append(event)

    second.svc.bus.subscribe(RingLimitReached, heard)
    kept = signals(start, answered_after=20)[2:]  # the answer, in the standby's backlog
    second.svc.calls().catch_up(kept, WINDOW)
    lead = await second.token("lead", "team_lead")
    (violation,) = await get(second, "/api/violations", lead)
    assert violation["kind"] == "ring_limit"
    (alert,) = alerts
    assert alert.late and (alert.raised_at - alert.deadline_at).total_seconds() == 10.0
