"""The one clock through the real app with a fake clock on SQLite and PostgreSQL: four repair
tickets taken on calls at known times, sent to two stations, paused, repaired and called back;
the clock report's per-station and per-day nearest-rank percentiles equal the figures worked
out by hand below, and its ticket counts equal the daily report's; a ticket's timeline shows
each step, its deadline, whether it was met, and the pauses with their reasons."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callcenter.clock import FakeClock
from tests.api.test_callbacks_api import SATISFIED, due_list
from tests.api.test_calls_api import Phone
from tests.api.test_incidents_api import flat, get, open_incident
from tests.api.test_orders_api import dispatch, station_account
from tests.api.test_tickets_api import error, person, take
from tests.conftest import Hotline

DAY = "2026-11-23"  # the fake clock starts at 09:00 in Asia/Shanghai


class Script:
    """One ticket's story, each step at a fixed number of seconds after its call came in
    (and rang: the call rings the moment it arrives)."""

    def __init__(self, h: Hotline, name: str) -> None:
        self.h = h
        self.clock: FakeClock = h.clock  # type: ignore[assignment]
        self.start: datetime = self.clock.now()
        self.phone = Phone(h, name)
        self.phone.ring("2001")

    def at(self, seconds: float) -> None:
        target = self.start + timedelta(seconds=seconds)
        self.clock.advance((target - self.clock.now()).total_seconds())

    async def answered_and_taken(
        self, answer: float, taken: float, agent: dict[str, str], **fields: Any
    ) -> dict[str, Any]:
        self.at(answer)
        self.phone.answer("2001")
        await self.h.svc.calls().settled()
        self.at(taken)
        ticket = await take(self.h, agent, **fields)
        self.phone.hang_up()
        await self.h.svc.calls().settled()
        return ticket


async def step(h: Hotline, who: dict[str, str], order: str, action: str, **body: Any) -> None:
    response = await h.client.post(f"/api/orders/{order}/{action}", json=body, headers=who)
    assert response.status == 200, await response.text()


async def call_back(h: Hotline, agent: dict[str, str], ticket_id: str) -> None:
    (callback,) = [c for c in await due_list(h, agent) if c["ticket_id"] == ticket_id]
    made = await h.client.post(f"/api/callbacks/{callback['id']}", json=SATISFIED, headers=agent)
    assert made.status == 200, await made.text()


async def four_tickets(h: Hotline) -> dict[str, Any]:
    """A, B, D at xingfu, C at hongcheng; seconds after each call's first ring:

    A: answered 5, taken 60, dispatched 120, accepted 600, paused (call_later) 900–2700,
       contacted 3000, returned 7200, called back 10800 — net of its 1800 s pause:
       answer 5, dispatch 120, acknowledge 600, contact 1200, repair 5400, callback 9000.
    B: answered 12, taken 30, dispatched 60, accepted 1260, contacted 1860, returned 5460,
       called back 9060.
    C: answered 20 (late: the limit is 15 s), taken 50, dispatched 90, accepted 300,
       contacted 600, paused (not_home) 1200–4800, returned 9000 (net 5400); not called back.
    D: answered 3, taken 30, never dispatched.
    """
    agent = await person(h, "li.na", "agent", "2001", "007")
    xingfu = await station_account(h, "station.xingfu", "xingfu")
    hongcheng = await station_account(h, "station.hongcheng", "hongcheng")

    a = Script(h, "call-a")
    ticket_a = await a.answered_and_taken(5, 60, agent)
    a.at(120)
    order_a = (await dispatch(h, agent, ticket_a["id"]))["id"]
    a.at(600)
    await step(h, xingfu, order_a, "accept")
    a.at(900)
    await step(h, xingfu, order_a, "pause", reason="call_later", note="住户下午三点后在家")
    a.at(2700)
    await step(h, xingfu, order_a, "resume")
    a.at(3000)
    await step(h, xingfu, order_a, "contact", repairman="王师傅")
    a.at(7200)
    await step(h, xingfu, order_a, "return", result="更换阀门")
    a.at(10800)
    await call_back(h, agent, ticket_a["id"])

    b = Script(h, "call-b")
    ticket_b = await b.answered_and_taken(12, 30, agent)
    b.at(60)
    order_b = (await dispatch(h, agent, ticket_b["id"]))["id"]
    b.at(1260)
    await step(h, xingfu, order_b, "accept")
    b.at(1860)
    await step(h, xingfu, order_b, "contact")
    b.at(5460)
    await step(h, xingfu, order_b, "return", result="放气")
    b.at(9060)
    await call_back(h, agent, ticket_b["id"])

    c = Script(h, "call-c")
    ticket_c = await c.answered_and_taken(20, 50, agent, station="hongcheng")
    c.at(90)
    order_c = (await dispatch(h, agent, ticket_c["id"]))["id"]
    c.at(300)
    await step(h, hongcheng, order_c, "accept")
    c.at(600)
    await step(h, hongcheng, order_c, "contact")
    c.at(1200)
    await step(h, hongcheng, order_c, "pause", reason="not_home")
    c.at(4800)
    await step(h, hongcheng, order_c, "resume")
    c.at(9000)
    await step(h, hongcheng, order_c, "return", result="修好")

    d = Script(h, "call-d")
    await d.answered_and_taken(3, 30, agent)
    return {"agent": agent, "a": ticket_a, "c": ticket_c, "order_a": order_a}


def stats(count: int, p50: float, p90: float, p99: float, most: float) -> dict[str, Any]:
    return {"count": count, "p50": p50, "p90": p90, "p99": p99, "max": most}


NONE = {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}

# Nearest rank: of n values, p50 is the ⌈n/2⌉-th, p90 the ⌈0.9 n⌉-th, p99 the ⌈0.99 n⌉-th.
XINGFU = {  # A, B, D
    "tickets": 3,
    "without_call": 0,
    "to_answer": stats(3, 5.0, 12.0, 12.0, 12.0),  # 3, 5, 12: ranks 2, 3, 3
    "to_dispatch": stats(2, 60.0, 120.0, 120.0, 120.0),  # 60, 120: ranks 1, 2, 2
    "to_acknowledge": stats(2, 600.0, 1260.0, 1260.0, 1260.0),
    "to_contact": stats(2, 1200.0, 1860.0, 1860.0, 1860.0),
    "to_repair": stats(2, 5400.0, 5460.0, 5460.0, 5460.0),
    "to_callback": stats(2, 9000.0, 9060.0, 9060.0, 9060.0),
}
HONGCHENG = {  # C
    "tickets": 1,
    "without_call": 0,
    "to_answer": stats(1, 20.0, 20.0, 20.0, 20.0),
    "to_dispatch": stats(1, 90.0, 90.0, 90.0, 90.0),
    "to_acknowledge": stats(1, 300.0, 300.0, 300.0, 300.0),
    "to_contact": stats(1, 600.0, 600.0, 600.0, 600.0),
    "to_repair": stats(1, 5400.0, 5400.0, 5400.0, 5400.0),
    "to_callback": NONE,
}
EVERY_STATION = {
    "tickets": 4,
    "without_call": 0,
    "to_answer": stats(4, 5.0, 20.0, 20.0, 20.0),  # 3, 5, 12, 20: ranks 2, 4, 4
    "to_dispatch": stats(3, 90.0, 120.0, 120.0, 120.0),  # 60, 90, 120: ranks 2, 3, 3
    "to_acknowledge": stats(3, 600.0, 1260.0, 1260.0, 1260.0),  # 300, 600, 1260
    "to_contact": stats(3, 1200.0, 1860.0, 1860.0, 1860.0),  # 600, 1200, 1860
    "to_repair": stats(3, 5400.0, 5460.0, 5460.0, 5460.0),  # 5400, 5400, 5460
    "to_callback": stats(2, 9000.0, 9060.0, 9060.0, 9060.0),
}


def row(body: dict[str, Any], day: str | None, station: str | None) -> dict[str, Any]:
    (found,) = [r for r in body["rows"] if r["date"] == day and r["station"] == station]
    return {k: v for k, v in found.items() if k not in ("date", "station")}


async def test_the_percentiles_per_station_and_day_equal_those_worked_by_hand(
    hotline: Hotline,
) -> None:
    await four_tickets(hotline)
    lead = await person(hotline, "lead", "team_lead")

    got = await hotline.client.get(f"/api/reports/clock?from={DAY}&to={DAY}", headers=lead)
    assert got.status == 200, await got.text()
    body = await got.json()
    assert (body["method"], body["unit"], body["timezone"]) == (
        "nearest-rank",
        "seconds",
        "Asia/Shanghai",
    )
    assert [(r["date"], r["station"]) for r in body["rows"]] == [
        (DAY, None),
        (DAY, "hongcheng"),
        (DAY, "xingfu"),
        (None, None),
        (None, "hongcheng"),
        (None, "xingfu"),
    ]
    assert row(body, DAY, "xingfu") == XINGFU
    assert row(body, DAY, "hongcheng") == HONGCHENG
    assert row(body, DAY, None) == EVERY_STATION
    assert row(body, None, None) == EVERY_STATION  # a one-day period

    # The tickets counted are the daily report's 今日报修, station by station.
    daily = await (await hotline.client.get(f"/api/reports/daily?date={DAY}", headers=lead)).json()
    reports = {r["code"]: r["reports"] for r in daily["stations"] if r["reports"]}
    assert reports == {"xingfu": 3, "hongcheng": 1}

    one = await hotline.client.get(
        f"/api/reports/clock?from={DAY}&to={DAY}&station=hongcheng", headers=lead
    )
    assert row(await one.json(), DAY, "hongcheng") == HONGCHENG
    csv = await hotline.client.get(
        f"/api/reports/clock?from={DAY}&to={DAY}&format=csv", headers=lead
    )
    lines = (await csv.text()).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("date,station,tickets,without_call,to_answer_count,to_answer_p50")
    assert lines[3] == (
        f"{DAY},xingfu,3,0,3,5.0,12.0,12.0,12.0,2,60.0,120.0,120.0,120.0,"
        "2,600.0,1260.0,1260.0,1260.0,2,1200.0,1860.0,1860.0,1860.0,"
        "2,5400.0,5460.0,5460.0,5460.0,2,9000.0,9060.0,9060.0,9060.0"
    )


async def test_a_tickets_timeline_shows_each_step_its_deadline_and_the_pauses(
    hotline: Hotline,
) -> None:
    story = await four_tickets(hotline)
    agent = story["agent"]
    got = await hotline.client.get(f"/api/tickets/{story['a']['id']}/clock", headers=agent)
    assert got.status == 200, await got.text()
    clock = await got.json()
    assert [(s["step"], s["met"]) for s in clock["steps"]] == [
        ("rang", None),
        ("answered", True),
        ("ticket", None),
    ]
    (first,) = clock["rounds"]
    assert [(s["step"], s["met"], s["late_seconds"]) for s in first["steps"]] == [
        ("dispatched", True, None),
        ("acknowledged", True, None),
        ("contacted", True, None),
        ("repaired", True, None),
        ("called_back", True, None),
    ]
    (pause,) = first["pauses"]
    assert (pause["reason"], pause["note"], pause["seconds"]) == (
        "call_later",
        "住户下午三点后在家",
        1800.0,
    )
    assert clock["figures"] == {
        "to_answer": 5.0,
        "to_dispatch": 120.0,
        "to_acknowledge": 600.0,
        "to_contact": 1200.0,
        "to_repair": 5400.0,
        "to_callback": 9000.0,
        "paused_seconds": 1800.0,
    }
    late = await hotline.client.get(f"/api/tickets/{story['c']['id']}/clock", headers=agent)
    answered = (await late.json())["steps"][1]
    assert (answered["met"], answered["late_seconds"]) == (False, 5.0)


async def test_the_clock_report_refuses_what_it_cannot_answer(hotline: Hotline) -> None:
    lead = await person(hotline, "lead", "team_lead")
    agent = await person(hotline, "li.na", "agent", "2001", "007")

    async def refused(query: str, status: int = 400) -> dict[str, Any]:
        return await error(
            await hotline.client.get(f"/api/reports/clock?{query}", headers=lead), status
        )

    assert (await refused("to=2026-11-23"))["field"] == "from"
    assert (await refused("from=2026-11-23&to=23.11.2026"))["error"] == "bad-date"
    assert (await refused("from=0001-01-01&to=0001-01-01"))["error"] == "bad-date"
    assert (await refused("from=2026-11-23&to=2026-11-22"))["error"] == "bad-range"
    assert (await refused("from=2026-10-01&to=2026-11-23"))["error"] == "range-too-large"
    assert (await refused("from=2026-12-01&to=2026-12-02"))["error"] == "future-period"
    assert (await refused(f"from={DAY}&to={DAY}&station=mars"))["field"] == "station"
    assert (await refused(f"from={DAY}&to={DAY}&format=pdf"))["field"] == "format"
    agents_may_not = await hotline.client.get(
        f"/api/reports/clock?from={DAY}&to={DAY}", headers=agent
    )
    assert agents_may_not.status == 403
    missing = await hotline.client.get("/api/tickets/nope/clock", headers=agent)
    assert (await error(missing, 404))["error"] == "no-such-ticket"


async def test_a_household_in_an_incident_is_timed_by_the_incidents_one_order(
    hotline: Hotline,
) -> None:
    """The incident's order is sent when it opens, 120 s before the first household rings:
    each household's clock runs from its own first ring through that one order (a step done
    before it rang counts 0 s) to its own callback.

    first  (rings at 0):   answered 5, taken 40;  accepted 600, contacted 1200, repaired
           3600, called back 7200.
    second (rings at 900): answered 10, taken 50; so accepted -, contacted 300, repaired
           2700, called back 6300.
    """
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    head = await person(hotline, "boss", "supervisor")
    station = await station_account(hotline, "station.dongxing", "dongxing")
    incident = await open_incident(hotline, head)
    order = (await get(hotline, head, f"/api/incidents/{incident['id']}"))["order"]
    hotline.clock.advance(120)  # type: ignore[attr-defined]

    first = Script(hotline, "h1")
    one = await first.answered_and_taken(5, 40, agent, **flat(1))
    first.at(600)
    await step(hotline, station, order["id"], "accept")
    first.at(900)
    second = Script(hotline, "h2")
    two = await second.answered_and_taken(10, 50, agent, **flat(2))
    assert one["incident"] == two["incident"] == incident["id"]
    first.at(1200)
    await step(hotline, station, order["id"], "contact")
    first.at(3600)
    closed = await hotline.client.post(
        f"/api/incidents/{incident['id']}/close", json={"note": "更换阀门"}, headers=head
    )
    assert closed.status == 200, await closed.text()
    first.at(7200)
    await call_back(hotline, agent, one["id"])
    await call_back(hotline, agent, two["id"])

    clock = await get(hotline, agent, f"/api/tickets/{one['id']}/clock")
    assert clock["incident_id"] == incident["id"]
    (only,) = clock["rounds"]
    assert (only["order_id"], only["station"]) == (order["id"], "dongxing")
    assert [(s["step"], s["met"]) for s in only["steps"]] == [
        ("dispatched", True),
        ("acknowledged", True),
        ("contacted", True),
        ("repaired", True),
        ("called_back", True),
    ]
    assert clock["figures"] == {
        "to_answer": 5.0,
        "to_dispatch": 0.0,
        "to_acknowledge": 600.0,
        "to_contact": 1200.0,
        "to_repair": 3600.0,
        "to_callback": 7200.0,
        "paused_seconds": 0.0,
    }
    later = await get(hotline, agent, f"/api/tickets/{two['id']}/clock")
    assert later["figures"] == {
        "to_answer": 10.0,
        "to_dispatch": 0.0,
        "to_acknowledge": 0.0,
        "to_contact": 300.0,
        "to_repair": 2700.0,
        "to_callback": 6300.0,
        "paused_seconds": 0.0,
    }

    report = await get(hotline, head, f"/api/reports/clock?from={DAY}&to={DAY}")
    dongxing = row(report, DAY, "dongxing")
    # the two households (the incident's own ticket is no report of its own)
    assert dongxing["tickets"] == 2
    assert dongxing["to_repair"] == stats(2, 2700.0, 3600.0, 3600.0, 3600.0)


async def test_a_report_sent_on_its_own_before_the_incident_is_timed_by_the_incident(
    hotline: Hotline,
) -> None:
    """A household's report dispatched alone, then taken over by an incident opened an hour
    later (its own order recalled): its clock goes on through the incident's order."""
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    head = await person(hotline, "boss", "supervisor")
    early = await take(hotline, agent, **flat(4))
    own = await dispatch(hotline, agent, early["id"])
    hotline.clock.advance(3600)  # type: ignore[attr-defined]
    incident = await open_incident(hotline, head, started_at="2026-11-23T00:00:00Z")
    hotline.clock.advance(3600)  # type: ignore[attr-defined]
    closed = await hotline.client.post(
        f"/api/incidents/{incident['id']}/close", json={"note": "更换阀门"}, headers=head
    )
    assert closed.status == 200, await closed.text()
    order = (await closed.json())["order"]

    clock = await get(hotline, agent, f"/api/tickets/{early['id']}/clock")
    assert [(r["order_id"], r["status"]) for r in clock["rounds"]] == [
        (own["id"], "recalled"),
        (order["id"], "returned"),
    ]
    assert clock["measured_order"] == order["id"]
    # no call: the figures have no first ring to count from, but the repair is the incident's
    assert clock["rounds"][1]["steps"][3]["step"] == "repaired"
    assert clock["rounds"][1]["steps"][3]["met"] is True
