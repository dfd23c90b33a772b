"""The active/standby pair for real: two `callcenter serve` processes on one PostgreSQL and
one Mosquitto, HEP mirrored to both. The active is killed (-9) with 200 phones ringing and
repair orders falling due; the standby takes over and every alert is raised exactly once, on
the broker and in the database, those whose deadline fell in the gap marked late with their
lateness."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from callcenter import db
from callcenter.ha.witness import Witness
from callcenter.mqtt.publisher import MqttPublisher
from tests.integration import bench
from tests.integration.pair import (
    ACCEPT_SECONDS,
    Collector,
    Instance,
    dispatch_orders,
    epoch,
    failover_legs,
    health,
    make_pair,
    mirror,
    prepare_database,
    wait_role,
)
from tests.waiting import eventually

KILL_AFTER = 4.9  # seconds after the first call: 200 phones ring, a third of the deadlines gone
ORDERS = 30

Rig = tuple[str, Instance, Instance, Collector]


@pytest.fixture
async def rig(
    postgres: bench.PostgresCluster, mosquitto: bench.MosquittoBroker, tmp_path: Path
) -> AsyncIterator[Rig]:
    name = postgres.create_database()
    url = postgres.url(name)
    a, b = make_pair(tmp_path, url, mosquitto.port)
    collector = Collector(mosquitto.port)
    listening = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.ready.wait(), 10)
        yield url, a, b, collector
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        for inst in (a, b):
            inst.stop()
        postgres.drop_database(name)


async def query(url: str, sql: str) -> list[Any]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return list(await conn.execute(text(sql)))
    finally:
        await engine.dispose()


async def all_acknowledged(url: str) -> bool:
    return not await query(url, "SELECT id FROM alerts WHERE published_at IS NULL")


async def start_pair(session: aiohttp.ClientSession, a: Instance, b: Instance) -> None:
    a.start()
    await wait_role(session, a, "active")
    b.start()
    await wait_role(session, b, "standby")


@pytest.mark.parametrize("how", ["killed", "frozen then resumed"])
async def test_losing_the_active_with_200_phones_ringing_loses_and_doubles_no_alert(
    rig: Rig, how: str
) -> None:
    # killed: kill -9, its sockets closed at once. frozen: SIGSTOP, a host gone silent, only
    # PostgreSQL's idle_session_timeout ends its lock session; resumed after the takeover, it
    # must send nothing it had queued, and stop.
    url, a, b, collector = rig
    tokens = await prepare_database(url)
    async with aiohttp.ClientSession() as session:
        await start_pair(session, a, b)
        t0 = time.time() + 2.5
        legs = failover_legs(random.Random(17), t0, KILL_AFTER)
        sending = asyncio.create_task(mirror(legs, [a.hep_port, b.hep_port]))
        # Orders whose acceptance falls due between 1 s before the kill and 2 s after it.
        first = t0 + KILL_AFTER - 1.0 - ACCEPT_SECONDS
        at = [first + 3.0 * n / ORDERS for n in range(ORDERS)]
        dues = await dispatch_orders(session, a, tokens["agent"], at)
        await asyncio.sleep(t0 + KILL_AFTER - time.time())
        ringing = sum(1 for leg in legs if leg.start < t0 + KILL_AFTER)
        killed_at = a.kill() if how == "killed" else a.freeze()
        await wait_role(session, b, "active", within=10)
        ha = (await health(session, b, tokens["lead"]))["ha"]
        if how != "killed":
            a.resume()
            await eventually(lambda: a.exit_code() == 75, within=10)
        await sending
        expected = {leg.call.call_id for leg in legs if leg.alerted}
        await eventually(lambda: len(collector.ring) >= len(expected), within=20)
        await eventually(lambda: len(collector.anomalies) >= ORDERS, within=20)
        await asyncio.sleep(1.0)  # a doubled message would have arrived by now
    assert ringing == 200 and len(expected) == 170
    assert min(dues) < killed_at < max(dues)

    # On the broker: one message per leg past its deadline, none for the others, each
    # repair order's anomaly once.
    per_call = Counter(m["sip_call_id"] for m in collector.ring)
    assert set(per_call) == expected and set(per_call.values()) == {1}
    assert len({m["alert_id"] for m in collector.ring}) == len(collector.ring)
    assert Counter(m["order_id"] for m in collector.anomalies).most_common(1)[0][1] == 1
    assert len(collector.anomalies) == ORDERS

    # In the database: one ring-limit violation per leg (not a late answer besides), one
    # alert row per alert, every one acknowledged by the broker.
    violations = await query(
        url, "SELECT c.sip_call_id, v.kind FROM violations v JOIN calls c ON c.id = v.call_pk"
    )
    assert Counter(r.sip_call_id for r in violations if r.kind == "ring_limit") == Counter(expected)
    assert not [r for r in violations if r.kind == "late_answer"]
    alerts = await query(url, "SELECT kind, raised_by, late, due_at, published_at FROM alerts")
    assert Counter(r.kind for r in alerts) == {"ring_limit": 170, "anomaly": ORDERS}
    await eventually(lambda: all_acknowledged(url))
    assert {r.raised_by for r in alerts} == {"a", "b"}

    # Late: b raised late exactly what fell due before it held the lock, on time the rest.
    took_over = epoch(ha["took_over_at"])
    locked_at = took_over - ha["takeover_seconds"]
    assert killed_at < locked_at < took_over < killed_at + 3.0  # ha.takeover_seconds
    for row in alerts:
        due = row.due_at.timestamp()
        if row.raised_by == "b" and due < locked_at:
            assert row.late
        if due > took_over:
            assert not row.late
    late = [m for m in collector.ring + collector.anomalies if m["late"]]
    assert len(late) >= 20  # the deadlines clustered just after the kill, at least
    for message in late:
        raised, lateness = epoch(message["raised_at"]), message["lateness_seconds"]
        due = epoch(message.get("deadline_at") or message["occurred_at"])
        assert killed_at - 0.5 < due < took_over and 0 < lateness
        assert abs(raised - due - lateness) < 0.002


async def test_the_standby_writes_nothing_until_it_takes_over(
    rig: Rig, postgres: bench.PostgresCluster
) -> None:
    url, a, b, collector = rig
    tokens = await prepare_database(url)
    # b works as a database role that may only read: a write it tried would be refused and
    # logged by PostgreSQL ("permission denied").
    database = url.rsplit("/", 1)[1]
    postgres.psql(
        "DROP ROLE IF EXISTS standby_reader; CREATE ROLE standby_reader LOGIN; "
        f'GRANT CONNECT ON DATABASE "{database}" TO standby_reader; '
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO standby_reader;",
        database=database,
    )
    b.config.write_text(b.config.read_text().replace("postgres@", "standby_reader@", 1))
    logged = postgres.log_path.stat().st_size
    async with aiohttp.ClientSession() as session:
        await start_pair(session, a, b)
        t0 = time.time() + 0.3
        legs = failover_legs(random.Random(5), t0, 2.0)[:40]
        await mirror(legs, [a.hep_port, b.hep_port])
        due = {leg.call.call_id for leg in legs if leg.alerted}
        await eventually(lambda: len(collector.ring) >= len(due), within=20)
        assert (await health(session, b, tokens["lead"]))["ha"]["active"] == "a"
        assert "permission denied" not in postgres.log_path.read_text()[logged:]
        # The check does see writes: b, active now, tries to write and is refused.
        a.kill()
        await wait_role(session, b, "active", within=10)
        await eventually(
            lambda: "permission denied" in postgres.log_path.read_text()[logged:], within=10
        )
        b.kill()
    assert {m["sip_call_id"] for m in collector.ring} == due


async def test_an_active_that_loses_its_lock_session_stops_and_the_standby_takes_over(
    rig: Rig,
) -> None:
    url, a, b, _ = rig
    await prepare_database(url)
    async with aiohttp.ClientSession() as session:
        await start_pair(session, a, b)
        await query(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE application_name = 'callcenter ha a'")  # fmt: skip
        await eventually(lambda: a.exit_code() is not None, within=10)
        await wait_role(session, b, "active", within=10)
    assert a.exit_code() == 75
    assert "lost the leadership lock" in a.log.read_text()


async def test_the_witness_sees_what_went_through_the_broker(
    mosquitto: bench.MosquittoBroker,
) -> None:
    topic, barrier = "wt/alerts/ring-limit", "wt/ha/barrier/b"
    witness = Witness("127.0.0.1", mosquitto.port, None, None, "wt-witness", [topic], barrier)
    watching = asyncio.create_task(witness.run())
    publisher = MqttPublisher("127.0.0.1", mosquitto.port, client_id="wt-active")
    publishing = asyncio.create_task(publisher.run())
    try:
        await eventually(lambda: publisher.connected)
        await eventually(witness.barrier)  # subscribed: its own marker comes back
        since = datetime.now(UTC)
        publisher.publish(topic, {"alert_id": "went-out"})
        await eventually(lambda: publisher.published == 1)
        assert await witness.barrier()
        assert witness.seen("went-out") and not witness.seen("never-sent")
        assert witness.covers(since)
    finally:
        for task in (watching, publishing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
