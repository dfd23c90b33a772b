"""Callbacks (回访) through the real app on SQLite and PostgreSQL: a returned order puts a
callback on the owning agent's list, due within 3 days; the resident's answers close the
ticket, or send the repair back to its station and book the next callback when it returns;
a complaint is called back too; the figures give the callback rate, on time, satisfaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.orders.service import OrderChanged
from tests.api.test_orders_api import dispatch
from tests.api.test_tickets_api import error, person, take
from tests.conftest import Hotline

SATISFIED = {
    "outcome": "answered",
    "solved": True,
    "attitude": "satisfied",
    "charged": False,
    "score": 10,
    "suggestions": "",
    "fee_reminded": True,
}


async def returned(h: Hotline, agent: dict[str, str], ticket_id: str) -> dict[str, Any]:
    """Dispatch the ticket and record the station's return (as phoned in)."""
    order = await dispatch(h, agent, ticket_id)
    back = await h.client.post(
        f"/api/orders/{order['id']}/return", json={"result": "已修好"}, headers=agent
    )
    assert back.status == 200, await back.text()
    body: dict[str, Any] = await back.json()
    return body


async def due_list(h: Hotline, who: dict[str, str]) -> list[dict[str, Any]]:
    response = await h.client.get("/api/callbacks?status=due", headers=who)
    assert response.status == 200, await response.text()
    body: list[dict[str, Any]] = await response.json()
    return body


async def test_a_returned_repair_is_on_its_agents_list_due_in_three_days(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    colleague = await person(hotline, "wang.wei", "agent", "2002", "008")
    lead = await person(hotline, "lead", "team_lead")
    ticket = await take(hotline, agent)
    order = await returned(hotline, agent, ticket["id"])

    [callback] = await due_list(hotline, agent)
    assert (callback["ticket_id"], callback["order_id"]) == (ticket["id"], order["id"])
    assert callback["reason"] == "repair" and callback["station"] == "xingfu"
    created = datetime.fromisoformat(callback["created_at"].replace("Z", "+00:00"))
    due = datetime.fromisoformat(callback["due_at"].replace("Z", "+00:00"))
    assert due - created == timedelta(days=3)
    assert await due_list(hotline, colleague) == []  # 首问责任制: li.na's callback
    assert [c["id"] for c in await due_list(hotline, lead)] == [callback["id"]]
    theirs = await hotline.client.post(
        f"/api/callbacks/{callback['id']}", json=SATISFIED, headers=colleague
    )
    assert (await error(theirs, 403))["error"] == "not-your-callback"


async def test_a_satisfied_resident_closes_the_ticket(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    boss = await person(hotline, "boss", "supervisor")
    ticket = await take(hotline, agent)
    await returned(hotline, agent, ticket["id"])
    [callback] = await due_list(hotline, agent)
    hotline.clock.advance(3600)  # type: ignore[attr-defined]

    made = await hotline.client.post(
        f"/api/callbacks/{callback['id']}", json=SATISFIED, headers=agent
    )
    body = await made.json()
    assert made.status == 200, body
    assert (body["status"], body["on_time"]) == ("done", True)
    assert body["answers"]["score"] == 10
    got = await (await hotline.client.get(f"/api/tickets/{ticket['id']}", headers=agent)).json()
    assert got["status"] == "closed"
    assert got["timeline"][-1]["changes"] == {"status": ["repaired", "closed"]}
    twice = await hotline.client.post(
        f"/api/callbacks/{callback['id']}", json=SATISFIED, headers=agent
    )
    assert (await error(twice, 409))["error"] == "callback-closed"

    figures = await (
        await hotline.client.get("/api/callbacks/figures?by=agent", headers=boss)
    ).json()
    assert figures == [
        {
            "key": figures[0]["key"],
            "name": "li.na",
            "owed": 1,
            "made": 1,
            "callback_rate": 1.0,
            "on_time": 1,
            "on_time_rate": 1.0,
            "satisfied": 1,
            "satisfaction": 1.0,
            "charged": 0,
            "mean_score": 10.0,
        }
    ]
    by_station = await hotline.client.get("/api/callbacks/figures?by=station", headers=boss)
    assert [(r["key"], r["made"]) for r in await by_station.json()] == [("xingfu", 1)]
    agents_may_not = await hotline.client.get("/api/callbacks/figures", headers=agent)
    assert agents_may_not.status == 403


async def test_not_solved_goes_back_to_the_station_and_is_called_back_again(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    ticket = await take(hotline, agent)
    await returned(hotline, agent, ticket["id"])
    [first] = await due_list(hotline, agent)

    hotline.clock.advance(600)  # type: ignore[attr-defined]
    unsolved = {**SATISFIED, "solved": False, "attitude": "average", "score": 4}
    made = await hotline.client.post(f"/api/callbacks/{first['id']}", json=unsolved, headers=agent)
    assert made.status == 200, await made.text()
    orders = await (
        await hotline.client.get(f"/api/orders?ticket={ticket['id']}", headers=agent)
    ).json()
    assert [(o["round"], o["status"]) for o in orders] == [(2, "sent"), (1, "returned")]
    got = await (await hotline.client.get(f"/api/tickets/{ticket['id']}", headers=agent)).json()
    assert got["status"] == "dispatched"
    assert await due_list(hotline, agent) == []  # nothing owed while it is at the station

    back = await hotline.client.post(
        f"/api/orders/{orders[0]['id']}/return", json={"result": "返修，更换阀门"}, headers=agent
    )
    assert back.status == 200
    [second] = await due_list(hotline, agent)
    assert second["order_id"] == orders[0]["id"]


async def test_not_convenient_rebooks_and_no_answer_is_counted(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    ticket = await take(hotline, agent)
    await returned(hotline, agent, ticket["id"])
    [callback] = await due_list(hotline, agent)
    url = f"/api/callbacks/{callback['id']}"

    missed = await (
        await hotline.client.post(url, json={"outcome": "no_answer"}, headers=agent)
    ).json()
    assert (missed["status"], missed["attempts"]) == ("due", 1)
    later = (hotline.clock.now() + timedelta(days=5)).astimezone(UTC).isoformat()
    rebooked = await hotline.client.post(
        url, json={"outcome": "rebooked", "call_at": later}, headers=agent
    )
    body = await rebooked.json()
    assert body["booked_for"] == body["due_at"]  # called then, it is on time
    for bad, field in (
        ({"outcome": "rebooked", "call_at": "2000-01-01T00:00:00Z"}, "call_at"),
        ({"outcome": "rebooked", "call_at": "tomorrow"}, "call_at"),
        ({"outcome": "rebooked", "call_at": "9999-12-31T23:59:59-14:00"}, "call_at"),
        ({"outcome": "maybe"}, "outcome"),
        ({**SATISFIED, "score": 11}, "score"),
        ({**SATISFIED, "solved": "yes"}, "solved"),
        ({**SATISFIED, "attitude": "angry"}, "attitude"),
        ({**SATISFIED, "call": "no-such-call"}, "call"),
        ({**SATISFIED, "mood": "ok"}, "mood"),
    ):
        response = await hotline.client.post(url, json=bad, headers=agent)
        assert (await error(response, 400))["field"] == field, bad
    unknown = await hotline.client.post("/api/callbacks/nope", json=SATISFIED, headers=agent)
    assert (await error(unknown, 404))["error"] == "no-such-callback"


async def test_a_complaint_is_called_back_until_the_resident_is_satisfied(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    complaint = await take(
        hotline, agent, kind="complaint", description="维修人员态度差", address=None, category=None
    )
    [callback] = await due_list(hotline, agent)
    assert (callback["reason"], callback["ticket_id"]) == ("complaint", complaint["id"])
    unhappy = {**SATISFIED, "attitude": "unsatisfied", "score": 2, "charged": True}
    await hotline.client.post(f"/api/callbacks/{callback['id']}", json=unhappy, headers=agent)
    [again] = await due_list(hotline, agent)
    assert again["id"] != callback["id"] and again["reason"] == "complaint"
    await hotline.client.post(f"/api/callbacks/{again['id']}", json=SATISFIED, headers=agent)
    got = await (await hotline.client.get(f"/api/tickets/{complaint['id']}", headers=agent)).json()
    assert got["status"] == "closed"


async def test_a_return_told_twice_books_one_callback(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    ticket = await take(hotline, agent)
    order = await returned(hotline, agent, ticket["id"])
    svc = hotline.svc
    assert svc.callbacks is not None and svc.orders is not None
    stored, _ = await svc.orders.get(order["id"])
    again = OrderChanged(stored, "return", "li.na", hotline.clock.now(), None)
    assert not await svc.callbacks.order_changed(again)
    assert len(await due_list(hotline, agent)) == 1


async def test_a_reported_charge_reaches_the_department_head_live(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    boss = await person(hotline, "boss", "supervisor")
    ticket = await take(hotline, agent)
    await returned(hotline, agent, ticket["id"])
    [callback] = await due_list(hotline, agent)
    live = await hotline.client.ws_connect("/api/live", headers=boss)
    try:
        await live.receive_json(timeout=5)  # the snapshot
        charged = {**SATISFIED, "charged": True, "score": 6}
        await hotline.client.post(f"/api/callbacks/{callback['id']}", json=charged, headers=agent)
        for _ in range(10):
            message = await live.receive_json(timeout=5)
            if message["type"] == "callback":
                break
        assert (message["charged"], message["ticket_id"]) == (True, ticket["id"])
        assert "phone" not in message and "reporter_name" not in message
    finally:
        await live.close()
