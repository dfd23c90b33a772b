"""Orders reach their stations at least once through a real Mosquitto and the station client
(`callcenter station-client`'s own class), or through a signed webhook: delivered when the
broker comes back, acknowledged once, never resent after the ack; bad acks refused and
counted on /api/health; a webhook that keeps failing is parked."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp import web
from sqlalchemy import text

from callcenter.app import SERVICES, build
from callcenter.clock import SystemClock
from callcenter.orders import store
from callcenter.orders.outbox import OutboxSender
from callcenter.orders.station_client import StationClient
from tests.api.test_tickets_api import person, take
from tests.conftest import Hotline, settings_for
from tests.integration import bench
from tests.waiting import eventually as until

SECRET = "s3cret-for-the-xingfu-webhook"


@pytest.fixture
def prefix() -> str:
    # Each test has its own topics and persistent sessions on the shared broker.
    return f"cc{uuid.uuid4().hex[:8]}"


async def hotline(
    aiohttp_client: Any, tmp_path: Path, broker: bench.MosquittoBroker, prefix: str, **orders: Any
) -> Hotline:
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path}/cc.sqlite3",
        mqtt={"url": broker.url, "topic_prefix": prefix},
        # Long enough that a loaded machine does not resend before the ack; tests of resends
        # pass their own.
        orders={"resend_seconds": 30, **orders},
    )
    clock = SystemClock()
    app = build(settings, clock=clock, migrate=True, mqtt=True, hep=False)
    client = await aiohttp_client(app)
    return Hotline(client, app[SERVICES], clock)


def sender(h: Hotline) -> OutboxSender:
    assert h.svc.outbox is not None
    return h.svc.outbox


@contextlib.asynccontextmanager
async def station(
    broker: bench.MosquittoBroker, prefix: str, code: str = "xingfu"
) -> AsyncIterator[tuple[StationClient, list[str]]]:
    shown: list[str] = []
    client = StationClient(code, broker.url, prefix=prefix, out=shown.append)
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: client.connected)
        yield client, shown
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def dispatched(h: Hotline) -> tuple[dict[str, str], dict[str, Any]]:
    agent = await person(h, "li.na", "agent", "2001", "007")
    ticket = await take(h, agent)
    response = await h.client.post(f"/api/tickets/{ticket['id']}/dispatch", headers=agent)
    assert response.status == 201, await response.text()
    return agent, await response.json()


async def order(h: Hotline, who: dict[str, str], order_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await (await h.client.get(f"/api/orders/{order_id}", headers=who)).json()
    return body


async def messages(h: Hotline) -> list[dict[str, Any]]:
    async with h.svc.db().connect() as conn:
        rows = await conn.execute(text("SELECT * FROM order_outbox ORDER BY created_at"))
        return [dict(r._mapping) for r in rows]


async def never_resent(h: Hotline) -> None:
    """Nothing is left to send, not even an hour from now."""
    async with h.svc.db().connect() as conn:
        later = h.clock.now() + timedelta(hours=1)
        assert await store.due_messages(conn, later, 10) == []


async def health(h: Hotline) -> dict[str, Any]:
    lead = await h.token(f"lead{uuid.uuid4().hex[:6]}", "team_lead")
    body: dict[str, Any] = await (await h.client.get("/api/health", headers=lead)).json()
    return body


async def test_an_order_reaches_the_station_client_which_prints_and_acks_it_once(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix)
    async with station(mosquitto, prefix) as (client, shown):
        agent, sent = await dispatched(h)
        await until(lambda: client.acks_sent)
        got = await until(lambda: _delivered(h, agent, sent["id"]))
    assert got["delivered_via"] == "mqtt"
    assert [e["action"] for e in got["history"]] == ["dispatched", "delivered"]
    [block] = shown
    assert sent["id"] in block and "张秀英  13800000001" in block
    assert "城关区幸福路幸福里3号楼2单元502室" in block and "整屋不热" in block
    assert "(Asia/Shanghai)" in block
    [message] = await messages(h)
    assert message["acked_at"] is not None and message["attempts"] == 1
    await never_resent(h)
    body = await until(lambda: _health_when(h, lambda o: o["pending"] == 0))
    assert body["orders"]["acked"] == 1 and body["orders"]["sent"] == 1
    assert body["orders"]["mqtt_connected"] is True and body["status"] == "ok"


async def _delivered(h: Hotline, who: dict[str, str], order_id: str) -> dict[str, Any] | None:
    body = await order(h, who, order_id)
    return body if body["delivered_at"] else None


async def _health_when(h: Hotline, check: Any) -> dict[str, Any] | None:
    body = await health(h)
    return body if check(body["orders"]) else None


async def test_an_order_dispatched_while_the_broker_is_down_goes_out_when_it_is_back(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix)
    await until(lambda: sender(h).connected)
    async with station(mosquitto, prefix) as (client, shown):
        mosquitto.stop()
        try:
            await until(lambda: not sender(h).connected)
            agent, sent = await dispatched(h)  # the order commits without a broker
            [message] = await messages(h)
            assert message["sent_at"] is None and message["attempts"] == 0
        finally:
            mosquitto.start()
        got = await until(lambda: _delivered(h, agent, sent["id"]), within=25)
    assert got["delivered_via"] == "mqtt"
    assert len(shown) == 1 and client.printed[0]["order"]["id"] == sent["id"]


async def test_a_broker_restart_between_dispatch_and_ack_loses_nothing_and_prints_once(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix, resend_seconds=0.5)
    async with station(mosquitto, prefix):
        pass  # the station's persistent session exists; its client is now away
    agent, sent = await dispatched(h)

    async def taken() -> bool:
        return bool((await messages(h))[0]["sent_at"])

    await until(taken)  # the broker has it (PUBACK), nobody acknowledged it
    mosquitto.restart()
    async with station(mosquitto, prefix) as (client, shown):
        got = await until(lambda: _delivered(h, agent, sent["id"]), within=25)
        # The broker's queued copy and the service's resends may both arrive: every copy is
        # acknowledged (a resend may still be in flight), one is printed.
        await until(lambda: client.acks_sent == 1 + client.duplicates)
        assert len(shown) == 1
    assert [e["action"] for e in got["history"]].count("delivered") == 1
    await never_resent(h)


async def test_duplicate_acks_and_a_resent_order_change_nothing(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix)
    async with station(mosquitto, prefix) as (client, shown):
        agent, sent = await dispatched(h)
        first = await until(lambda: _delivered(h, agent, sent["id"]))
        [message] = await messages(h)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as other:
            ack = json.dumps({"message_id": message["id"], "order_id": sent["id"]})
            for _ in range(3):
                await other.publish(f"{prefix}/stations/xingfu/acks", ack, qos=1)
            # The same order again, as a resend whose first ack was lost.
            topic = f"{prefix}/stations/xingfu/orders"
            await other.publish(topic, message["payload"], qos=1)
            await until(lambda: client.duplicates == 1 and client.acks_sent == 2)
        await until(lambda: sender(h).duplicate_acks == 4)
    assert len(shown) == 1
    again = await order(h, agent, sent["id"])
    assert again["delivered_at"] == first["delivered_at"]
    assert [e["action"] for e in again["history"]] == ["dispatched", "delivered"]
    assert sender(h).acked == 1


async def test_a_recall_reaches_the_station_and_its_ack_retires_it(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix)
    async with station(mosquitto, prefix) as (client, shown):
        agent, sent = await dispatched(h)
        first = await until(lambda: _delivered(h, agent, sent["id"]))
        recalled = await h.client.post(
            f"/api/orders/{sent['id']}/recall", json={"reason": "住户已自行修好"}, headers=agent
        )
        assert recalled.status == 200, await recalled.text()
        await until(lambda: client.acks_sent == 2)

        async def retired() -> bool:
            return all(m["acked_at"] is not None for m in await messages(h))

        await until(retired)
    assert "撤单 RECALL" in shown[1] and "住户已自行修好" in shown[1]
    after = await order(h, agent, sent["id"])
    assert after["status"] == "recalled" and after["delivered_at"] == first["delivered_at"]
    assert [e["action"] for e in after["history"]] == ["dispatched", "delivered", "recalled"]
    await never_resent(h)


async def test_bad_acks_are_refused_counted_and_change_nothing(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix, resend_seconds=600)
    await until(lambda: sender(h).connected)
    agent, sent = await dispatched(h)  # no station client: the order stays unacknowledged
    [message] = await messages(h)
    own = {"message_id": message["id"], "order_id": sent["id"]}
    bad: list[tuple[str, bytes | str]] = [
        ("xingfu", b"x" * 5000),
        ("xingfu", b"\xff\xfe not json"),
        ("xingfu", "[1, 2]"),
        ("xingfu", json.dumps({"message_id": 7, "order_id": sent["id"]})),
        ("xingfu", json.dumps({"message_id": uuid.uuid4().hex, "order_id": sent["id"]})),
        ("jinbao", json.dumps(own)),  # another station acking xingfu's message
        ("xingfu", json.dumps({**own, "order_id": uuid.uuid4().hex})),
    ]
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as other:
        for code, payload in bad:
            await other.publish(f"{prefix}/stations/{code}/acks", payload, qos=1)
    expected = {
        "oversized": 1,
        "malformed": 3,
        "unknown-message": 1,
        "other-station": 1,
        "order-mismatch": 1,
    }
    body = await until(
        lambda: _health_when(h, lambda o: o["refused_acks"] == expected and o["pending"] == 1)
    )
    assert body["orders"]["acked"] == 0 and body["orders"]["duplicate_acks"] == 0
    assert (await order(h, agent, sent["id"]))["delivered_at"] is None
    assert (await messages(h))[0]["acked_at"] is None
    assert sender(h).connected  # the listener survived it all


async def test_the_station_client_survives_garbage_on_its_topic(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix)
    async with station(mosquitto, prefix) as (client, shown):
        garbage: list[bytes | str] = [
            b"\x00\x01\x02",
            "not json",
            json.dumps({"schema": "callcenter.order/9", "type": "order"}),
            json.dumps({"schema": "callcenter.order/1", "type": "order", "message_id": "m"}),
            json.dumps({"schema": "callcenter.order/1", "type": "bill"}),
            b"{" * 300_000,
        ]
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as other:
            for payload in garbage:
                await other.publish(f"{prefix}/stations/xingfu/orders", payload, qos=1)
        await until(lambda: sum(client.rejected.values()) == len(garbage))
        agent, sent = await dispatched(h)
        await until(lambda: _delivered(h, agent, sent["id"]))
        await until(lambda: client.acks_sent == 1)
    assert client.rejected == {
        "malformed": 3,
        "unknown-schema": 1,
        "unknown-type": 1,
        "oversized": 1,
    }
    assert len(shown) == 1


class Receiver:
    """A station's webhook endpoint that checks what docs/station-orders.md tells it to."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.refused: list[str] = []
        self.seen: set[str] = set()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers.get("X-Callcenter-Timestamp", "")
        signed = request.headers.get("X-Callcenter-Signature", "")
        expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            self.refused.append("stale")
            return web.Response(status=401)
        if not hmac.compare_digest(f"sha256={expected.hexdigest()}", signed):
            self.refused.append("signature")
            return web.Response(status=401)
        message = json.loads(body)
        self.bodies.append(message)
        if message["message_id"] in self.seen:
            return web.Response(status=200)  # a retry of one already taken: taken once
        if self.status < 300:
            self.seen.add(message["message_id"])
        return web.Response(status=self.status)


@contextlib.asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/orders", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = bench.free_tcp_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/orders"
    finally:
        await runner.cleanup()


async def test_a_webhook_gets_the_order_signed_and_its_2xx_acknowledges_it(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    receiver = Receiver()
    async with receiving(receiver) as url:
        terms = {"mqtt": False, "webhook_url": url, "webhook_secret": SECRET}
        h = await hotline(aiohttp_client, tmp_path, mosquitto, prefix, stations={"xingfu": terms})
        agent, sent = await dispatched(h)
        got = await until(lambda: _delivered(h, agent, sent["id"]))
    assert got["delivered_via"] == "webhook"
    assert receiver.refused == []
    [body] = receiver.bodies
    assert body["schema"] == "callcenter.order/1" and body["order"]["id"] == sent["id"]
    [message] = await messages(h)
    assert message["channel"] == "webhook" and message["acked_at"] is not None
    await never_resent(h)


async def test_a_webhook_answering_500_is_retried_then_parked_and_shown_on_health(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, prefix: str
) -> None:
    receiver = Receiver(status=500)
    async with receiving(receiver) as url:
        terms = {"mqtt": False, "webhook_url": url, "webhook_secret": SECRET}
        h = await hotline(
            aiohttp_client,
            tmp_path,
            mosquitto,
            prefix,
            resend_seconds=0.2,
            webhook_retry_hours=1.5 / 3600,
            stations={"xingfu": terms},
        )
        agent, sent = await dispatched(h)
        body = await until(lambda: _health_when(h, lambda o: o["parked"] == 1), within=15)
    assert body["status"] == "degraded"
    assert any(r.startswith("orders: 1 messages parked") for r in body["reasons"])
    assert body["orders"]["webhook_failures"] >= 2 and body["orders"]["pending"] == 0
    [message] = await messages(h)
    assert message["parked_at"] is not None and message["last_error"].startswith("HTTP 500")
    assert message["attempts"] == len(receiver.bodies) >= 2
    assert receiver.refused == []  # every retry was signed afresh
    assert (await order(h, agent, sent["id"]))["delivered_at"] is None
    await never_resent(h)
