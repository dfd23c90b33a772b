"""Benchmark: GET /metrics scrape time on a big database, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_metrics.py                 # 300,000 orders, SQLite
    .venv/bin/python scripts/bench_metrics.py --postgres      # and a throw-away PostgreSQL 15
    .venv/bin/python scripts/bench_metrics.py --orders 20000  # a quick look

The database is migrated as the service does it and filled by bulk insert with years of a
hotline's repair work: `--orders` tickets, each with one order (1 % still at a station:
sent, accepted or contacted; the rest returned, refused or recalled) and `--anomalies`
anomalies (0.5 % awaiting their report, 5 % complaints of which 1 in 10 still open). The
real app then starts on it (metrics.token set, one core) with `--ringing` calls ringing in
the call tracker, and is scraped `--scrapes` times over HTTP, one after another. Printed:
the scrape as the client sees it (request to last byte), the database part of it (the
service's own callcenter_metrics_database_seconds) and the body's size.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sqlalchemy import text  # noqa: E402

from callcenter import db  # noqa: E402
from callcenter import signals as t  # noqa: E402
from callcenter.anomalies.model import ANOMALY_KINDS, COMPLAINTS  # noqa: E402
from callcenter.anomalies.store import anomalies  # noqa: E402
from callcenter.app import SERVICES, build  # noqa: E402
from callcenter.auth.store import users  # noqa: E402
from callcenter.config import parse_settings  # noqa: E402
from callcenter.orders.store import orders  # noqa: E402
from callcenter.tickets.store import tickets  # noqa: E402

CORE = 0
CHUNK = 5_000
AGENTS = 50
TOKEN = "bench-metrics-0123456789"
ACTIVE = ("sent", "accepted", "contacted")
DONE = ("returned", "returned", "returned", "returned", "refused", "recalled")
OTHER_KINDS = [k for k in ANOMALY_KINDS if k not in COMPLAINTS]


def ticket_row(ticket_id: str, agent: int, at: datetime) -> dict[str, Any]:
    return {
        "id": ticket_id, "kind": "repair", "status": "dispatched", "reporter_name": "住户",
        "phone": "13800000001", "address_typed": "幸福里3-2-502",
        "address_standard": "城关区幸福路幸福里3号楼2单元502室", "address_routing": "matched",
        "address_reason": "", "station_proposed": "xingfu", "station": "xingfu",
        "station_overridden": False, "category": "not_hot", "fault_location": "卧室",
        "severity": "major", "description": "暖气不热", "agent_id": agent,
        "agent_work_number": None, "created_at": at, "updated_at": at,
    }  # fmt: skip


def order_row(order_id: str, ticket_id: str, status: str, at: datetime) -> dict[str, Any]:
    return {
        "id": order_id, "ticket_id": ticket_id, "station": "xingfu", "round": 1,
        "status": status, "dispatched_at": at, "dispatched_by": "agent1",
        "accept_due": at + timedelta(minutes=30), "contact_due": at + timedelta(hours=1),
        "repair_due": at + timedelta(hours=4),
    }  # fmt: skip


def anomaly_row(rng: random.Random, ticket_id: str, order_id: str, at: datetime) -> dict[str, Any]:
    complaint = rng.random() < 0.05
    kind = rng.choice(sorted(COMPLAINTS)) if complaint else rng.choice(OTHER_KINDS)
    awaiting = rng.random() < 0.005
    return {
        "id": uuid.uuid4().hex, "kind": kind, "source": "service", "occurred_at": at,
        "raised_at": at, "ticket_id": ticket_id, "order_id": order_id, "station": "xingfu",
        "agent_id": rng.randint(1, AGENTS), "detail": "",
        "report_due": at + timedelta(minutes=30),
        "reported_at": None if awaiting else at + timedelta(minutes=10),
        "reported_by": None if awaiting else "agent1",
        "closed_at": None if not complaint or rng.random() < 0.1 else at + timedelta(hours=3),
    }  # fmt: skip


async def fill(url: str, count: int, anomaly_count: int, seed: int) -> float:
    rng = random.Random(seed)
    engine = db.create_engine(url)
    began = time.perf_counter()
    now = datetime.now(UTC)
    try:
        await db.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(
                users.insert(),
                [{"name": f"agent{i}", "role": "agent", "password_hash": "x", "disabled": False,
                  "created_at": now} for i in range(1, AGENTS + 1)],
            )  # fmt: skip
        for start in range(0, count, CHUNK):
            ticket_rows, order_rows, anomaly_rows = [], [], []
            for n in range(start, min(count, start + CHUNK)):
                at = now - timedelta(minutes=(count - n) * 3)  # years of history, newest last
                ticket_id, order_id = uuid.uuid4().hex, uuid.uuid4().hex
                status = rng.choice(ACTIVE) if rng.random() < 0.01 else rng.choice(DONE)
                ticket_rows.append(ticket_row(ticket_id, rng.randint(1, AGENTS), at))
                order_rows.append(order_row(order_id, ticket_id, status, at))
                if n * anomaly_count // count != (n + 1) * anomaly_count // count:
                    anomaly_rows.append(anomaly_row(rng, ticket_id, order_id, at))
            async with engine.begin() as conn:
                await conn.execute(tickets.insert(), ticket_rows)
                await conn.execute(orders.insert(), order_rows)
                if anomaly_rows:
                    await conn.execute(anomalies.insert(), anomaly_rows)
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - began


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def scrape_all(url: str, tmp: Path, ringing: int, scrapes: int) -> dict[str, Any]:
    settings = parse_settings(
        {
            "database": {"url": url, "spill_dir": str(tmp / "spill")},
            "sip": {"hep_listen": "127.0.0.1:0"},
            "recordings": {"root": str(tmp / "rec")},
            "metrics": {"token": TOKEN},
        },
        base_dir=ROOT,
    )
    app = build(settings, mqtt=False, hep=False)
    server = TestServer(app)
    await server.start_server()
    try:
        svc = app[SERVICES]
        tracker = svc.calls()
        now = svc.clock.now()
        for i in range(ringing):
            call_id = f"bench-{i}"
            tracker.handle(t.CallOffered("hep", call_id, "ft", now, "13800000001", "96069"))
            ext = str(2001 + i % AGENTS)
            tracker.handle(t.LegRinging("hep", call_id, "ft", "a", ext, now))
        await tracker.settled()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        wall: list[float] = []
        database: list[float] = []
        size = 0
        async with ClientSession() as session:
            for n in range(scrapes + 5):
                began = time.perf_counter()
                async with session.get(server.make_url("/metrics"), headers=headers) as response:
                    body = await response.text()
                took = time.perf_counter() - began
                assert response.status == 200, body
                if n < 5:
                    continue  # warm-up: connections, the first query plans
                wall.append(took)
                size = len(body)
                for family in text_string_to_metric_families(body):
                    if family.name == "callcenter_metrics_database_seconds":
                        database.append(family.samples[0].value)
                    if family.name == "callcenter_legs_ringing":
                        legs = family.samples[0].value
        return {"wall": wall, "database": database, "size": size, "legs": legs}
    finally:
        await server.close()


def report(title: str, filled: float, args: argparse.Namespace, r: dict[str, Any]) -> None:
    print(
        f"\n{title}: {args.orders:,} tickets and orders, {args.anomalies:,} anomalies "
        f"(filled in {filled:.1f} s); {int(r['legs']):,} legs ringing; body {r['size']:,} bytes"
    )
    print(f"{'measure':<36} {'n':>4} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for name, samples in (("scrape (client: request→body)", r["wall"]),
                          ("of which database COUNTs", r["database"])):  # fmt: skip
        p50, p99, top = pct(samples, 0.5), pct(samples, 0.99), max(samples) * 1000
        print(f"{name:<36} {len(samples):>4} {p50:9.1f} {p99:9.1f} {top:9.1f}")
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


async def run_on(url: str, title: str, args: argparse.Namespace, tmp: Path) -> None:
    filled = await fill(url, args.orders, args.anomalies, seed=7)
    gc.collect()
    report(title, filled, args, await scrape_all(url, tmp, args.ringing, args.scrapes))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--anomalies", type=int, default=100_000)
    parser.add_argument("--ringing", type=int, default=2_000)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pinned = benchkit.pin(CORE)
    print(f"metrics scrape benchmark{'; pinned to core 0' if pinned else ''}")
    with tempfile.TemporaryDirectory(prefix="cc-bench-metrics-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'metrics.sqlite3'}"
        asyncio.run(run_on(url, "SQLite", args, Path(tmp)))
    if args.postgres:
        from tests.integration.bench.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        try:
            cluster.create_database("bench")
            with tempfile.TemporaryDirectory(prefix="cc-bench-metrics-") as tmp:
                asyncio.run(run_on(cluster.url("bench"), "PostgreSQL 15", args, Path(tmp)))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
