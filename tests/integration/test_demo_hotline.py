"""`serve --demo`: a simulated call rings an agent's phone as HEP, the demo agent types the
ticket while the resident is on the line, and the call's recording (espeak-ng through
ffmpeg, 8 kHz µ-law) lands on that ticket by itself. A person signed in on the desk of the
ringing phone types their own tickets: the demo leaves that phone alone."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from callcenter import demo, demo_burst
from callcenter.clock import SystemClock
from callcenter.demo_agents import DemoAgents, agent_of
from callcenter.demo_burst import Bursts
from callcenter.demo_stations import DemoStations
from callcenter.telephony.hep import simulate as sim
from tests.conftest import Hotline, HotlineFactory
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    yield sock
    sock.close()


async def _call(
    hotline: Hotline, agents: DemoAgents, udp: socket.socket, extension: str, caller: str
) -> str:
    """Play one short answered call on `extension` from `caller`; its Call-ID."""
    svc = hotline.svc
    assert svc.hep_address is not None
    call = sim.new_call(random.Random(), extension, prefix="demo-test-")
    call = replace(call, caller=caller)
    plan = sim.Plan("answered", ring_seconds=0.3, talk_seconds=1.5)
    await demo._play(svc, agents, udp, svc.hep_address, None, call, plan, "answered_on_time")
    return call.call_id


async def _tickets(hotline: Hotline, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await hotline.client.get("/api/tickets", headers=headers)
    assert response.status == 200, await response.text()
    body: list[dict[str, Any]] = await response.json()
    return body


async def test_the_demo_agent_types_the_ticket_and_the_recording_lands_on_it(
    hotline_factory: HotlineFactory, db_url: str, udp: socket.socket
) -> None:
    hotline: Hotline = await hotline_factory(db_url, clock=SystemClock(), hep=True)
    await hotline.add_user("agent2001", "agent", "2001")
    boss = await hotline.token("demo", "supervisor")
    assert hotline.svc.tickets is not None
    agents = DemoAgents(hotline.svc.tickets, hotline.svc.hub, random.Random(7))

    await _call(hotline, agents, udp, "2001", "13912345678")

    [ticket] = await _tickets(hotline, boss)
    assert ticket["phone"] == "139****5678"  # a supervisor sees it masked
    assert ticket["address_routing"] == "matched", ticket  # a flat of the sample book
    response = await hotline.client.get(f"/api/tickets/{ticket['id']}", headers=boss)
    detail = await response.json()
    [call] = detail["calls"]
    assert (call["how"], call["extension"], call["agent"]) == ("current", "2001", "agent2001")
    [recording] = detail["recordings"]
    assert recording["call_id"] == call["id"]
    assert recording["duration_seconds"] > 1.0  # espeak-ng spoke the opening

    # The same household calls again: the same flat, so the desk shows its history.
    await _call(hotline, agents, udp, "2001", "13912345678")
    tickets = await _tickets(hotline, boss)
    assert len(tickets) == 2
    assert len({t["address_standard"] for t in tickets}) == 1


async def test_a_phone_whose_agent_is_at_the_desk_is_left_to_them(
    hotline_factory: HotlineFactory, db_url: str, udp: socket.socket
) -> None:
    hotline: Hotline = await hotline_factory(db_url, clock=SystemClock(), hep=True)
    person = await hotline.token("agent2002", "agent", "2002")
    await hotline.add_user("agent2003", "agent", "2003")
    boss = await hotline.token("demo", "supervisor")
    assert hotline.svc.tickets is not None
    agents = DemoAgents(hotline.svc.tickets, hotline.svc.hub, random.Random(8))
    desk = await hotline.client.ws_connect("/api/live", headers=person)
    try:
        await eventually(lambda: agents.at_desk("2002"))
        await _call(hotline, agents, udp, "2002", "13812345678")
        await _call(hotline, agents, udp, "2003", "13712345678")
    finally:
        await desk.close()
    assert [t["phone"] for t in await _tickets(hotline, boss)] == ["137****5678"]


async def test_demo_stations_take_return_and_the_agent_calls_back(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    short = {"accept_minutes": 2, "contact_minutes": 4, "repair_hours": 0.2}  # the demo's
    hotline: Hotline = await hotline_factory(db_url, orders=short)
    await hotline.add_user("agent2001", "agent", "2001")
    boss = await hotline.token("demo", "supervisor")
    svc = hotline.svc
    assert svc.tickets is not None and svc.orders is not None and svc.callbacks is not None
    agents = DemoAgents(svc.tickets, svc.hub, random.Random(3))
    agents.orders = svc.orders
    stations = DemoStations(svc.orders, svc.callbacks, svc.hub, hotline.clock, random.Random(4))
    await stations.accounts()
    agent = await agent_of(svc.tickets, "2001")
    assert agent is not None
    taken = []
    while len(taken) < 4:  # repairs only: those go to a station
        ticket_id = await agents.take(agent, f"1391234{len(taken):04d}")
        detail = await (await hotline.client.get(f"/api/tickets/{ticket_id}", headers=boss)).json()
        if detail["kind"] == "repair":
            assert detail["status"] == "dispatched"
            taken.append(ticket_id)

    for _ in range(60):  # an hour of demo time, a tick every 30 s as the demo's
        hotline.clock.advance(60)  # type: ignore[attr-defined]
        await stations.tick(hotline.clock.now())

    orders = await (await hotline.client.get("/api/orders", headers=boss)).json()
    assert {o["ticket_id"] for o in orders} == set(taken)
    finished = [o["status"] in ("returned", "refused") or o["round"] > 1 for o in orders]
    assert all(finished), [(o["status"], o["round"]) for o in orders]
    returned = [o for o in orders if o["status"] == "returned"]
    assert returned, orders
    made = await (await hotline.client.get("/api/callbacks?status=done", headers=boss)).json()
    assert {c["order_id"] for c in made} <= {o["id"] for o in returned}
    assert made, "the agent called back after the returns"
    history = await (
        await hotline.client.get(f"/api/orders/{returned[0]['id']}", headers=boss)
    ).json()
    assert [e["action"] for e in history["history"]][:1] == ["dispatched"]
    assert "return" in [e["action"] for e in history["history"]]


async def test_a_burst_from_one_community_becomes_an_incident_on_the_live_page(
    hotline_factory: HotlineFactory, db_url: str, udp: socket.socket
) -> None:
    hotline: Hotline = await hotline_factory(db_url, clock=SystemClock(), hep=True)
    for ext in sim.EXTENSIONS:
        await hotline.add_user(f"agent{ext}", "agent", ext)
    boss = await hotline.token("demo", "supervisor")
    svc = hotline.svc
    assert svc.tickets is not None and svc.incidents is not None
    agents = DemoAgents(svc.tickets, svc.hub, random.Random(9))
    agents.orders = svc.orders
    bursts = Bursts(svc.address_book(), svc.incidents, agents, random.Random(9), started=0.0)
    live = await hotline.client.ws_connect("/api/live", headers=boss)

    assert not bursts.due(demo_burst.FIRST_AFTER - 1) and bursts.due(demo_burst.FIRST_AFTER)
    assert await bursts.start(demo_burst.FIRST_AFTER) == "东兴里"
    callers = []
    while bursts.calling:
        caller = bursts.caller()
        if caller is not None:
            callers.append(caller)
    low, high = demo_burst.HOUSEHOLDS
    assert low <= len(set(callers)) == len(callers) <= high
    phones = len(sim.EXTENSIONS)
    for wave in range(0, len(callers), phones):  # the four phones at once
        on_phones = zip(sim.EXTENSIONS, callers[wave : wave + phones], strict=False)
        await asyncio.gather(*(_call(hotline, agents, udp, e, c) for e, c in on_phones))

    response = await hotline.client.get("/api/incidents?status=proposed", headers=boss)
    [proposal] = await response.json()
    assert proposal["area_label"].endswith("东兴里") and proposal["station"] == "dongxing"
    assert proposal["tickets"] == len(callers)
    while True:  # the live page heard it
        frame = await live.receive_json(timeout=5)
        if frame["type"] == "incidents" and frame["change"] is not None:
            assert frame["change"] == {"id": proposal["id"], "action": "proposed", "by": "service"}
            break
    await live.close()
    # The supervisor confirms it: the station keeps one order, the incident's (the orders
    # of the tickets sent before the proposal came are recalled).
    confirmed = await hotline.client.post(
        f"/api/incidents/{proposal['id']}/confirm", json={"cause": "主管道爆裂"}, headers=boss
    )
    body = await confirmed.json()
    assert confirmed.status == 200, body
    active = "/api/orders?status=sent,accepted,contacted"
    orders = await (await hotline.client.get(active, headers=boss)).json()
    assert [(o["station"], o["ticket_id"]) for o in orders] == [("dongxing", body["ticket"])]
    # The next burst is elsewhere: 东兴里 has its incident.
    assert await bursts.start(demo_burst.FIRST_AFTER + demo_burst.EVERY) not in (None, "东兴里")
