"""Tickets on the live WebSocket: taking, changing and linking a ticket is pushed to the pages
that follow it (the leads, and the agent who took it) without the resident's data, which the
pages fetch through the API and its role rules."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientWebSocketResponse

from tests.api.test_calls_api import Phone
from tests.api.test_tickets_api import REPAIR, person, take
from tests.conftest import Hotline

KEYS = {
    "type", "action", "ticket_id", "kind", "category", "status", "station",
    "agent_id", "agent", "by", "at",
}  # fmt: skip
RESIDENT = ("张秀英", "13800000001", "138 0000 0001", "幸福", "502", "卧室", "不热")


async def live(h: Hotline, who: dict[str, str]) -> ClientWebSocketResponse:
    ws = await h.client.ws_connect("/api/live", headers=who)
    assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    return ws


async def next_of(ws: ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of type `kind`, passing over the calls' own messages."""
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=5)
        if message["type"] == kind:
            return message


def no_resident_data(message: dict[str, Any]) -> None:
    assert set(message) == KEYS
    text = repr(message)
    assert not [word for word in RESIDENT if word in text], message


async def test_taking_changing_and_linking_a_ticket_is_pushed_without_resident_data(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    lead = await person(hotline, "zhao.lei", "team_lead")
    to_lead, to_agent = await live(hotline, lead), await live(hotline, agent)

    ticket = await take(hotline, agent)
    taken = await next_of(to_lead, "ticket")
    no_resident_data(taken)
    assert taken == {
        "type": "ticket",
        "action": "taken",
        "ticket_id": ticket["id"],
        "kind": "repair",
        "category": "not_hot",
        "status": "open",
        "station": "xingfu",
        "agent_id": ticket["agent_id"],
        "agent": "li.na",
        "by": "li.na",
        "at": ticket["created_at"],
    }
    assert await next_of(to_agent, "ticket") == taken

    # A lead changes her ticket: she hears of it, since its follow-up is hers.
    url = f"/api/tickets/{ticket['id']}"
    patched = await hotline.client.patch(url, json={"status": "cancelled"}, headers=lead)
    assert patched.status == 200, await patched.text()
    changed = await next_of(to_agent, "ticket")
    no_resident_data(changed)
    assert (changed["action"], changed["status"]) == ("changed", "cancelled")
    assert (changed["agent"], changed["by"]) == ("li.na", "zhao.lei")
    assert await next_of(to_lead, "ticket") == changed

    callback = Phone(hotline, "callback", caller="13800000001")
    callback.ring("2001")
    callback.after(2)
    callback.answer("2001")
    callback.hang_up()
    await hotline.svc.calls().settled()
    call_id = (await (await hotline.client.get("/api/calls", headers=agent)).json())[0]["id"]
    linked = await hotline.client.post(f"{url}/calls", json={"call": call_id}, headers=agent)
    assert linked.status == 201, await linked.text()
    message = await next_of(to_lead, "ticket")
    no_resident_data(message)
    assert (message["action"], message["ticket_id"]) == ("linked", ticket["id"])
    assert await next_of(to_agent, "ticket") == message
    await to_lead.close()
    await to_agent.close()


async def test_an_agent_hears_only_of_the_tickets_she_took(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001")
    colleague = await person(hotline, "wang.wei", "agent", "2002")
    to_colleague = await live(hotline, colleague)
    await take(hotline, agent)
    await take(hotline, agent, kind="consultation", category=None)
    # Then a phone rings, which every page hears: a ticket message would have come first.
    Phone(hotline, "later").ring("2001")
    await hotline.svc.calls().settled()
    seen = []
    while not seen or seen[-1] != "phone_rang":
        seen.append((await to_colleague.receive_json(timeout=5))["type"])
    assert "ticket" not in seen
    mine = await take(hotline, colleague, reporter_name=REPAIR["reporter_name"])
    own = await next_of(to_colleague, "ticket")
    assert (own["ticket_id"], own["agent"]) == (mine["id"], "wang.wei")
    await to_colleague.close()
