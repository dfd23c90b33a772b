"""A flood through the real SIP set-up: a main under 东兴里 broke and its incident is open;
300 calls from its residents reach 30 agents' SIPp phones through a real Kamailio whose
siptrace mirrors every message as HEP3 to the service (on PostgreSQL). Each agent's desk
pops the ringing call over /api/live and, once she has answered, files the desk's one key
(POST /api/incidents/{id}/report). Every call ends up on a ticket of the incident, one
ticket per household, the station gets one order, and closing the incident books a
callback for every household that called and for no other.

The residents: 250 households (flats of 东兴里 buildings 1–10), each with a number that
reported a repair last season, so the screen-pop knows their flat. 40 of them call again on
the same number and 10 again from another number (a family member's mobile, unknown to the
hotline: the agent types the flat the resident says). Every second call comes ~10 s after
the household's first, once its ticket exists. A flat in building 11 reported last season
too and never calls: nobody calls it back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from callcenter.app import SERVICES, Services, build
from callcenter.auth import service as auth_service
from callcenter.stations.model import route
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import Ticket
from tests.conftest import settings_for
from tests.integration import bench
from tests.waiting import eventually

pytestmark = pytest.mark.integration

AGENTS = 30  # extensions 2001–2030, agent2001…agent2030
HOUSEHOLDS = 250
AGAIN_SAME_PHONE = 40  # households 0–39 call twice on their number
AGAIN_OTHER_PHONE = 10  # households 40–49 call again from a phone the hotline never saw
AGAIN_AFTER = 100  # a second call comes after this many other first calls (~10 s)
RATE = 10.0  # calls started per second
ANSWER_MS = 300
TALK_MS = 2000
NEVER_CALLED = "东兴里11号楼1单元101"


@dataclass(frozen=True)
class Household:
    flat: str  # as the resident says it
    phone: str  # the number on record from last season
    other_phone: str  # a family member's mobile


def households() -> list[Household]:
    return [
        Household(
            flat=f"东兴里{1 + i // 25}号楼{1 + (i // 5) % 5}单元{1 + i % 5}01",
            phone=f"1391{i:07d}",
            other_phone=f"1582{i:07d}",
        )
        for i in range(HOUSEHOLDS)
    ]


def calls(homes: list[Household]) -> list[tuple[str, int]]:
    """(caller number, household) in the order they ring."""
    again = AGAIN_SAME_PHONE + AGAIN_OTHER_PHONE
    order: list[tuple[str, int]] = []
    for i, home in enumerate(homes):
        order.append((home.phone, i))
        k = i - AGAIN_AFTER
        if 0 <= k < again:
            second = homes[k].phone if k < AGAIN_SAME_PHONE else homes[k].other_phone
            order.append((second, k))
    return order


@dataclass
class Desk:
    """One agent at her desk: what her phone's pops showed and what her one key did."""

    extension: str
    headers: dict[str, str]
    pops: list[dict[str, Any]] = field(default_factory=list)
    reports: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Flood:
    svc: Services
    base: str
    http: aiohttp.ClientSession
    boss: dict[str, str]
    desks: list[Desk]

    async def get(self, path: str, **params: Any) -> Any:
        async with self.http.get(self.base + path, headers=self.boss, params=params) as r:
            assert r.status == 200, await r.text()
            return await r.json()


@pytest.fixture
async def flood(
    kamailio: bench.KamailioProxy, hep_port: int, fresh_postgres_url: str
) -> AsyncIterator[Flood]:
    settings = settings_for(
        fresh_postgres_url,
        sip={"hep_listen": f"127.0.0.1:{hep_port}"},
        rings={"cycle_seconds": 5.0, "limit": 3},
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    port = bench.free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    svc = app[SERVICES]
    db, clock = svc.db(), svc.clock
    desks = []
    for n in range(AGENTS):
        ext = str(2001 + n)
        name = f"agent{ext}"
        await auth_service.add_user(db, clock, name, "agent", "password1", ext, work_number=ext)
        token = await auth_service.create_token(db, clock, name)
        desks.append(Desk(ext, {"Authorization": f"Bearer {token}"}))
    await auth_service.add_user(db, clock, "boss", "supervisor", "password1")
    boss = {"Authorization": f"Bearer {await auth_service.create_token(db, clock, 'boss')}"}
    await svc.directory.reload(db)
    async with aiohttp.ClientSession() as http:
        yield Flood(svc, f"http://127.0.0.1:{port}", http, boss, desks)
    await runner.cleanup()


async def last_season(svc: Services, homes: list[Household]) -> None:
    """Each household's repair of last winter, closed: the flat its number gave."""
    book = svc.address_book()
    at = datetime.now(UTC) - timedelta(days=300)
    said = [(h.flat, h.phone) for h in homes] + [(NEVER_CALLED, "13919999999")]
    async with svc.db().begin() as conn:
        for n, (flat, phone) in enumerate(said):
            routing = route(book, flat)
            ticket = Ticket(
                id=f"lastseason{n:022d}",
                kind="repair",
                status="closed",
                reporter_name="住户",
                phone=phone,
                address_typed=flat,
                address_standard=routing.standard,
                address_routing=routing.status,
                address_reason=routing.reason,
                station_proposed=routing.station,
                station=routing.station,
                category="not_hot",
                fault_location=None,
                severity="minor",
                description="暖气不热",
                agent_id=None,
                agent_work_number=None,
                created_at=at,
                updated_at=at,
            )
            await tickets_store.insert_ticket(conn, ticket)


async def work_the_desk(
    flood: Flood, desk: Desk, incident: str, flats: dict[str, str], busy: set[asyncio.Task[None]]
) -> None:
    """Her live socket: each ring of her phone pops the caller; answered, she reports it."""
    url = flood.base + "/api/live"
    async with flood.http.ws_connect(url, headers=desk.headers) as ws:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = msg.json()
            if frame.get("type") == "phone_rang" and frame["extension"] == desk.extension:
                task = asyncio.create_task(answer(flood, desk, incident, frame, flats))
                busy.add(task)
                task.add_done_callback(busy.discard)


async def answer(
    flood: Flood, desk: Desk, incident: str, frame: dict[str, Any], flats: dict[str, str]
) -> None:
    http, base, call = flood.http, flood.base, frame["call_id"]
    try:
        async with http.get(
            base + "/api/screen-pop", params={"call": call}, headers=desk.headers
        ) as r:
            assert r.status == 200, await r.text()
            pop = await r.json()
        desk.pops.append(pop)
        await asyncio.sleep((ANSWER_MS + 200) / 1000)  # she has answered and listens
        body: dict[str, Any] = {"call": call}
        if not pop["incidents"]:
            # No flat on record for this number: she types the one the resident says, and
            # the desk names the incident there.
            flat = flats[frame["caller"]]
            async with http.get(
                base + "/api/incidents/lookup", params={"address": flat}, headers=desk.headers
            ) as r:
                found = await r.json()
            assert [i["id"] for i in found["incidents"]] == [incident], found
            body["address"] = flat
        async with http.post(
            f"{base}/api/incidents/{incident}/report", json=body, headers=desk.headers
        ) as r:
            desk.reports.append((r.status, await r.json()))
    except (AssertionError, aiohttp.ClientError) as exc:
        desk.errors.append(f"{frame['caller']}: {exc}")


async def test_a_flood_of_300_calls_from_one_community_is_one_incident(
    flood: Flood, kamailio: bench.KamailioProxy
) -> None:
    svc = flood.svc
    homes = households()
    await last_season(svc, homes)
    opened = time.monotonic()
    async with flood.http.post(
        flood.base + "/api/incidents",
        json={"area": [{"kind": "community", "name": "东兴里"}], "cause": "主管道爆裂"},
        headers=flood.boss,
    ) as r:
        assert r.status == 201, await r.text()
        incident = (await r.json())["id"]

    plan = calls(homes)
    flats = {h.other_phone: h.flat for h in homes}  # what those callers will say
    busy: set[asyncio.Task[None]] = set()
    sockets = [
        asyncio.create_task(work_the_desk(flood, d, incident, flats, busy)) for d in flood.desks
    ]
    await eventually(lambda: len(svc.hub.clients) == AGENTS)
    started = time.monotonic()
    try:
        placed = await bench.place_calls(
            kamailio,
            [2001 + n % AGENTS for n in range(len(plan))],
            callers=[caller for caller, _ in plan],
            answer_after_ms=ANSWER_MS,
            caller_hangs_up_after_ms=TALK_MS,
            rate_per_s=RATE,
        )
        reported = lambda: sum(len(d.reports) + len(d.errors) for d in flood.desks)  # noqa: E731
        await eventually(lambda: reported() == len(plan), within=30)
    finally:
        for task in sockets:
            task.cancel()
        await asyncio.gather(*sockets, *busy, return_exceptions=True)
    flooded = time.monotonic() - started
    await svc.calls().settled()

    desks = flood.desks
    assert [e for d in desks for e in d.errors] == []
    reports = [(status, body) for d in desks for status, body in d.reports]
    assert sorted({s for s, _ in reports}) == [200, 201], reports[:3]
    created = [b["ticket"] for s, b in reports if s == 201]
    again = [b["ticket"] for s, b in reports if s == 200]
    assert (len(created), len(again)) == (HOUSEHOLDS, AGAIN_SAME_PHONE + AGAIN_OTHER_PHONE)
    # The pop named the incident for every number the hotline knew (the flat on record).
    pops = [p for d in desks for p in d.pops]
    named = [p for p in pops if p["incidents"]]
    assert len(pops) == len(plan) and len(named) == len(plan) - AGAIN_OTHER_PHONE
    assert {i["id"] for p in named for i in p["incidents"]} == {incident}

    # Every call of the flood is on a ticket of the incident, one ticket per household.
    detail = await flood.get(f"/api/incidents/{incident}")
    assert (detail["tickets"], detail["calls"]) == (HOUSEHOLDS, len(plan))
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    db_calls = await flood.get("/api/calls", **{"from": since, "limit": "1000"})
    call_of = {c["sip_call_id"]: c["id"] for c in db_calls}
    assert sorted(call_of) == sorted(placed.call_ids)
    linked: dict[str, list[str]] = {}
    for ticket_id in detail["ticket_ids"]:
        ticket = await flood.get(f"/api/tickets/{ticket_id}")
        assert ticket["incident"] == incident and ticket["status"] == "dispatched"
        linked[ticket["address_standard"]] = [c["id"] for c in ticket["calls"]]
    every = sorted(c for ids in linked.values() for c in ids)
    assert every == sorted(call_of.values())  # each call linked once, to its household
    standard = {h.flat: svc.ticket_service().standard_address(h.flat) for h in homes}
    assert sorted(linked) == sorted(standard.values())
    twice = {standard[homes[k].flat] for k in range(AGAIN_SAME_PHONE + AGAIN_OTHER_PHONE)}
    assert {a for a, ids in linked.items() if len(ids) == 2} == twice

    # The station got one order: the incident's, not one per call.
    orders = await flood.get("/api/orders", station="dongxing")
    assert [o["ticket_id"] for o in orders] == [detail["ticket"]]
    async with svc.db().connect() as conn:
        sent = await conn.scalar(
            text("SELECT count(*) FROM order_outbox WHERE kind = 'order' AND station = 'dongxing'")
        )
    assert sent == 1

    async with flood.http.post(
        f"{flood.base}/api/incidents/{incident}/close",
        json={"note": "主管道焊好，已恢复供热"},
        headers=flood.boss,
    ) as r:
        assert r.status == 200, await r.text()
    due = await flood.get("/api/callbacks", status="due", limit="1000")
    assert sorted(c["ticket_id"] for c in due) == sorted(detail["ticket_ids"])
    called_back = set()
    for callback in due:
        ticket = await flood.get(f"/api/tickets/{callback['ticket_id']}")
        called_back.add(ticket["address_standard"])
    assert called_back == set(standard.values())
    assert svc.ticket_service().standard_address(NEVER_CALLED) not in called_back
    print(
        f"\nflood: {len(plan)} calls through Kamailio in {flooded:.1f} s "
        f"(opened → closed {time.monotonic() - opened:.1f} s), {HOUSEHOLDS} tickets"
    )
