"""Benchmark: repair orders dispatched and acknowledged per second through a real Mosquitto.

    .venv/bin/python scripts/bench_orders.py [--orders N] [--quick]

The real service (`callcenter.app.build`: SQLite in a temp dir, the outbox sender on its own
MQTT connection) runs in this process pinned to core 0; Mosquitto (Debian's, started as the
integration tests start it, persistence on) runs beside it; a station process pinned to
core 1 runs one `StationClient` per station of config/stations.toml (17), the same class as
`callcenter station-client`, printing nowhere and acking every order.

Orders are dispatched through `Orders.dispatch` (the use case behind POST
/api/tickets/{id}/dispatch: the order, its history, the ticket's status and the outbox row in
one commit, then the sender is woken), over open repair tickets made beforehand. Figures:

1. burst: N orders dispatched by 16 concurrent dispatchers as fast as they commit; orders
   dispatched per second, and orders dispatched *and acknowledged* per second (the last
   station's ack applied: `delivered_at` set), dispatch → delivered latency from the
   service's own stamps (dispatched_at, delivered_at), resends;
2. paced: 50 orders/s for 10 s (far above a hotline's rate), the latency a station sees.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import benchkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from sqlalchemy import select  # noqa: E402

from callcenter.app import SERVICES, build  # noqa: E402
from callcenter.auth import service as auth_service  # noqa: E402
from callcenter.auth.model import Principal  # noqa: E402
from callcenter.clock import SystemClock  # noqa: E402
from callcenter.config import parse_settings  # noqa: E402
from callcenter.orders.station_client import StationClient  # noqa: E402
from callcenter.orders.store import orders as orders_table  # noqa: E402
from callcenter.stations.model import sample_address  # noqa: E402
from callcenter.stations.store import read_book  # noqa: E402
from callcenter.tickets.model import NewTicket  # noqa: E402
from tests.integration.bench.mosquitto import MosquittoBroker  # noqa: E402

SERVICE_CORE, STATION_CORE = 0, 1
PREFIX = "bench"
DISPATCHERS = 4


class Broker(MosquittoBroker):
    """The tests' Mosquitto, with `set_tcp_nodelay true` as DESIGN.md advises for production
    (--nagle: without): else the broker holds each forwarded ack ~40 ms behind its PUBACK."""

    nodelay = True

    def write_conf(self) -> None:
        super().write_conf()
        if self.nodelay:
            with self.conf_path.open("a") as fh:
                fh.write("set_tcp_nodelay true\n")


def stations_process(url: str, codes: list[str], conn: Connection) -> None:
    benchkit.pin(STATION_CORE)
    asyncio.run(_stations(url, codes, conn))


async def _stations(url: str, codes: list[str], conn: Connection) -> None:
    clients = [StationClient(c, url, prefix=PREFIX, out=lambda _: None) for c in codes]
    tasks = [asyncio.create_task(c.run()) for c in clients]
    await until(lambda: all(c.connected for c in clients))
    conn.send("ready")
    await benchkit.receive(conn, within=3600)  # "stop"
    conn.send(
        {
            "printed": sum(len(c.printed) for c in clients),
            "acks_sent": sum(c.acks_sent for c in clients),
            "duplicates": sum(c.duplicates for c in clients),
        }
    )
    for task in tasks:
        task.cancel()


async def tickets(svc: Any, agent: Principal, codes: list[str], count: int) -> list[str]:
    rng = random.Random(13)
    book = svc.address_book()
    out = []
    for i in range(count):
        found = await svc.ticket_service().create(
            agent,
            NewTicket(
                kind="repair",
                reporter_name="张秀英",
                phone=f"138{rng.randrange(10**8):08d}",
                address=sample_address(book, rng),
                station=codes[i % len(codes)],
                category="not_hot",
                fault_location="卧室暖气片",
                severity="major",
                description="整屋不热",
                call=None,
            ),
        )
        out.append(found.ticket.id)
    return out


async def latencies(svc: Any, ids: list[str]) -> list[float]:
    async with svc.db().connect() as conn:
        o = orders_table.c
        rows = await conn.execute(
            select(o.id, o.dispatched_at, o.delivered_at).where(o.delivered_at.is_not(None))
        )
        wanted = set(ids)
        return [(r.delivered_at - r.dispatched_at).total_seconds() for r in rows if r.id in wanted]


async def until(check: Callable[[], bool], within: float = 600.0) -> None:
    """Poll every 5 ms: the figures are read off the service's own stamps, not this."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the orders were not all acknowledged")
        await asyncio.sleep(0.005)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def burst(svc: Any, agent: Principal, ticket_ids: list[str]) -> None:
    orders = svc.order_service()
    outbox = svc.outbox
    acked0, resent0 = outbox.acked, outbox.resent
    queue = list(ticket_ids)
    ids: list[str] = []

    async def dispatcher() -> None:
        while queue:
            order = await orders.dispatch(agent, queue.pop())
            ids.append(order.id)

    mark = benchkit.core_mark(SERVICE_CORE)
    began = time.perf_counter()
    await asyncio.gather(*(dispatcher() for _ in range(DISPATCHERS)))
    dispatched = time.perf_counter() - began
    await until(lambda: outbox.acked - acked0 >= len(ticket_ids))
    done = time.perf_counter() - began
    ours, others = benchkit.core_shares(mark, benchkit.core_mark(SERVICE_CORE))
    lat = await latencies(svc, ids)
    n = len(ticket_ids)
    print(f"burst: {n} orders to {len({*ids}) and 17} stations, {DISPATCHERS} dispatchers")
    print(f"  dispatched (committed):      {n / dispatched:8.0f} orders/s  ({dispatched:.2f} s)")
    print(f"  dispatched and acknowledged: {n / done:8.0f} orders/s  ({done:.2f} s)")
    print(
        f"  dispatch → delivered: p50 {pct(lat, 0.5):.0f} ms  p99 {pct(lat, 0.99):.0f} ms"
        f"  max {max(lat) * 1000:.0f} ms  (n={len(lat)})"
    )
    print(
        f"  resent: {outbox.resent - resent0}   service core: ours {ours:.0%}, others {others:.0%}"
    )


async def paced(svc: Any, agent: Principal, ticket_ids: list[str], rate: float) -> None:
    orders = svc.order_service()
    outbox = svc.outbox
    acked0 = outbox.acked
    ids: list[str] = []
    began = time.perf_counter()
    for i, ticket_id in enumerate(ticket_ids):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        ids.append((await orders.dispatch(agent, ticket_id)).id)
    await until(lambda: outbox.acked - acked0 >= len(ticket_ids))
    lat = await latencies(svc, ids)
    print(f"paced: {len(ids)} orders at {rate:.0f}/s")
    print(
        f"  dispatch → delivered: p50 {pct(lat, 0.5):.1f} ms  p99 {pct(lat, 0.99):.1f} ms"
        f"  max {max(lat) * 1000:.1f} ms  mean {statistics.mean(lat) * 1000:.1f} ms"
    )


async def run(args: argparse.Namespace, work: Path) -> None:
    benchkit.pin(SERVICE_CORE)
    broker = Broker(work / "mosquitto")
    broker.nodelay = not args.nagle
    broker.base_dir.mkdir(parents=True, exist_ok=True)
    broker.start()
    book = read_book(ROOT / "config" / "stations.toml")
    codes = [s.code for s in book.stations]
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(
        target=stations_process, args=(broker.url, codes, child), daemon=True
    )
    proc.start()
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{work}/cc.sqlite3", "spill_dir": str(work)},
            "mqtt": {"url": broker.url, "topic_prefix": PREFIX},
            "recordings": {"root": str(work / "rec")},
            "tickets": {"stations_file": str(ROOT / "config" / "stations.toml")},
        }
    )
    clock = SystemClock()
    app = build(settings, clock=clock, migrate=True, hep=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        svc = app[SERVICES]
        agent = await auth_service.add_user(svc.db(), clock, "agent1", "agent", "x" * 12, "2001")
        paced_n = 100 if args.quick else 500
        ticket_ids = await tickets(svc, agent, codes, args.orders + paced_n)
        assert await benchkit.receive(parent, within=60) == "ready"
        await until(lambda: svc.outbox.connected)
        await burst(svc, agent, ticket_ids[: args.orders])
        await paced(svc, agent, ticket_ids[args.orders : args.orders + 20], 5.0)
        await paced(svc, agent, ticket_ids[args.orders + 20 :], 50.0)
        parent.send("stop")
        seen = await benchkit.receive(parent, within=60)
        print(
            f"stations: printed {seen['printed']}, acks sent {seen['acks_sent']}, "
            f"resends recognised {seen['duplicates']}; service: refused acks "
            f"{dict(svc.outbox.refused_acks) or 0}, duplicate acks {svc.outbox.duplicate_acks}"
        )
    finally:
        await runner.cleanup()
        proc.join(5)
        broker.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--orders", type=int, default=3000, help="orders in the burst")
    p.add_argument("--quick", action="store_true", help="500 orders, a shorter paced run")
    p.add_argument("--nagle", action="store_true", help="leave Mosquitto's Nagle on (default)")
    args = p.parse_args()
    if args.quick:
        args.orders = 500
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
