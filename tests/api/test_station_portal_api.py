"""What the station portal reads, through the real app on SQLite and PostgreSQL: the
station's account names its station (GET /api/me); an order's detail carries the resident and
the fault the station needs to repair (it may not read the ticket itself), to the order's own
station and the hotline only, with the number as each may see it."""

from __future__ import annotations

from tests.api.test_orders_api import dispatch, station_account
from tests.api.test_tickets_api import error, person, take
from tests.conftest import Hotline


async def test_a_station_account_says_which_station_it_is(hotline: Hotline) -> None:
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    me = await (await hotline.client.get("/api/me", headers=xingfu)).json()
    assert (me["role"], me["station"]) == ("station", "xingfu")
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    assert (await (await hotline.client.get("/api/me", headers=agent)).json())["station"] is None


async def test_the_station_reads_the_resident_and_the_fault_on_its_order_not_the_ticket(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    ticket = await take(hotline, agent)
    order = await dispatch(hotline, agent, ticket["id"])

    # The ticket API stays closed to stations (TICKET_USERS) …
    closed = await hotline.client.get(f"/api/tickets/{ticket['id']}", headers=xingfu)
    assert closed.status == 403
    # … so the order brings what the repair needs, the number in full to call the resident.
    got = await hotline.client.get(f"/api/orders/{order['id']}", headers=xingfu)
    assert got.status == 200, await got.text()
    assert (await got.json())["ticket"] == {
        "id": ticket["id"],
        "reporter_name": "张秀英",
        "phone": "13800000001",
        "address": "大龙市幸福里小区三栋二单元502",
        "address_standard": "城关区幸福路幸福里3号楼2单元502室",
        "category": "not_hot",
        "fault_location": "卧室暖气片",
        "severity": "major",
        "description": "整屋不热",
        # Why the order would come first (an infant, an elderly resident): none flagged here.
        "vulnerability": None,
    }
    # The list stays lean: the resident only on the one order a station opens.
    listed = await (await hotline.client.get("/api/orders", headers=xingfu)).json()
    assert "ticket" not in listed[0]


async def test_another_station_gets_no_resident_from_an_order_not_its_own(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    jinbao = await station_account(hotline, "station.jinbao", "jinbao")
    order = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    hidden = await hotline.client.get(f"/api/orders/{order['id']}", headers=jinbao)
    body = await error(hidden, 404)
    assert body["error"] == "no-such-order" and "ticket" not in body


async def test_the_hotline_sees_the_ticket_block_with_the_number_as_privacy_says(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    colleague = await person(hotline, "wang.wei", "agent", "2002", "008")
    supervisor = await person(hotline, "zhao", "supervisor")
    order = await dispatch(hotline, agent, (await take(hotline, agent))["id"])
    path = f"/api/orders/{order['id']}"

    def phone(body: dict[str, dict[str, str]]) -> str:
        return body["ticket"]["phone"]

    # 003 保密制度: the agent who took it sees the number; a colleague and, by default, a
    # supervisor see it masked, as on GET /api/tickets/{id}.
    assert phone(await (await hotline.client.get(path, headers=agent)).json()) == "13800000001"
    theirs = await (await hotline.client.get(path, headers=colleague)).json()
    assert phone(theirs) == "138****0001"
    assert theirs["ticket"]["reporter_name"] == "张秀英"
    assert phone(await (await hotline.client.get(path, headers=supervisor)).json()) == (
        "138****0001"
    )
