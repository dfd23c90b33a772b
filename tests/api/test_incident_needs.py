"""An incident's one order ranks by its most vulnerable household (priority by the cold):
through the real app on SQLite and PostgreSQL, the incident's own ticket takes the heaviest
vulnerability among its reports as they are taken, changed and unlinked, and the station's
list puts the order where that household's own repair would stand."""

from __future__ import annotations

from typing import Any

from tests.api.test_incidents_api import flat, get, open_incident
from tests.api.test_orders_api import station_account
from tests.api.test_priority_api import hotline_at
from tests.api.test_tickets_api import person, take
from tests.conftest import Hotline, HotlineFactory

# medical weighs more than elderly here, so the heavier one is seen to win
WEIGHTS = {"vulnerability_points": {"elderly": 20.0, "infant": 25.0, "medical": 30.0}}


async def own(h: Hotline, who: dict[str, str], incident: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = await get(h, who, f"/api/tickets/{incident['ticket']}")
    return found


async def patch(h: Hotline, who: dict[str, str], ticket_id: str, body: dict[str, Any]) -> None:
    response = await h.client.patch(f"/api/tickets/{ticket_id}", json=body, headers=who)
    assert response.status == 200, await response.text()


async def test_the_incidents_order_carries_its_most_vulnerable_household(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_at(hotline_factory, db_url, **WEIGHTS)
    agent = await person(h, "li.na", "agent", "2001", "007")
    head = await person(h, "boss", "supervisor")
    station = await station_account(h, "station.dongxing", "dongxing")
    incident = await open_incident(h, head)
    await take(h, agent, **flat(1))
    assert (await own(h, head, incident))["vulnerability"] is None

    elderly = await take(h, agent, **flat(2), vulnerability="elderly")
    assert (await own(h, head, incident))["vulnerability"] == "elderly"
    medical = await take(h, agent, **flat(3), vulnerability="medical")
    assert (await own(h, head, incident))["vulnerability"] == "medical"
    await take(h, agent, **flat(4), vulnerability="infant")  # lighter: medical stays
    assert (await own(h, head, incident))["vulnerability"] == "medical"

    # The station sees why its one order ranks as it does.
    [order] = await get(h, station, "/api/orders?status=sent,accepted,contacted")
    assert order["ticket_id"] == incident["ticket"]
    reasons = {r["factor"]: r["points"] for r in order["priority"]["reasons"]}
    assert reasons["vulnerability"] == 30.0

    # The patient moved out (the agent clears the flag): the infant is now the heaviest.
    await patch(h, agent, medical["id"], {"vulnerability": None})
    assert (await own(h, head, incident))["vulnerability"] == "infant"
    # A report linked by mistake leaves, and its need with it.
    unlinked = await h.client.delete(
        f"/api/incidents/{incident['id']}/tickets/{elderly['id']}", headers=head
    )
    assert unlinked.status == 200, await unlinked.text()
    assert (await own(h, head, incident))["vulnerability"] == "infant"
    history = (await own(h, head, incident))["timeline"]
    changes = [
        e["changes"]["vulnerability"]
        for e in history
        if "vulnerability" in (e.get("changes") or {})
    ]
    assert changes == [[None, "elderly"], ["elderly", "medical"], ["medical", "infant"]]


async def test_a_confirmed_proposal_sends_its_order_with_the_households_need(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_at(hotline_factory, db_url, **WEIGHTS)
    agent = await person(h, "li.na", "agent", "2001", "007")
    head = await person(h, "boss", "supervisor")
    for n in range(1, 6):
        extra = {"vulnerability": "infant"} if n == 3 else {}
        await take(h, agent, **flat(n), **extra)
    [proposal] = await get(h, head, "/api/incidents?status=proposed")
    confirmed = await h.client.post(
        f"/api/incidents/{proposal['id']}/confirm", json={"cause": "换热站停泵"}, headers=head
    )
    body = await confirmed.json()
    assert confirmed.status == 200, body
    ticket = await get(h, head, f"/api/tickets/{body['ticket']}")
    assert ticket["vulnerability"] == "infant"
    # sent with it (its deadlines by that band), not changed after the order went
    assert not [e for e in ticket["timeline"] if "vulnerability" in (e.get("changes") or {})]
