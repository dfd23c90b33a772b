"""A station's late step raises its anomaly at the deadline, exactly once, through the real app
with a fake clock on SQLite and PostgreSQL: not before, not when the step was in time, not
again after a restart; a deadline that passed while the service was down is raised at start;
the department head sees it live and on MQTT; an unreported one is recorded (漏报)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import ClientWebSocketResponse

from callcenter.anomalies.model import AnomalyRaised
from callcenter.clock import FakeClock, iso_z
from tests.api.test_orders_api import dispatch, station_account
from tests.api.test_tickets_api import error, person, take
from tests.conftest import Hotline, HotlineFactory

MINUTE = 60.0
# The flat as typed and as stored ("502" alone also turns up in ids and timestamps).
RESIDENT = ("张秀英", "13800000001", "幸福", "单元502", "卧室", "不热")


def advance(h: Hotline, seconds: float) -> None:
    assert isinstance(h.clock, FakeClock)
    h.clock.advance(seconds)


async def anomalies(h: Hotline, who: dict[str, str], **query: str) -> list[dict[str, Any]]:
    assert h.svc.deadlines is not None
    await h.svc.deadlines.settled()
    response = await h.client.get("/api/anomalies", params=query, headers=who)
    assert response.status == 200, await response.text()
    body: list[dict[str, Any]] = await response.json()
    return body


def kinds(rows: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return sorted((r["kind"], r["order_id"]) for r in rows)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def desk(h: Hotline) -> tuple[dict[str, str], dict[str, str]]:
    """An agent who took a repair ticket, and the department head (qa_lead)."""
    agent = await person(h, "li.na", "agent", "2001", "007")
    head = await person(h, "boss", "qa_lead")
    return agent, head


async def test_late_acceptance_raises_accept_late_at_the_deadline_once(hotline: Hotline) -> None:
    agent, head = await desk(hotline)
    order = await dispatch(hotline, agent, (await take(hotline, agent))["id"])

    advance(hotline, 30 * MINUTE - 1)
    assert await anomalies(hotline, head) == []
    advance(hotline, 1)
    (late,) = await anomalies(hotline, head)
    assert (late["kind"], late["number"], late["source"]) == ("accept_late", 1, "service")
    assert late["occurred_at"] == late["raised_at"] == order["due"]["accept"]
    assert (late["order_id"], late["station"], late["agent"]) == (order["id"], "xingfu", "li.na")
    # The agent reports it to the department head within [orders] report_within_minutes.
    assert at(late["report_due"]) == at(order["due"]["accept"]) + timedelta(minutes=30)

    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    await hotline.client.post(f"/api/orders/{order['id']}/accept", headers=xingfu)
    advance(hotline, 5 * MINUTE)
    assert kinds(await anomalies(hotline, head)) == [("accept_late", order["id"])]


async def test_an_order_accepted_in_time_raises_nothing(hotline: Hotline) -> None:
    agent, head = await desk(hotline)
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    order = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    advance(hotline, 30 * MINUTE - 1)
    await hotline.client.post(f"/api/orders/{order['id']}/accept", headers=xingfu)
    advance(hotline, 10 * MINUTE)
    assert await anomalies(hotline, head) == []


async def test_contact_and_repair_deadlines_raise_their_own_kinds(hotline: Hotline) -> None:
    agent, head = await desk(hotline)
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    on_time = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    never = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    base = f"/api/orders/{on_time['id']}"
    await hotline.client.post(f"{base}/accept", headers=xingfu)
    advance(hotline, 61 * MINUTE)  # contacted a minute late
    await hotline.client.post(f"{base}/contact", headers=xingfu)
    advance(hotline, 60 * MINUTE)
    await hotline.client.post(f"{base}/return", json={"result": "已修好"}, headers=xingfu)
    advance(hotline, 4 * 60 * MINUTE)
    assert kinds(await anomalies(hotline, head)) == sorted(
        [
            ("contact_late", on_time["id"]),
            ("accept_late", never["id"]),
            ("contact_late", never["id"]),
            ("repair_late", never["id"]),
        ]
    )
    repairs = await anomalies(hotline, head, kind="repair_late")
    assert [r["occurred_at"] for r in repairs] == [never["due"]["repair"]]


async def test_a_refused_or_recalled_order_stops_its_deadlines(hotline: Hotline) -> None:
    agent, head = await desk(hotline)
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    refused = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    recalled = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    advance(hotline, 10 * MINUTE)
    await hotline.client.post(
        f"/api/orders/{refused['id']}/refuse", json={"reason": "不归本站"}, headers=xingfu
    )
    await hotline.client.post(
        f"/api/orders/{recalled['id']}/recall", json={"reason": "住户已修好"}, headers=agent
    )
    advance(hotline, 5 * 60 * MINUTE)
    assert await anomalies(hotline, head) == []
    assert hotline.svc.deadlines is not None and hotline.svc.deadlines.pending == 0


async def test_a_restart_raises_what_fell_due_while_down_once_and_rearms_the_rest(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    first = await hotline_factory(db_url, clock=clock)
    agent, head = await desk(first)
    early = await dispatch(first, agent, (await take(first, agent))["id"])
    clock.advance(20 * MINUTE)
    later = await dispatch(first, agent, (await take(first, agent))["id"])
    clock.advance(11 * MINUTE)  # early's acceptance is 1 minute late
    assert kinds(await anomalies(first, head)) == [("accept_late", early["id"])]
    await first.client.close()

    clock.advance(24 * MINUTE)  # down while later's acceptance falls due (at +50 min)
    started = clock.now()
    second = await hotline_factory(db_url, clock=clock)
    rows = await anomalies(second, head)
    assert kinds(rows) == sorted([("accept_late", early["id"]), ("accept_late", later["id"])])
    (caught_up,) = [r for r in rows if r["order_id"] == later["id"]]
    assert caught_up["occurred_at"] == later["due"]["accept"]
    assert caught_up["raised_at"] == iso_z(started)
    # Nobody is fined for the service's downtime: the report is due from when it was raised.
    assert at(caught_up["report_due"]) == started + timedelta(minutes=30)

    clock.advance(5 * MINUTE)  # early's contact deadline (+60 min) was re-armed
    rows = await anomalies(second, head)
    assert kinds(rows) == sorted(
        [
            ("accept_late", early["id"]),
            ("accept_late", later["id"]),
            ("contact_late", early["id"]),
        ]
    )
    # early's accept_late was due to be reported at +61 min: that timer was re-armed too.
    clock.advance(1 * MINUTE)
    (missed,) = [r for r in await anomalies(second, head) if r["unreported_at"]]
    assert (missed["kind"], missed["order_id"]) == ("accept_late", early["id"])

    await second.client.close()
    third = await hotline_factory(db_url, clock=clock)
    assert len(await anomalies(third, head)) == 3


async def test_two_instances_on_one_database_raise_it_once(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    first = await hotline_factory(db_url, clock=clock)
    agent, head = await desk(first)
    order = await dispatch(first, agent, (await take(first, agent))["id"])
    second = await hotline_factory(db_url, clock=clock)  # arms the same deadlines on start
    told: list[object] = []

    async def heard(event: object) -> None:
        told.append(event)

    for h in (first, second):
        h.svc.bus.subscribe(AnomalyRaised, heard)
    clock.advance(30 * MINUTE)
    assert second.svc.deadlines is not None
    await second.svc.deadlines.settled()
    assert kinds(await anomalies(first, head)) == [("accept_late", order["id"])]
    assert len(told) == 1


async def test_an_order_no_timer_here_watches_is_found_by_the_resync(hotline: Hotline) -> None:
    agent, head = await desk(hotline)
    orders, timers = hotline.svc.order_service(), hotline.svc.deadlines
    assert timers is not None
    told, orders.on_change = orders.on_change, None  # as if another instance dispatched them
    try:
        seen_late = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
        advance(hotline, 20 * MINUTE)
        pending = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    finally:
        orders.on_change = told
    advance(hotline, 11 * MINUTE)
    assert await timers.resync(timedelta(minutes=10)) == 1
    (late,) = await anomalies(hotline, head)
    assert (late["order_id"], late["occurred_at"]) == (seen_late["id"], seen_late["due"]["accept"])
    advance(hotline, 20 * MINUTE)  # pending's acceptance, armed by the resync, falls due
    assert kinds(await anomalies(hotline, head, kind="accept_late")) == sorted(
        [("accept_late", seen_late["id"]), ("accept_late", pending["id"])]
    )
    assert await timers.resync(timedelta(minutes=10)) == 0


async def test_a_report_in_time_is_kept_and_a_missing_one_is_recorded(hotline: Hotline) -> None:
    agent, head = await desk(hotline)
    colleague = await person(hotline, "wang.wei", "agent", "2002", "008")
    reported = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    forgotten = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    advance(hotline, 30 * MINUTE)
    rows = {r["order_id"]: r for r in await anomalies(hotline, agent)}
    first, second = rows[reported["id"]], rows[forgotten["id"]]

    advance(hotline, 10 * MINUTE)
    hidden = await hotline.client.post(f"/api/anomalies/{first['id']}/report", headers=colleague)
    assert (await error(hidden, 404))["error"] == "no-such-anomaly"
    ok = await hotline.client.post(f"/api/anomalies/{first['id']}/report", headers=agent)
    body = await ok.json()
    assert (body["reported_by"], body["report_late"]) == ("li.na", False)
    twice = await hotline.client.post(f"/api/anomalies/{first['id']}/report", headers=agent)
    assert (await error(twice, 409))["error"] == "already-reported"

    advance(hotline, 20 * MINUTE)  # report_due (+30 min) passes for the other
    rows = {r["id"]: r for r in await anomalies(hotline, head, kind="accept_late")}
    assert rows[first["id"]]["unreported_at"] is None
    assert rows[second["id"]]["unreported_at"] == second["report_due"]
    advance(hotline, 1)
    late = await hotline.client.post(f"/api/anomalies/{second['id']}/report", headers=agent)
    body = await late.json()
    # Reported after all: the report counts, late, and the 漏报 stays on record.
    assert body["report_late"] is True and body["unreported_at"] == second["report_due"]


@dataclass
class FakePublisher:
    sent: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)

    def publish(self, topic: str, payload: dict[str, Any], qos: int = 1) -> None:
        self.sent.append((topic, payload, qos))

    async def drain(self, within: float) -> int:
        return 0  # nothing queued: each message is kept the moment it is published


async def next_anomaly(ws: ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=5)
        if message["type"] == "anomaly":
            return message


async def test_the_department_head_sees_it_live_and_it_goes_out_on_mqtt(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    boss = await person(hotline, "boss", "supervisor")
    mqtt = FakePublisher()
    hotline.svc.publisher = mqtt  # type: ignore[assignment]
    ws = await hotline.client.ws_connect("/api/live", headers=boss)
    assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    order = await dispatch(hotline, agent, (await take(hotline, agent))["id"])

    advance(hotline, 30 * MINUTE)
    message = await next_anomaly(ws)
    await ws.close()
    assert message["event"] == "raised" and message["kind"] == "accept_late"
    assert (message["order_id"], message["agent"], message["late"]) == (order["id"], "li.na", False)
    assert message["occurred_at"] == order["due"]["accept"]
    assert not [w for w in RESIDENT if w in repr(message)], message
    [(topic, payload, qos)] = mqtt.sent
    assert (topic, qos) == ("callcenter/anomalies", 1)
    assert payload["schema"] == "callcenter.anomaly/1" and payload["id"] == message["id"]


async def test_an_agent_hears_live_only_of_the_anomalies_of_their_own_tickets(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    colleague = await person(hotline, "wang.wei", "agent", "2002", "008")
    ws = await hotline.client.ws_connect("/api/live", headers=colleague)
    assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    advance(hotline, 30 * MINUTE)
    assert hotline.svc.deadlines is not None
    await hotline.svc.deadlines.settled()  # li.na's accept_late went out first
    theirs = await take(hotline, colleague)
    response = await hotline.client.post(
        f"/api/tickets/{theirs['id']}/anomalies",
        json={"kind": "praise_repairman", "detail": "师傅很好"},
        headers=colleague,
    )
    assert response.status == 201
    message = await next_anomaly(ws)
    await ws.close()
    assert (message["kind"], message["agent"]) == ("praise_repairman", "wang.wei")


async def test_agents_see_only_their_tickets_anomalies_and_stations_none(hotline: Hotline) -> None:
    agent, head = await desk(hotline)
    colleague = await person(hotline, "wang.wei", "agent", "2002", "008")
    station = await station_account(hotline, "station.xingfu", "xingfu")
    await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    advance(hotline, 30 * MINUTE)
    (mine,) = await anomalies(hotline, agent)
    assert await anomalies(hotline, colleague) == []
    assert len(await anomalies(hotline, head, agent="li.na")) == 1
    assert await anomalies(hotline, head, agent="wang.wei") == []
    other = await hotline.client.get("/api/anomalies?agent=li.na", headers=colleague)
    assert (await error(other, 403))["error"] == "forbidden"
    hidden = await hotline.client.get(f"/api/anomalies/{mine['id']}", headers=colleague)
    assert (await error(hidden, 404))["error"] == "no-such-anomaly"
    assert (await hotline.client.get("/api/anomalies", headers=station)).status == 403
    bad = await hotline.client.get("/api/anomalies?kind=late", headers=head)
    assert (await error(bad, 400))["field"] == "kind"
