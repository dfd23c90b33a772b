"""Benchmark: the one clock's report (GET /api/reports/clock) at the bound its docs state.

    .venv/bin/python scripts/bench_clock.py                      # 3,000 repairs a day, SQLite
    .venv/bin/python scripts/bench_clock.py --postgres --sqlite  # both engines

31 days (December 2026, Asia/Shanghai) of repair tickets, `--per-day` each day (3,000: the
busiest day the docs allow for, several times a cold snap's), each taken on a call (the call
and its answering leg, linked), sent to one of the 17 stations and accepted, 95 % contacted,
85 % returned, a callback for each return (90 % made), one order in ten paused once for
10–90 minutes. Filled by bulk insert, then ANALYZE. Then through the real service
(timeline.service.Clocks, as the API calls it), on one core: the report of one day (ten days
across the month) and of the whole month (three times). The report reads five statements
and computes the percentiles in Python: what it costs is the point, and how long it keeps the
event loop (where the ring-limit timers run) from its other work.
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import benchkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from callcenter import db  # noqa: E402
from callcenter.auth.store import users  # noqa: E402
from callcenter.callbacks.store import callbacks  # noqa: E402
from callcenter.calls.rings import RingRule  # noqa: E402
from callcenter.calls.store import calls, legs  # noqa: E402
from callcenter.clock import FakeClock  # noqa: E402
from callcenter.orders.store import orders  # noqa: E402
from callcenter.stations import service as stations_service  # noqa: E402
from callcenter.tickets.store import ticket_calls, tickets  # noqa: E402
from callcenter.timeline.service import Clocks  # noqa: E402
from callcenter.timeline.settings import TimelineSettings  # noqa: E402
from callcenter.timeline.store import order_pauses  # noqa: E402

CORE = 0
CHUNK = 5000
AGENTS = 50
TZ = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 12, 1)
DAYS = 31
TABLES = ("users", "calls", "legs", "tickets", "ticket_calls", "orders", "order_pauses",
          "callbacks")  # fmt: skip


def generate(per_day: int, stations: list[str], rng: random.Random) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {k: [] for k in TABLES}
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    out["users"] = [
        {"id": i, "name": f"agent{i}", "role": "agent", "extension": str(2000 + i),
         "work_number": f"W{i}", "password_hash": "x", "language": None, "disabled": False,
         "created_at": long_ago}
        for i in range(1, AGENTS + 1)
    ]  # fmt: skip
    start = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=TZ).astimezone(UTC)
    n = 0
    for day in range(DAYS):
        for _ in range(per_day):
            n += 1
            rang = start + timedelta(days=day, seconds=rng.uniform(0, 86_000))
            agent = rng.randint(1, AGENTS)
            answered = rang + timedelta(seconds=rng.uniform(1, 25))
            taken = answered + timedelta(seconds=rng.uniform(30, 240))
            call, ticket, order = f"c{n:031d}", f"t{n:031d}", f"o{n:031d}"
            out["calls"].append(
                {"id": call, "source": "hep", "sip_call_id": f"sip-{n}", "call_tag": "t",
                 "caller": f"139{n:08d}", "dialed": "96069", "monitored": True,
                 "offered_at": rang, "answered_at": answered,
                 "ended_at": taken + timedelta(seconds=30), "final": "answered",
                 "hung_up_by": "caller", "answered_leg": "a"}
            )  # fmt: skip
            out["legs"].append(
                {"id": f"l{n:031d}", "call_pk": call, "leg_ref": "a",
                 "extension": str(2000 + agent), "agent_id": agent, "queue": None,
                 "ring_started_at": rang, "answered_at": answered,
                 "ended_at": taken + timedelta(seconds=30), "outcome": "answered",
                 "end_cause": None, "ring_limit_recorded": False}
            )  # fmt: skip
            station = rng.choice(stations)
            sent = taken + timedelta(minutes=rng.uniform(1, 20))
            accepted = sent + timedelta(minutes=rng.uniform(1, 40))
            contacted = accepted + timedelta(minutes=rng.uniform(5, 60))
            paused = rng.random() < 0.10
            wait = timedelta(minutes=rng.uniform(10, 90)) if paused else timedelta()
            returned = contacted + wait + timedelta(hours=rng.uniform(0.5, 5))
            done = rng.random() < 0.85
            reached = rng.random() < 0.95
            out["tickets"].append(
                {"id": ticket, "kind": "repair", "status": "repaired" if done else "dispatched",
                 "reporter_name": "住户", "phone": f"139{n:08d}", "address_typed": None,
                 "address_standard": None, "address_routing": None, "address_reason": None,
                 "station_proposed": station, "station": station, "station_overridden": False,
                 "category": "not_hot", "fault_location": None, "severity": None,
                 "description": "", "agent_id": agent, "agent_work_number": f"W{agent}",
                 "created_at": taken, "updated_at": taken}
            )  # fmt: skip
            out["ticket_calls"].append(
                {"ticket_id": ticket, "call_id": call, "linked_at": taken, "linked_by": agent,
                 "how": "current"}
            )  # fmt: skip
            out["orders"].append(
                {"id": order, "ticket_id": ticket, "station": station, "round": 1,
                 "status": "returned" if done else "contacted" if reached else "accepted",
                 "dispatched_at": sent, "dispatched_by": f"agent{agent}",
                 "accept_due": sent + timedelta(minutes=30),
                 "contact_due": sent + timedelta(minutes=60) + wait,
                 "repair_due": sent + timedelta(hours=4) + wait, "accepted_at": accepted,
                 "contacted_at": contacted if reached or done else None,
                 "returned_at": returned if done else None}
            )  # fmt: skip
            if paused:
                out["order_pauses"].append(
                    {"order_id": order, "started_at": contacted, "ended_at": contacted + wait,
                     "reason": "not_home", "note": None, "by": f"station:{station}",
                     "ended_by": f"station:{station}"}
                )  # fmt: skip
            if done:
                made = rng.random() < 0.9
                out["callbacks"].append(
                    {"id": f"b{n:031d}", "ticket_id": ticket, "order_id": order,
                     "reason": "repair", "agent_id": agent, "station": station,
                     "created_at": returned, "due_at": returned + timedelta(days=3),
                     "status": "done" if made else "due", "attempts": 1 if made else 0,
                     "done_at": returned + timedelta(hours=rng.uniform(2, 48)) if made else None,
                     "done_by": f"agent{agent}" if made else None}
                )  # fmt: skip
    return out


async def fill(engine: AsyncEngine, rows: dict[str, list[Any]]) -> float:
    tables: dict[str, Table] = {
        "users": users, "calls": calls, "legs": legs, "tickets": tickets,
        "ticket_calls": ticket_calls, "orders": orders, "order_pauses": order_pauses,
        "callbacks": callbacks,
    }  # fmt: skip
    began = time.perf_counter()
    for name in TABLES:
        data = rows[name]
        for i in range(0, len(data), CHUNK):
            async with engine.begin() as conn:
                await conn.execute(tables[name].insert(), data[i : i + CHUNK])
    took = time.perf_counter() - began
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return took


class LoopLag:
    """While a report runs: the longest the event loop was kept from a 5 ms timer (what a
    ring-limit timer due then would wait on top of its own latency)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - began - 0.005)

    async def stop(self) -> float:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        return self.worst


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_on(url: str, title: str, rows: dict[str, list[Any]]) -> None:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        took = await fill(engine, rows)
        total = sum(len(v) for v in rows.values())
        print(f"\n{title}: {len(rows['tickets']):,} repair tickets ({total:,} rows) "
              f"inserted in {took:.1f} s")  # fmt: skip
        clock = FakeClock(datetime(2027, 1, 10, tzinfo=UTC))
        clocks = Clocks(lambda: engine, clock, RingRule(5.0, 3), TimelineSettings(),
                        "Asia/Shanghai")  # fmt: skip
        rng = random.Random(3)
        days = sorted(FIRST + timedelta(days=rng.randrange(DAYS)) for _ in range(10))
        measures: dict[str, list[float]] = {"one day": [], "31 days": []}
        held: dict[str, list[float]] = {"one day": [], "31 days": []}
        counted = 0
        for d in days:
            began, lag = time.perf_counter(), LoopLag()
            report = await clocks.report(d, d, None)
            measures["one day"].append(time.perf_counter() - began)
            held["one day"].append(await lag.stop())
            counted = report[0].tickets
        for _ in range(3):
            began, lag = time.perf_counter(), LoopLag()
            month = await clocks.report(FIRST, FIRST + timedelta(days=DAYS - 1), None)
            measures["31 days"].append(time.perf_counter() - began)
            held["31 days"].append(await lag.stop())
        whole = next(r for r in month if r.day is None and r.station is None)
        print(f"  a day: {counted:,} tickets; the month: {whole.tickets:,}, "
              f"to_repair p50 {whole.metrics['to_repair'].p50:,.0f} s, "
              f"p90 {whole.metrics['to_repair'].p90:,.0f} s")  # fmt: skip
        print(f"{'report':<10} {'n':>3} {'p50 ms':>9} {'max ms':>9} {'loop held max ms':>17}")
        for name, samples in measures.items():
            print(f"{name:<10} {len(samples):>3} {pct(samples, 0.5):9.1f} "
                  f"{max(samples) * 1000:9.1f} {max(held[name]) * 1000:17.1f}")  # fmt: skip
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-day", type=int, default=3000)
    parser.add_argument("--postgres", action="store_true", help="on a throw-away PostgreSQL")
    parser.add_argument("--sqlite", action="store_true", help="on SQLite too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pinned = benchkit.pin(CORE)
    book, _ = stations_service.load(ROOT / "config" / "stations.toml")
    began = time.perf_counter()
    rows = generate(args.per_day, [s.code for s in book.stations], random.Random(7))
    gc.collect()
    gc.freeze()
    print(f"generated {len(rows['tickets']):,} tickets in {time.perf_counter() - began:.1f} s"
          f"{'; pinned to core 0' if pinned else ''}")  # fmt: skip
    if args.sqlite or not args.postgres:
        with tempfile.TemporaryDirectory(prefix="cc-bench-clock-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'clock.sqlite3'}"
            asyncio.run(run_on(url, "SQLite", rows))
    if args.postgres:
        from tests.integration.bench.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        try:
            cluster.create_database("bench")
            asyncio.run(run_on(cluster.url("bench"), "PostgreSQL", rows))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
