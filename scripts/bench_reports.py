"""Benchmark: the report form (日报表) over a heating season's data, on PostgreSQL (and SQLite).

    .venv/bin/python scripts/bench_reports.py --postgres            # 1,000,000 calls
    .venv/bin/python scripts/bench_reports.py --calls 100000        # a quick look, SQLite

A season (15 November 2026 to 14 March 2027, Asia/Shanghai) of answered calls spread evenly,
each with its answering leg; 30 % of calls with a ticket (300,000 of 1 M: 85 % repairs at one
of the 17 stations in the four categories, 10 % consultations, 1 % cancelled), each repair
sent to its station and 85 % returned within hours; a callback for every returned one, 90 %
made; 6 % late answers. Filled by bulk insert (chunks of 5,000), then ANALYZE. Then through
the real service (reports.service.Reports, as the API, the page and the archive call it),
on one core: daily reports of 20 days across the season, monthly reports of its months, the
season summary. Targets (issue 15): a day < 1 s, a month < 5 s.
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
from callcenter.calls.store import calls, legs, violations  # noqa: E402
from callcenter.clock import FakeClock  # noqa: E402
from callcenter.orders.store import orders  # noqa: E402
from callcenter.reports.service import Reports  # noqa: E402
from callcenter.reports.settings import ReportsSettings  # noqa: E402
from callcenter.stations import service as stations_service  # noqa: E402
from callcenter.tickets.store import tickets  # noqa: E402

CORE = 0
CHUNK = 5000
AGENTS = 50
TZ = ZoneInfo("Asia/Shanghai")
SEASON = date(2026, 11, 15)
DAYS = 120
CATEGORIES = ("not_hot", "not_hot", "ice_cold", "temperature_check", "leak")


def generate(count: int, stations: list[str], rng: random.Random) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {k: [] for k in
                                 ("users", "calls", "legs", "violations", "tickets", "orders",
                                  "callbacks")}  # fmt: skip
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    out["users"] = [
        {"id": i, "name": f"agent{i}", "role": "agent", "extension": str(2000 + i),
         "work_number": f"W{i}", "password_hash": "x", "language": None, "disabled": False,
         "created_at": long_ago}
        for i in range(1, AGENTS + 1)
    ]  # fmt: skip
    start = datetime(SEASON.year, SEASON.month, SEASON.day, tzinfo=TZ).astimezone(UTC)
    span = timedelta(days=DAYS).total_seconds()
    for n in range(count):
        at = start + timedelta(seconds=rng.uniform(0, span))
        agent = rng.randint(1, AGENTS)
        call_id, leg_id = f"c{n:031d}", f"l{n:031d}"
        answered = at + timedelta(seconds=rng.uniform(2, 20))
        ended = answered + timedelta(minutes=3)
        out["calls"].append(
            {"id": call_id, "source": "hep", "sip_call_id": f"sip-{n}", "call_tag": "t",
             "caller": f"139{n:08d}", "dialed": "96069", "monitored": True, "offered_at": at,
             "answered_at": answered, "ended_at": ended, "final": "answered",
             "hung_up_by": "caller", "answered_leg": "a"}
        )  # fmt: skip
        out["legs"].append(
            {"id": leg_id, "call_pk": call_id, "leg_ref": "a", "extension": str(2000 + agent),
             "agent_id": agent, "queue": None, "ring_started_at": at, "answered_at": answered,
             "ended_at": ended, "outcome": "answered", "end_cause": None,
             "ring_limit_recorded": False}
        )  # fmt: skip
        if answered - at > timedelta(seconds=15):
            out["violations"].append(
                {"id": f"v{n:031d}", "kind": "late_answer", "occurred_at": answered,
                 "call_pk": call_id, "leg_pk": leg_id, "extension": str(2000 + agent),
                 "agent_id": agent, "rings": 4, "ring_seconds": 18.0, "detail": ""}
            )  # fmt: skip
        if rng.random() >= 0.30:
            continue
        roll = rng.random()
        kind = "consultation" if roll < 0.10 else "complaint" if roll < 0.15 else "repair"
        status = "cancelled" if rng.random() < 0.01 else "open"
        ticket = f"t{n:031d}"
        station = rng.choice(stations) if kind == "repair" else None
        returned = kind == "repair" and status != "cancelled" and rng.random() < 0.85
        out["tickets"].append(
            {"id": ticket, "kind": kind,
             "status": status if kind != "repair" or status == "cancelled" else
             ("repaired" if returned else "dispatched"),
             "reporter_name": "住户", "phone": f"139{n:08d}", "address_typed": None,
             "address_standard": None, "address_routing": None, "address_reason": None,
             "station_proposed": station, "station": station, "station_overridden": False,
             "category": rng.choice(CATEGORIES) if kind == "repair" else None,
             "fault_location": None, "severity": None, "description": "",
             "agent_id": agent, "agent_work_number": f"W{agent}", "created_at": answered,
             "updated_at": answered}
        )  # fmt: skip
        if kind != "repair" or status == "cancelled":
            continue
        sent = answered + timedelta(minutes=2)
        back = sent + timedelta(hours=rng.uniform(1, 30)) if returned else None
        out["orders"].append(
            {"id": f"o{n:031d}", "ticket_id": ticket, "station": station, "round": 1,
             "status": "returned" if back else "sent", "dispatched_at": sent,
             "dispatched_by": f"agent{agent}", "accept_due": sent, "contact_due": sent,
             "repair_due": sent, "returned_at": back}
        )  # fmt: skip
        if back is not None:
            made = rng.random() < 0.9
            out["callbacks"].append(
                {"id": f"b{n:031d}", "ticket_id": ticket, "order_id": f"o{n:031d}",
                 "reason": "repair", "agent_id": agent, "station": station, "created_at": back,
                 "due_at": back + timedelta(days=3), "status": "done" if made else "due",
                 "attempts": 1 if made else 0,
                 "done_at": back + timedelta(hours=rng.uniform(2, 48)) if made else None,
                 "done_by": f"agent{agent}" if made else None}
            )  # fmt: skip
    return out


ORDER: list[tuple[str, Table]] = [
    ("users", users), ("calls", calls), ("legs", legs), ("violations", violations),
    ("tickets", tickets), ("orders", orders), ("callbacks", callbacks),
]  # fmt: skip


async def fill(engine: AsyncEngine, rows: dict[str, list[Any]]) -> float:
    began = time.perf_counter()
    for name, table in ORDER:
        data = rows[name]
        for i in range(0, len(data), CHUNK):
            async with engine.begin() as conn:
                await conn.execute(table.insert(), data[i : i + CHUNK])
    took = time.perf_counter() - began
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return took


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_on(url: str, title: str, rows: dict[str, list[Any]], book: Any) -> None:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        took = await fill(engine, rows)
        total = sum(len(v) for v in rows.values())
        print(f"\n{title}: {len(rows['calls']):,} calls, {len(rows['tickets']):,} tickets "
              f"({total:,} rows) inserted in {took:.1f} s")  # fmt: skip
        clock = FakeClock(datetime(2027, 3, 20, tzinfo=UTC))
        reports = Reports(lambda: engine, clock, ReportsSettings(), RingRule(5.0, 3),
                          "Asia/Shanghai", lambda: book)  # fmt: skip
        rng = random.Random(3)
        days = sorted(SEASON + timedelta(days=rng.randrange(DAYS)) for _ in range(20))
        measures: dict[str, list[float]] = {"daily report": [], "monthly report": [],
                                            "season summary": []}  # fmt: skip
        for d in days:
            began = time.perf_counter()
            report = await reports.build(reports.parse("daily", d.isoformat()))
            measures["daily report"].append(time.perf_counter() - began)
        for month in ("2026-12", "2027-01", "2027-02"):
            began = time.perf_counter()
            report = await reports.build(reports.parse("monthly", month))
            measures["monthly report"].append(time.perf_counter() - began)
        began = time.perf_counter()
        report = await reports.build(reports.parse("season", "2026"))
        measures["season summary"].append(time.perf_counter() - began)
        print(f"  season: {report.total.cumulative_reports:,} repair reports, "
              f"{report.total.cumulative_repairs:,} repaired, "
              f"{report.hotline.calls['offered']:,} calls offered")  # fmt: skip
        print(f"{'measure':<20} {'n':>4} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
        for name, samples in measures.items():
            print(f"{name:<20} {len(samples):>4} {pct(samples, 0.5):9.1f} "
                  f"{pct(samples, 0.99):9.1f} {max(samples) * 1000:9.1f}")  # fmt: skip
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true", help="on a throw-away PostgreSQL")
    parser.add_argument("--sqlite", action="store_true", help="on SQLite too")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pinned = benchkit.pin(CORE)
    book, _ = stations_service.load(ROOT / "config" / "stations.toml")
    began = time.perf_counter()
    rows = generate(args.calls, [s.code for s in book.stations], random.Random(7))
    gc.collect()
    gc.freeze()
    print(f"generated {len(rows['calls']):,} calls in {time.perf_counter() - began:.1f} s"
          f"{'; pinned to core 0' if pinned else ''}")  # fmt: skip
    if args.sqlite or not args.postgres:
        with tempfile.TemporaryDirectory(prefix="cc-bench-reports-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'reports.sqlite3'}"
            asyncio.run(run_on(url, "SQLite", rows, book))
    if args.postgres:
        from tests.integration.bench.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        try:
            cluster.create_database("bench")
            asyncio.run(run_on(cluster.url("bench"), "PostgreSQL", rows, book))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
