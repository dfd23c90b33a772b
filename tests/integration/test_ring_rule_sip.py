"""The ring rule on real SIP: SIPp phones call through a real Kamailio whose siptrace mirrors
every message as HEP3 to the service; alerts are read back from a real Mosquitto; state is
kept in a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import aiomqtt
import pytest
from aiohttp import ClientSession, web

from callcenter.app import SERVICES, Services, build
from callcenter.auth import service as auth_service
from callcenter.telephony.hep.decode import HepPacket, encode_hep
from tests.conftest import settings_for
from tests.integration import bench
from tests.waiting import eventually

CYCLE = 0.4  # seconds: limit 3 → the deadline falls 1.2 s after the first ring
AGENTS = {2001: "li.na", 2002: "wang.wei", 2003: "zhang.min"}


@dataclass
class Service:
    svc: Services
    base: str
    http: ClientSession
    headers: dict[str, str]

    async def get(self, path: str) -> Any:
        await self.svc.calls().settled()
        async with self.http.get(self.base + path, headers=self.headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def calls(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.get("/api/calls")
        return result

    async def violations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.get("/api/violations")
        return result


@pytest.fixture
async def service(
    kamailio: bench.KamailioProxy,
    hep_port: int,
    mosquitto: bench.MosquittoBroker,
    fresh_postgres_url: str,
) -> AsyncIterator[Service]:
    settings = settings_for(
        fresh_postgres_url,
        sip={"hep_listen": f"127.0.0.1:{hep_port}"},
        rings={"cycle_seconds": CYCLE, "limit": 3},
        mqtt={"url": mosquitto.url},
    )
    app = build(settings, migrate=True)
    runner = web.AppRunner(app)
    await runner.setup()
    port = bench.free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    svc = app[SERVICES]
    for ext, name in AGENTS.items():
        await auth_service.add_user(svc.db(), svc.clock, name, "agent", "password1", str(ext))
    await auth_service.add_user(svc.db(), svc.clock, "lead", "team_lead", "password1")
    token = await auth_service.create_token(svc.db(), svc.clock, "lead")
    await svc.directory.reload(svc.db())
    async with ClientSession() as http:
        yield Service(svc, f"http://127.0.0.1:{port}", http, {"Authorization": f"Bearer {token}"})
    await runner.cleanup()


@pytest.fixture
async def alerts(mosquitto: bench.MosquittoBroker) -> AsyncIterator[list[dict[str, Any]]]:
    """Ring-limit alerts as another system receives them from the broker."""
    received: list[dict[str, Any]] = []
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        await client.subscribe("callcenter/alerts/ring-limit", qos=1)

        async def read() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append(json.loads(message.payload))

        reader = asyncio.create_task(read())
        yield received
        reader.cancel()


async def test_answer_within_the_limit_is_on_time(
    service: Service, kamailio: bench.KamailioProxy, alerts: list[dict[str, Any]]
) -> None:
    result = await bench.place_call(kamailio, 2001, answer_after_ms=200)
    await eventually(lambda: _closed(service, 1))
    (call,) = await service.calls()
    assert call["sip_call_id"] == result.call_id
    assert call["caller"] == "13800000001" and call["extension"] == "2001"
    assert call["agent"] == "li.na" and call["outcome"] == "answered"
    assert call["rings"] == 1 and call["within_ring_limit"] is True
    assert call["hung_up_by"] == "caller"
    assert 0.1 < call["ring_seconds"] < CYCLE
    assert await service.violations() == [] and alerts == []


async def test_late_answer_raises_the_alert_at_the_deadline(
    service: Service, kamailio: bench.KamailioProxy, alerts: list[dict[str, Any]]
) -> None:
    await bench.place_call(kamailio, 2002, answer_after_ms=1800)
    await eventually(lambda: _closed(service, 1))
    (call,) = await service.calls()
    assert call["within_ring_limit"] is False and call["rings"] == 5
    (violation,) = await service.violations()
    assert violation["kind"] == "ring_limit" and violation["agent"] == "wang.wei"
    await eventually(lambda: _true(len(alerts) == 1))
    (alert,) = alerts
    assert alert["extension"] == "2002" and alert["agent"] == "wang.wei"
    assert alert["caller"] == "138****0001" and alert["rings"] == 4
    assert alert["violation_id"] == violation["id"]
    # Raised when the phone passed the deadline, not when the answer arrived 0.6 s later.
    lateness = _seconds(alert["raised_at"]) - _seconds(alert["deadline_at"])
    assert -0.05 < lateness < 0.5


async def test_caller_abandoning_while_ringing_is_no_violation(
    service: Service, kamailio: bench.KamailioProxy
) -> None:
    await bench.place_call(kamailio, 2001, cancel_after_ms=500)
    await eventually(lambda: _closed(service, 1))
    (call,) = await service.calls()
    assert call["outcome"] == "abandoned" and call["answered_at"] is None
    assert call["within_ring_limit"] is None
    assert await service.violations() == []


async def test_phone_ringing_past_the_limit_then_out_is_one_violation(
    service: Service, kamailio: bench.KamailioProxy, alerts: list[dict[str, Any]]
) -> None:
    result = await bench.place_call(kamailio, 2003)
    assert result.final_status == 480
    await eventually(lambda: _closed(service, 1))
    (call,) = await service.calls()
    assert call["outcome"] == "unanswered" and call["agent"] == "zhang.min"
    assert call["legs"][0]["outcome"] == "unanswered"
    # One fault per leg: the ring_limit row says how the leg ended; no second rang_out row.
    (violation,) = await service.violations()
    assert violation["kind"] == "ring_limit" and violation["leg_outcome"] == "unanswered"
    await eventually(lambda: _true(len(alerts) == 1))


async def test_agent_hanging_up_first_is_recorded(
    service: Service, kamailio: bench.KamailioProxy
) -> None:
    await bench.place_call(kamailio, 2001, answer_after_ms=200, agent_hangs_up_after_ms=300)
    await eventually(lambda: _closed(service, 1))
    (call,) = await service.calls()
    assert call["hung_up_by"] == "agent"
    (violation,) = await service.violations()
    assert violation["kind"] == "hung_up_first" and violation["agent"] == "li.na"


async def test_fifty_concurrent_calls_are_each_tracked_once(
    service: Service, kamailio: bench.KamailioProxy
) -> None:
    result = await bench.place_calls(kamailio, [2001] * 50, answer_after_ms=300, rate_per_s=100)
    await eventually(lambda: _closed(service, 50), within=20)
    calls = await service.calls()
    assert sorted(c["sip_call_id"] for c in calls) == sorted(result.call_ids)
    assert {c["outcome"] for c in calls} == {"answered"}
    assert all(c["agent"] == "li.na" and len(c["legs"]) == 1 for c in calls)
    stats = await service.get("/api/stats/answers")
    assert stats["total"]["offered"] == 50 and stats["total"]["answered"] == 50


async def test_garbage_on_the_hep_port_is_counted_and_the_service_keeps_working(
    service: Service, kamailio: bench.KamailioProxy, hep_port: int
) -> None:
    sip_without_call_id = b"INVITE sip:2001@x SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n"
    hep = HepPacket(2, 17, "10.0.0.1", "10.0.0.2", 5060, 5060, int(time.time()), 0, 1, 1, None,
                    sip_without_call_id, None)  # fmt: skip
    good = encode_hep(hep)
    rtcp = encode_hep(replace(hep, proto_type=5, payload=b"{}"))
    not_sip = encode_hep(replace(hep, payload=b"GET / HTTP/1.1\r\n\r\n"))
    datagrams = [
        bytes(range(256)),
        b"HEP3",
        good[:20],
        struct.pack("!4sH", b"HEP3", 6000) + b"\x00" * 10,
        not_sip,
        good,
        rtcp,
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in datagrams * 3:
            sock.sendto(data, ("127.0.0.1", hep_port))
    listener = service.svc.listener
    assert listener is not None
    await eventually(lambda: _true(listener.stats.datagrams >= 21))
    health = await service.get("/api/health")
    errors = health["hep"]["errors"]
    assert errors["sip:no-call-id"] == 3 and errors["sip:not-sip"] == 3
    assert sum(v for k, v in errors.items() if k.startswith("hep:")) == 12
    assert health["hep"]["ignored"] == 3
    await bench.place_call(kamailio, 2002, answer_after_ms=200)
    await eventually(lambda: _closed(service, 1))


async def _closed(service: Service, count: int) -> bool:
    calls = await service.calls()
    return len(calls) == count and all(c["ended_at"] is not None for c in calls)


async def _true(value: bool) -> bool:
    return value


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
