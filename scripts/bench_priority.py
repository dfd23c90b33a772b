"""Benchmark: what sorting a station's open orders by priority costs (a benchmark, not a test).

    .venv/bin/python scripts/bench_priority.py [--orders N] [--rounds R]

The real service (`callcenter.app.build`: SQLite in a temp dir, no broker, no HEP) runs in
this process on a real port, pinned to one core. N open repair tickets of mixed categories
(一 in ten with a vulnerable household) are dispatched to one station through
`Orders.dispatch`, a fixed outdoor temperature set. Then GET /api/orders for that station's
open orders is timed R times each way, over HTTP with a bearer token:

- sort=newest: keyset paged off the (station, status, dispatched_at, id) index, one page;
- sort=priority: every open order of the station read, its ticket read, its priority
  computed and the list sorted in memory (priorities move with the clock and the weather,
  so no index can hold them), one page of up to 1000.
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
from pathlib import Path

import aiohttp
import benchkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402

from callcenter.app import SERVICES, build  # noqa: E402
from callcenter.auth import service as auth_service  # noqa: E402
from callcenter.clock import SystemClock  # noqa: E402
from callcenter.config import parse_settings  # noqa: E402
from callcenter.tickets.model import CATEGORIES, VULNERABILITIES, NewTicket  # noqa: E402

CORE = 0
STATION = "xingfu"
ADDRESS = "大龙市幸福里小区三栋二单元502"  # → xingfu in the sample book


async def timed(session: aiohttp.ClientSession, url: str, rounds: int) -> tuple[list[float], int]:
    samples, count = [], 0
    for _ in range(rounds):
        began = time.perf_counter()
        async with session.get(url) as response:
            assert response.status == 200, await response.text()
            count = len(await response.json())
        samples.append((time.perf_counter() - began) * 1000)
    return samples, count


async def run(args: argparse.Namespace, work: Path) -> None:
    benchkit.pin(CORE)
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{work}/cc.sqlite3", "spill_dir": str(work)},
            "recordings": {"root": str(work / "rec")},
            "tickets": {"stations_file": str(ROOT / "config" / "stations.toml")},
            "web": {"listen": "127.0.0.1:0"},
            "speech": {"enabled": "off"},
            "priority": {"temperature_celsius": -15},
        }
    )
    clock = SystemClock()
    app = build(settings, clock=clock, migrate=True, hep=False, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        svc = app[SERVICES]
        agent = await auth_service.add_user(svc.db(), clock, "agent1", "agent", "x" * 12, "2001")
        token = await auth_service.create_token(svc.db(), clock, "agent1")
        rng = random.Random(18)
        began = time.perf_counter()
        for i in range(args.orders):
            found = await svc.ticket_service().create(
                agent,
                NewTicket(
                    kind="repair",
                    reporter_name="张秀英",
                    phone=f"138{rng.randrange(10**8):08d}",
                    address=ADDRESS,
                    station=STATION,
                    category=rng.choice(CATEGORIES),
                    fault_location="卧室暖气片",
                    severity="major",
                    description="整屋不热",
                    call=None,
                    vulnerability=rng.choice(VULNERABILITIES) if i % 10 == 0 else None,
                ),
            )
            await svc.order_service().dispatch(agent, found.ticket.id)
        print(f"{args.orders} open orders at {STATION} in {time.perf_counter() - began:.1f} s")
        base = f"http://{host}:{port}/api/orders?station={STATION}&limit=1000"
        base += "&status=sent,accepted,contacted"
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            await timed(session, base + "&sort=newest", 3)  # warm up
            await timed(session, base + "&sort=priority", 3)
            for sort in ("newest", "priority"):
                samples, count = await timed(session, f"{base}&sort={sort}", args.rounds)
                print(
                    f"  sort={sort:8s} {count:5d} orders: p50 {statistics.median(samples):6.1f} ms"
                    f"  max {max(samples):6.1f} ms  (n={len(samples)})"
                )
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--orders", type=int, default=100, help="open orders at the station")
    p.add_argument("--rounds", type=int, default=20, help="requests timed each way")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-priority-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
