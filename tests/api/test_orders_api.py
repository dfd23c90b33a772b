"""Repair orders through the real app on SQLite and PostgreSQL: a repair ticket goes to its
station as an order with its outgoing messages in the same commit; the station accepts,
contacts, returns or refuses it on its own account only; the ticket's status follows; every
step leaves history; nothing happens twice."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from callcenter.auth import service as auth_service
from callcenter.errors import Invalid
from tests.api.test_tickets_api import error, person, take
from tests.conftest import PASSWORD, Hotline


async def station_account(h: Hotline, name: str, station: str) -> dict[str, str]:
    await auth_service.add_user(h.svc.db(), h.clock, name, "station", PASSWORD, station=station)
    token = await auth_service.create_token(h.svc.db(), h.clock, name)
    return {"Authorization": f"Bearer {token}"}


async def dispatch(h: Hotline, who: dict[str, str], ticket_id: str) -> dict[str, Any]:
    response = await h.client.post(f"/api/tickets/{ticket_id}/dispatch", headers=who)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def outbox(h: Hotline) -> list[dict[str, Any]]:
    async with h.svc.db().connect() as conn:
        rows = await conn.execute(
            text("SELECT station, channel, kind, payload, acked_at FROM order_outbox")
        )
        return [dict(r._mapping) for r in rows]


async def test_a_dispatched_repair_is_an_order_with_its_message_for_the_station(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    ticket = await take(hotline, agent)
    assert ticket["station"] == "xingfu"  # 幸福里 → 幸福 in the sample book

    order = await dispatch(hotline, agent, ticket["id"])

    assert (order["station"], order["status"], order["round"]) == ("xingfu", "sent", 1)
    due = order["due"]
    assert due["accept"] < due["contact"] < due["repair"]
    got = await hotline.client.get(f"/api/tickets/{ticket['id']}", headers=agent)
    assert (await got.json())["status"] == "dispatched"
    [message] = await outbox(hotline)
    assert (message["station"], message["channel"], message["kind"]) == ("xingfu", "mqtt", "order")
    payload = json.loads(message["payload"])
    assert payload["schema"] == "callcenter.order/1"
    assert payload["order"]["id"] == order["id"]
    # The station needs the resident to repair: name, number and the standard address.
    assert payload["order"]["resident"] == {
        "name": "张秀英",
        "phone": "13800000001",
        "address": ticket["address_standard"],
    }
    assert payload["order"]["fault"]["category"] == "not_hot"


async def test_the_station_takes_its_order_through_to_the_return(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    order = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    base = f"/api/orders/{order['id']}"

    listed = await hotline.client.get("/api/orders?status=sent", headers=xingfu)
    assert [o["id"] for o in await listed.json()] == [order["id"]]
    accepted = await hotline.client.post(f"{base}/accept", headers=xingfu)
    assert (await accepted.json())["status"] == "accepted"
    again = await error(await hotline.client.post(f"{base}/accept", headers=xingfu), 409)
    assert again["error"] == "bad-transition"
    contacted = await hotline.client.post(
        f"{base}/contact", json={"repairman": "王师傅"}, headers=xingfu
    )
    assert (await contacted.json())["repairman"] == "王师傅"
    no_result = await error(await hotline.client.post(f"{base}/return", headers=xingfu), 400)
    assert no_result["field"] == "note"
    returned = await hotline.client.post(
        f"{base}/return", json={"result": "更换暖气片阀门，已热"}, headers=xingfu
    )
    body = await returned.json()
    assert (body["status"], body["result"]) == ("returned", "更换暖气片阀门，已热")

    ticket = await (
        await hotline.client.get(f"/api/tickets/{body['ticket_id']}", headers=agent)
    ).json()
    assert ticket["status"] == "repaired"
    detail = await (await hotline.client.get(base, headers=agent)).json()
    assert [e["action"] for e in detail["history"]] == [
        "dispatched",
        "accept",
        "contact",
        "return",
    ]
    # The station had the order: its message is not offered again.
    assert all(m["acked_at"] is not None for m in await outbox(hotline))


async def test_a_station_sees_and_touches_only_its_own_orders(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    other = await station_account(hotline, "station.jinbao", "jinbao")
    order = await dispatch(hotline, agent, (await take(hotline, agent))["id"])

    assert await (await hotline.client.get("/api/orders", headers=other)).json() == []
    hidden = await hotline.client.get(f"/api/orders/{order['id']}", headers=other)
    assert (await error(hidden, 404))["error"] == "no-such-order"
    refused = await hotline.client.post(f"/api/orders/{order['id']}/accept", headers=other)
    assert (await error(refused, 403))["error"] == "not-your-order"
    foreign = await hotline.client.get("/api/orders?station=xingfu", headers=other)
    assert (await error(foreign, 400))["error"] == "not-your-station"


async def test_what_cannot_be_dispatched_is_refused_and_nothing_is_sent(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    colleague = await person(hotline, "wang.wei", "agent", "2002", "008")
    ticket = await take(hotline, agent)
    await dispatch(hotline, agent, ticket["id"])
    twice = await hotline.client.post(f"/api/tickets/{ticket['id']}/dispatch", headers=agent)
    assert (await error(twice, 409))["error"] == "already-dispatched"

    consultation = await take(hotline, agent, kind="consultation", description="问收费")
    response = await hotline.client.post(
        f"/api/tickets/{consultation['id']}/dispatch", headers=agent
    )
    assert (await error(response, 409))["error"] == "not-a-repair"
    unmatched = await take(hotline, agent, address="火星基地1号楼101")
    response = await hotline.client.post(f"/api/tickets/{unmatched['id']}/dispatch", headers=agent)
    assert (await error(response, 400))["field"] == "station"
    mine = await take(hotline, agent)
    response = await hotline.client.post(f"/api/tickets/{mine['id']}/dispatch", headers=colleague)
    assert (await error(response, 403))["error"] == "not-your-ticket"
    response = await hotline.client.post("/api/tickets/nope/dispatch", headers=agent)
    assert (await error(response, 404))["error"] == "no-such-ticket"
    assert len(await outbox(hotline)) == 1


async def test_a_refused_order_puts_the_ticket_back_on_the_desk(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    ticket = await take(hotline, agent)
    order = await dispatch(hotline, agent, ticket["id"])
    refused = await hotline.client.post(
        f"/api/orders/{order['id']}/refuse", json={"reason": "该楼归宏城站"}, headers=xingfu
    )
    assert (await refused.json())["status"] == "refused"
    got = await (await hotline.client.get(f"/api/tickets/{ticket['id']}", headers=agent)).json()
    assert got["status"] == "open"
    # Sent again (to the right station after a PATCH, here the same): round 2.
    second = await dispatch(hotline, agent, ticket["id"])
    assert second["round"] == 2


async def test_a_recalled_order_tells_the_station(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    ticket = await take(hotline, agent)
    order = await dispatch(hotline, agent, ticket["id"])
    no_reason = await hotline.client.post(
        f"/api/orders/{order['id']}/recall", json={}, headers=agent
    )
    assert (await error(no_reason, 400))["field"] == "reason"
    recalled = await hotline.client.post(
        f"/api/orders/{order['id']}/recall", json={"reason": "住户已自行修好"}, headers=agent
    )
    assert (await recalled.json())["status"] == "recalled"
    kinds = [m["kind"] for m in await outbox(hotline)]
    assert kinds == ["order", "recall"]


async def test_a_station_account_names_its_station_and_only_it_has_one(
    hotline: Hotline,
) -> None:
    db = hotline.svc.db()
    with pytest.raises(Invalid) as caught:
        await auth_service.add_user(db, hotline.clock, "s1", "station", PASSWORD)
    assert caught.value.code == "bad-station"
    with pytest.raises(Invalid):
        await auth_service.add_user(db, hotline.clock, "a1", "agent", PASSWORD, station="xingfu")
