"""A station waiting on the resident pauses its order, through the real app with a fake clock
on SQLite and PostgreSQL: the contact and repair anomalies do not fire while it waits and fire
later by the pause's length; the order's history keeps the pause and its reason; a contact or
return ends it; a restart with a pause open keeps the deadline held; and what cannot be paused
is refused with a clear error."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from callcenter.clock import FakeClock, iso_z
from tests.api.test_anomalies_api import MINUTE, advance, anomalies, at, desk, kinds
from tests.api.test_orders_api import dispatch, station_account
from tests.api.test_tickets_api import error, take
from tests.conftest import Hotline, HotlineFactory


async def post(h: Hotline, path: str, who: dict[str, str], body: Any = None) -> dict[str, Any]:
    response = await h.client.post(path, json=body if body is not None else {}, headers=who)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def accepted_order(h: Hotline) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """An order xingfu accepted 5 minutes after dispatch; the agent and the station."""
    agent, _ = await desk(h)
    xingfu = await station_account(h, "station.xingfu", "xingfu")
    order = await dispatch(h, agent, (await take(h, agent))["id"])
    advance(h, 5 * MINUTE)
    await post(h, f"/api/orders/{order['id']}/accept", xingfu)
    return order, agent, xingfu


def shifted(iso: str, minutes: float) -> str | None:
    return iso_z(at(iso) + timedelta(minutes=minutes))


async def test_a_pause_holds_contact_late_and_it_fires_later_by_the_pause(
    hotline: Hotline,
) -> None:
    order, _agent, xingfu = await accepted_order(hotline)
    head = await hotline.token("boss2", "qa_lead")
    base = f"/api/orders/{order['id']}"
    advance(hotline, 45 * MINUTE)  # +50: contact is due at +60
    paused = await post(hotline, f"{base}/pause", xingfu, {"reason": "not_home", "note": "出差"})
    assert paused["paused_since"] is not None

    advance(hotline, 50 * MINUTE)  # +100: past the contact deadline, and nothing fired
    assert await anomalies(hotline, head) == []
    resumed = await post(hotline, f"{base}/resume", xingfu)
    assert resumed["paused_since"] is None
    assert resumed["due"]["contact"] == shifted(order["due"]["contact"], 50)
    assert resumed["due"]["repair"] == shifted(order["due"]["repair"], 50)
    assert resumed["due"]["accept"] == order["due"]["accept"]  # never held

    advance(hotline, 10 * MINUTE - 1)  # +110 less a second
    assert await anomalies(hotline, head) == []
    advance(hotline, 1)
    (late,) = await anomalies(hotline, head)
    assert (late["kind"], late["occurred_at"]) == ("contact_late", resumed["due"]["contact"])

    detail = await (await hotline.client.get(base, headers=xingfu)).json()
    history = [(e["action"], e.get("reason")) for e in detail["history"]]
    assert history == [
        ("dispatched", None),
        ("accept", None),
        ("paused", "not_home"),
        ("resumed", "not_home"),
    ]
    assert detail["history"][2]["note"] == "出差"
    assert detail["history"][3]["paused_seconds"] == 50 * MINUTE


async def test_reaching_the_resident_ends_the_pause_and_moves_the_repair_deadline(
    hotline: Hotline,
) -> None:
    order, _agent, xingfu = await accepted_order(hotline)
    head = await hotline.token("boss2", "qa_lead")
    base = f"/api/orders/{order['id']}"
    advance(hotline, 15 * MINUTE)  # +20
    await post(hotline, f"{base}/pause", xingfu, {"reason": "call_later"})
    advance(hotline, 20 * MINUTE)  # +40: the repairman calls back and reaches the resident
    contacted = await post(hotline, f"{base}/contact", xingfu, {"repairman": "王师傅"})
    assert contacted["paused_since"] is None
    assert contacted["due"]["repair"] == shifted(order["due"]["repair"], 20)

    advance(hotline, 220 * MINUTE - 1)  # +260 less a second: not yet
    assert await anomalies(hotline, head) == []
    advance(hotline, 1)
    assert kinds(await anomalies(hotline, head)) == [("repair_late", order["id"])]
    detail = await (await hotline.client.get(base, headers=xingfu)).json()
    resumed = detail["history"][3]
    assert (resumed["action"], resumed["ended_by"], resumed["by"]) == (
        "resumed",
        "contact",
        "service",
    )


async def test_a_deadline_missed_before_the_pause_is_raised_all_the_same(
    hotline: Hotline,
) -> None:
    order, agent, _ = await accepted_order(hotline)
    head = await hotline.token("boss2", "qa_lead")
    advance(hotline, 60 * MINUTE)  # +65: contact was due at +60
    await post(hotline, f"/api/orders/{order['id']}/pause", agent, {"reason": "no_access"})
    assert kinds(await anomalies(hotline, head)) == [("contact_late", order["id"])]


async def test_a_restart_with_a_pause_open_keeps_the_deadline_held(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    clock = FakeClock()
    first = await hotline_factory(db_url, clock=clock)
    order, _agent, xingfu = await accepted_order(first)
    head = await first.token("boss2", "qa_lead")
    clock.advance(45 * MINUTE)  # +50
    await post(first, f"/api/orders/{order['id']}/pause", xingfu, {"reason": "not_home"})
    await first.client.close()

    clock.advance(70 * MINUTE)  # +120: down, past the contact deadline the pause holds
    second = await hotline_factory(db_url, clock=clock)
    assert await anomalies(second, head) == []
    clock.advance(10 * MINUTE)  # +130: the resident is home again
    resumed = await post(second, f"/api/orders/{order['id']}/resume", xingfu)
    assert resumed["due"]["contact"] == shifted(order["due"]["contact"], 80)  # +140
    clock.advance(10 * MINUTE - 1)
    assert await anomalies(second, head) == []
    clock.advance(1)
    (late,) = await anomalies(second, head)
    assert (late["kind"], late["occurred_at"]) == ("contact_late", resumed["due"]["contact"])

    await second.client.close()
    third = await hotline_factory(db_url, clock=clock)  # nothing raised twice
    assert len(await anomalies(third, head)) == 1


async def test_what_cannot_be_paused_or_resumed_is_refused_and_says_why(
    hotline: Hotline,
) -> None:
    agent, _ = await desk(hotline)
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    jinbao = await station_account(hotline, "station.jinbao", "jinbao")
    sent = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    base = f"/api/orders/{sent['id']}"
    reason = {"reason": "not_home"}

    async def refused(path: str, who: dict[str, str], status: int, body: Any = reason) -> str:
        got = await error(await hotline.client.post(path, json=body, headers=who), status)
        assert got["message"]
        return str(got["error"])

    assert await refused("/api/orders/nonexistent/pause", xingfu, 404) == "no-such-order"
    assert await refused(f"{base}/pause", jinbao, 403) == "not-your-order"
    assert await refused(f"{base}/pause", xingfu, 409) == "bad-transition"  # not accepted
    await post(hotline, f"{base}/accept", xingfu)
    assert await refused(f"{base}/resume", xingfu, 409, {}) == "not-paused"
    assert await refused(f"{base}/pause", xingfu, 400, {"reason": "tired"}) == "bad-reason"
    other = {"reason": "other"}
    assert await refused(f"{base}/pause", xingfu, 400, other) == "missing-field"
    await post(hotline, f"{base}/pause", xingfu, reason)
    assert await refused(f"{base}/pause", agent, 409) == "already-paused"
    await post(hotline, f"{base}/return", xingfu, {"result": "换阀门"})  # ends the pause
    assert await refused(f"{base}/pause", xingfu, 409) == "bad-transition"
    assert await refused(f"{base}/resume", xingfu, 409, {}) == "not-paused"


async def test_the_hotline_records_a_wait_the_station_phoned_in(hotline: Hotline) -> None:
    order, agent, _ = await accepted_order(hotline)
    lead = await hotline.token("lead", "team_lead")
    head = await hotline.token("boss2", "qa_lead")
    base = f"/api/orders/{order['id']}"
    await post(hotline, f"{base}/pause", agent, {"reason": "call_later"})
    resumed = await post(hotline, f"{base}/resume", lead)
    assert resumed["paused_since"] is None
    # The department head records the station's return when closing an incident
    # (orders.model.may_act), so a wait phoned in to the head is recorded too.
    held = await post(hotline, f"{base}/pause", head, {"reason": "not_home"})
    assert held["paused_since"] is not None


async def test_a_held_order_is_not_overdue_on_the_stations_chart(hotline: Hotline) -> None:
    order, _agent, xingfu = await accepted_order(hotline)
    head = await hotline.token("boss2", "qa_lead")
    advance(hotline, 45 * MINUTE)  # +50
    await post(hotline, f"/api/orders/{order['id']}/pause", xingfu, {"reason": "not_home"})
    advance(hotline, 30 * MINUTE)  # +80: past the contact deadline the pause holds

    async def xingfu_now() -> dict[str, Any]:
        got = await hotline.client.get("/api/reports/charts/stations?format=json", headers=head)
        assert got.status == 200, await got.text()
        (row,) = [s for s in (await got.json())["stations"] if s["code"] == "xingfu"]
        return dict(row)

    assert (await xingfu_now())["overdue"] == 0
    await post(hotline, f"/api/orders/{order['id']}/resume", xingfu)  # contact due at +90
    advance(hotline, 10 * MINUTE)
    assert (await xingfu_now())["overdue"] == 1


async def test_two_pauses_or_two_resumes_at_one_instant_count_once(hotline: Hotline) -> None:
    """The station's portal and the agent it phoned press at the same moment: one pause,
    one resume, the deadlines moved once (SQLite too, which has no row locks)."""
    order, agent, xingfu = await accepted_order(hotline)
    base = f"/api/orders/{order['id']}"

    async def press(action: str, who: dict[str, str]) -> tuple[int, dict[str, Any]]:
        body = {"reason": "not_home"} if action == "pause" else {}
        response = await hotline.client.post(f"{base}/{action}", json=body, headers=who)
        return response.status, await response.json()

    paused = await asyncio.gather(press("pause", agent), press("pause", xingfu))
    assert sorted(status for status, _ in paused) == [200, 409], paused
    assert [b["error"] for status, b in paused if status == 409] == ["already-paused"]
    advance(hotline, 20 * MINUTE)
    resumed = await asyncio.gather(press("resume", agent), press("resume", xingfu))
    assert sorted(status for status, _ in resumed) == [200, 409], resumed
    assert [b["error"] for status, b in resumed if status == 409] == ["not-paused"]
    (done,) = [b for status, b in resumed if status == 200]
    assert done["due"]["contact"] == shifted(order["due"]["contact"], 20)  # moved once
    clock = await (await hotline.client.get(
        f"/api/tickets/{order['ticket_id']}/clock", headers=agent
    )).json()  # fmt: skip
    assert [p["seconds"] for p in clock["rounds"][0]["pauses"]] == [1200.0]
