"""Benchmark: anomaly lateness with 10,000 station deadlines pending (target p99 ≤ 50 ms, the
ring rule's).

    .venv/bin/python scripts/bench_anomalies.py                    # 10,000 due over 4 s
    .venv/bin/python scripts/bench_anomalies.py --spread 60        # a calmer minute

The real app (SQLite, the system clock, one core) starts on a database holding 10,000 orders
at their stations, dispatched just now by 40 agents: each has its accept deadline in the
window [lead, lead + spread] seconds ahead, drawn at random, and its contact and repair
deadlines hours later. Start-up arms every pending deadline (30,000 timers: the restart
path); then each accept deadline passes unmet. For each `AnomalyRaised` on the bus (after
its commit, when the live page and MQTT get it), lateness = that moment − the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
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

from aiohttp import web  # noqa: E402

from callcenter import db  # noqa: E402
from callcenter.anomalies.model import AnomalyRaised  # noqa: E402
from callcenter.app import SERVICES, build  # noqa: E402
from callcenter.auth.store import users  # noqa: E402
from callcenter.config import parse_settings  # noqa: E402
from callcenter.orders.store import orders  # noqa: E402
from callcenter.tickets.store import tickets  # noqa: E402

CORE = 0
AGENTS = 40
CHUNK = 2000


def percentile(values: list[float], p: float) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(p / 100 * len(ranked)))]


async def fill(url: str, count: int, first_due: datetime, spread: float, seed: int) -> None:
    """`count` repair tickets, each at its station as an order whose acceptance falls due in
    the window, as the service's own migrations lay the tables out."""
    rng = random.Random(seed)
    engine = db.create_engine(url)
    now = datetime.now(UTC)
    try:
        await db.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(
                users.insert(),
                [
                    {
                        "name": f"agent{i}",
                        "role": "agent",
                        "password_hash": "x",
                        "disabled": False,
                        "created_at": now,
                    }
                    for i in range(1, AGENTS + 1)
                ],
            )
        for start in range(0, count, CHUNK):
            ticket_rows, order_rows = [], []
            for _ in range(start, min(count, start + CHUNK)):
                ticket_id, order_id = uuid.uuid4().hex, uuid.uuid4().hex
                accept_due = first_due + timedelta(seconds=rng.uniform(0, spread))
                ticket_rows.append(
                    {
                        "id": ticket_id,
                        "kind": "repair",
                        "status": "dispatched",
                        "reporter_name": "住户",
                        "phone": "13800000001",
                        "address_typed": "幸福里3-2-502",
                        "address_standard": "城关区幸福路幸福里3号楼2单元502室",
                        "address_routing": "matched",
                        "address_reason": "",
                        "station_proposed": "xingfu",
                        "station": "xingfu",
                        "station_overridden": False,
                        "category": "not_hot",
                        "fault_location": "卧室",
                        "severity": "major",
                        "description": "暖气不热",
                        "agent_id": rng.randint(1, AGENTS),
                        "agent_work_number": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                order_rows.append(
                    {
                        "id": order_id,
                        "ticket_id": ticket_id,
                        "station": "xingfu",
                        "round": 1,
                        "status": "sent",
                        "dispatched_at": now,
                        "dispatched_by": "agent1",
                        "accept_due": accept_due,
                        "contact_due": accept_due + timedelta(hours=1),
                        "repair_due": accept_due + timedelta(hours=4),
                    }
                )
            async with engine.begin() as conn:
                await conn.execute(tickets.insert(), ticket_rows)
                await conn.execute(orders.insert(), order_rows)
        # The fill's write-ahead log is the setup's, not the service's: fold it in now.
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await engine.dispose()


async def bench(tmp: Path, count: int, spread: float, lead: float, core: int) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
    first_due = datetime.now(UTC) + timedelta(seconds=lead)
    t = time.perf_counter()
    await fill(url, count, first_due, spread, seed=13)
    filled = time.perf_counter() - t
    if datetime.now(UTC) > first_due - timedelta(seconds=2):
        raise SystemExit("filling took too long for --lead; give a larger one")

    settings = parse_settings(
        {"database": {"url": url}, "sip": {"hep_listen": "127.0.0.1:0"}}, base_dir=tmp
    )
    app = build(settings, mqtt=False, hep=False)
    svc = app[SERVICES]
    lateness: list[float] = []
    recorded: list[float] = []
    done = asyncio.Event()

    async def on_raised(event: object) -> None:
        assert isinstance(event, AnomalyRaised)
        a = event.anomaly
        lateness.append((datetime.now(UTC) - a.occurred_at).total_seconds())
        recorded.append((a.raised_at - a.occurred_at).total_seconds())
        if len(lateness) >= count:
            done.set()

    svc.bus.subscribe(AnomalyRaised, on_raised)
    runner = web.AppRunner(app)
    t = time.perf_counter()
    await runner.setup()  # the cleanup contexts: start-up arms every pending deadline
    started = time.perf_counter() - t
    assert svc.deadlines is not None
    armed = svc.deadlines.pending
    mark = benchkit.core_mark(core)
    try:
        await asyncio.wait_for(done.wait(), lead + spread + 30)
    except TimeoutError:
        pass
    ours, others = benchkit.core_shares(mark, benchkit.core_mark(core))
    await runner.cleanup()
    return {
        "filled": filled,
        "started": started,
        "armed": armed,
        "lateness": lateness,
        "recorded": recorded,
        "ours": ours,
        "others": others,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deadlines", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=4.0, help="seconds the deadlines span")
    parser.add_argument("--lead", type=float, default=8.0, help="seconds to the first deadline")
    parser.add_argument("--core", type=int, default=CORE, help="the core to run on")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    core = args.core
    pinned = benchkit.pin(core)
    with tempfile.TemporaryDirectory(prefix="cc-bench-anomalies-") as tmp:
        r = asyncio.run(bench(Path(tmp), args.deadlines, args.spread, args.lead, core))
    lat = [x * 1000 for x in r["lateness"]]
    rec = [x * 1000 for x in r["recorded"]]
    print(
        f"anomaly deadlines: {args.deadlines:,} orders, accept deadlines over {args.spread:g} s "
        f"({args.deadlines / args.spread:,.0f}/s); SQLite; "
        f"{'pinned to core ' + str(core) if pinned else 'not pinned'}"
    )
    print(
        f"  filled in {r['filled']:.1f} s; start-up armed {r['armed']:,} timers in "
        f"{r['started'] * 1000:.0f} ms"
    )
    if not lat:
        print("  no anomaly raised")
        return 1
    print(
        f"  raised {len(lat):,}/{args.deadlines:,}; lateness on the bus (published − deadline): "
        f"p50 {statistics.median(lat):.1f} ms, p99 {percentile(lat, 99):.1f} ms, "
        f"max {max(lat):.1f} ms"
    )
    print(
        f"  recorded raised_at − deadline: p50 {statistics.median(rec):.1f} ms, "
        f"p99 {percentile(rec, 99):.1f} ms, max {max(rec):.1f} ms"
    )
    print(f"  core share: ours {r['ours']:.0%}, other processes {r['others']:.0%}")
    ok = len(lat) == args.deadlines and percentile(lat, 99) <= 50.0
    print(f"  target p99 ≤ 50 ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
