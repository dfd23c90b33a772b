"""The writer never stops and never loses calls silently: replayed INVITEs of closed calls,
a row the database refuses, a database locked at shutdown, bounded memory and fields."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from callcenter import signals as t
from callcenter.calls.intake import ClosedCalls
from callcenter.clock import FakeClock
from tests.api.test_calls_api import Phone, get
from tests.conftest import Hotline, HotlineFactory


def answered_call(h: Hotline, call_id: str) -> Phone:
    p = Phone(h, call_id)
    p.ring()
    p.after(2)
    p.answer()
    p.after(5)
    p.hang_up()
    return p


async def sip_call_ids(h: Hotline, headers: dict[str, str]) -> list[str]:
    return sorted(c["sip_call_id"] for c in await get(h, "/api/calls", headers))


async def test_invite_of_a_closed_and_forgotten_call_does_not_open_it_again(
    hotline: Hotline,
) -> None:
    lead = await hotline.token("lead", "team_lead")
    answered_call(hotline, "done")
    tracker = hotline.svc.calls()
    await tracker.settled()
    hotline.clock.advance(120)
    tracker.sweep()  # closed, saved, and now out of memory
    Phone(hotline, "done")  # a late retransmission of its INVITE
    answered_call(hotline, "next")
    assert await sip_call_ids(hotline, lead) == ["done", "next"]
    assert tracker.refused["late_for_closed_call"] == 1
    assert tracker.flush_failures == 0


async def test_a_row_the_database_refuses_is_parked_and_the_rest_is_saved(
    hotline: Hotline,
) -> None:
    lead = await hotline.token("lead", "team_lead")
    tracker = hotline.svc.calls()
    tracker.closed = ClosedCalls(size=0)  # no memory of closed calls: the store must cope
    answered_call(hotline, "dup")
    await tracker.settled()
    hotline.clock.advance(120)
    tracker.sweep()
    Phone(hotline, "dup")  # same (source, Call-ID, tag) as a stored call: a unique clash
    answered_call(hotline, "a")
    answered_call(hotline, "b")
    await tracker.settled()
    assert await sip_call_ids(hotline, lead) == ["a", "b", "dup"]
    assert sum(tracker.writer.stats.parked.values()) == 1
    parked = (tracker.writer.spill_dir / "parked.jsonl").read_text().splitlines()
    assert len(parked) == 1 and json.loads(parked[0])["call"]["sip_call_id"] == "dup"
    answered_call(hotline, "c")  # the writer goes on
    assert "c" in await sip_call_ids(hotline, lead)
    health = await (await hotline.client.get("/api/health", headers=lead)).json()
    assert health["calls"]["parked"] == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_calls_unsaved_at_shutdown_are_spilled_and_saved_by_the_next_start(
    hotline_factory: HotlineFactory, db_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    spill = tmp_path / "spill"
    sections = {"database": {"spill_dir": str(spill), "shutdown_flush_seconds": 0.5}}
    first = await hotline_factory(db_url, clock=clock, **sections)
    await first.add_user("li.na", "agent", "2001")
    tracker = first.svc.calls()
    await tracker.settled()
    locker = sqlite3.connect(db_url.split("///", 1)[1], timeout=0)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        for i in range(4):
            answered_call(first, f"locked-{i}")
        await first.client.close()  # shutdown while the database is locked
    finally:
        locker.rollback()
        locker.close()
    files = list(spill.glob("calls-*.json"))
    assert len(files) == 1
    assert len(json.loads(files[0].read_text())["units"]) == 4

    second = await hotline_factory(db_url, clock=clock, **sections)
    lead = await second.token("lead", "team_lead")
    assert await sip_call_ids(second, lead) == [f"locked-{i}" for i in range(4)]
    assert not list(spill.glob("calls-*.json"))  # replayed once, then removed


async def test_open_calls_in_memory_are_bounded(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_factory(db_url, sip={"max_open_calls": 100})
    lead = await h.token("lead", "team_lead")
    tracker = h.svc.calls()
    for i in range(300):
        tracker.handle(t.CallOffered("hep", f"flood-{i}", "ft", h.clock.now(), "1380000", "96069"))
    assert len(tracker.calls) <= 101
    assert tracker.refused["evicted_open_call"] >= 199
    calls = await get(h, "/api/calls?limit=1000", lead)
    assert len(calls) == 300
    assert sum(c["outcome"] == "lost" for c in calls) >= 199


async def test_one_call_forked_to_thousands_of_phones_raises_a_bounded_number_of_alerts(
    hotline: Hotline,
) -> None:
    lead = await hotline.token("lead", "team_lead")
    p = Phone(hotline, "fork")
    for i in range(500):
        p.ring(ext=f"9{i:03d}", leg=f"tag-{i}")
    p.after(16)
    violations = await get(hotline, "/api/violations?limit=1000", lead)
    assert len(violations) == 32  # sip.max_legs_per_call
    assert hotline.svc.calls().refused["too_many_legs"] == 468


async def test_long_fields_are_cut_and_far_timestamps_replaced(hotline: Hotline) -> None:
    lead = await hotline.token("lead", "team_lead")
    tracker = hotline.svc.calls()
    huge = "x" * 60_000
    future = hotline.clock.now().replace(year=2106)
    tracker.handle(t.CallOffered("hep", huge, "ft", future, "1" * 500, "96069"))
    tracker.handle(t.CallOffered("hep", huge + "y", "ft", hotline.clock.now(), "138", "96069"))
    (one, two) = await get(hotline, "/api/calls", lead)
    assert {len(one["sip_call_id"]), len(two["sip_call_id"])} == {255}
    assert one["sip_call_id"] != two["sip_call_id"]  # still two calls
    assert max(one["offered_at"], two["offered_at"]) < "2027"
    assert tracker.refused["field_truncated"] == 2 and tracker.refused["clock_skew"] == 1
