"""The desk's one key (「片区故障报修」) pressed again: on the same call, or by another agent
taking the same household's next call. Either way the household keeps its one ticket, with
each call on it once, so it is called back once."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.test_calls_api import Phone
from tests.api.test_incidents_api import open_incident
from tests.api.test_tickets_api import person
from tests.conftest import Hotline

CALLER = "13800000042"
FLAT = "东兴里6号楼2单元402"


async def answered(h: Hotline, call_id: str, extension: str, who: dict[str, str]) -> str:
    """A call from CALLER answered on `extension`; its id as the API names it."""
    call = Phone(h, call_id, caller=CALLER)
    call.ring(extension)
    call.after(2)
    call.answer(extension)
    await h.svc.calls().settled()
    calls = await (await h.client.get("/api/calls", headers=who)).json()
    found: str = next(c["id"] for c in calls if c["extension"] == extension and not c["ended_at"])
    return found


async def calls_of(h: Hotline, who: dict[str, str], ticket_id: str) -> list[str]:
    ticket = await (await h.client.get(f"/api/tickets/{ticket_id}", headers=who)).json()
    return sorted(c["id"] for c in ticket["calls"])


async def press(h: Hotline, who: dict[str, str], incident: str, call: str) -> Any:
    response = await h.client.post(
        f"/api/incidents/{incident}/report", json={"call": call, "address": FLAT}, headers=who
    )
    body = await response.json()
    return response.status, body


async def test_the_key_pressed_twice_on_one_call_keeps_one_ticket(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    head = await person(hotline, "boss", "supervisor")
    incident = (await open_incident(hotline, head))["id"]
    call = await answered(hotline, "first", "2001", agent)

    status, first = await press(hotline, agent, incident, call)
    assert status == 201 and first["created"], first
    status, again = await press(hotline, agent, incident, call)
    assert status == 200, again
    assert not again["created"] and again["ticket"]["id"] == first["ticket"]["id"]
    assert await calls_of(hotline, agent, first["ticket"]["id"]) == [call]


async def test_another_agent_adds_the_households_next_call_to_its_ticket(
    hotline: Hotline,
) -> None:
    li = await person(hotline, "li.na", "agent", "2001", "007")
    wang = await person(hotline, "wang.wei", "agent", "2002", "008")
    head = await person(hotline, "boss", "supervisor")
    incident = (await open_incident(hotline, head))["id"]
    first_call = await answered(hotline, "first", "2001", li)
    status, first = await press(hotline, li, incident, first_call)
    assert status == 201, first

    next_call = await answered(hotline, "next", "2002", wang)
    status, again = await press(hotline, wang, incident, next_call)
    assert status == 200, again
    assert again["ticket"]["id"] == first["ticket"]["id"]
    assert await calls_of(hotline, li, again["ticket"]["id"]) == sorted([first_call, next_call])
    assert again["ticket"]["agent"] == "li.na"  # still hers to call back (首问责任制)


async def test_one_flats_two_phones_reported_at_one_moment_make_one_ticket(
    hotline: Hotline,
) -> None:
    """Two agents press the key at the same moment for two phones of one flat: the second
    finds the first's ticket, so the household is called back once."""
    li = await person(hotline, "li.na", "agent", "2001", "007")
    wang = await person(hotline, "wang.wei", "agent", "2002", "008")
    head = await person(hotline, "boss", "supervisor")
    incident = (await open_incident(hotline, head))["id"]
    url = f"/api/incidents/{incident}/report"

    async def report(who: dict[str, str], phone: str) -> tuple[int, Any]:
        response = await hotline.client.post(
            url, json={"phone": phone, "address": FLAT}, headers=who
        )
        return response.status, await response.json()

    both = await asyncio.gather(report(li, "13800000042"), report(wang, "13900000042"))
    assert sorted(status for status, _ in both) == [200, 201], both
    assert len({body["ticket"]["id"] for _, body in both}) == 1
    listed = await (await hotline.client.get(f"/api/incidents/{incident}", headers=head)).json()
    assert listed["tickets"] == 1
