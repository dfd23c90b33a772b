"""Benchmark: the caller's history (the desk's screen-pop) and ticket search at a million
tickets, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_tickets.py                 # 1,000,000 tickets, SQLite
    .venv/bin/python scripts/bench_tickets.py --postgres      # and a throw-away PostgreSQL 15
    .venv/bin/python scripts/bench_tickets.py --tickets 50000 # a quick look

The database is migrated as the service does it (Alembic, every index of migration 0004)
and filled by bulk insert (chunks of 5,000 rows, one transaction each) with five heating
seasons of tickets: 150,000 flats of the sample address book (config/stations.toml), each
with its standard address and station from the real router, a phone per household (one in
ten shares a number with another flat), callers drawn from a skewed distribution (a few
call every week, most once a season), 70 % repairs. Then, on one core, through the real
service functions (`Tickets.caller_history`, `Tickets.search`) as the API calls them:

- the screen-pop history of random callers who have tickets (earlier tickets by number,
  the address last used and its tickets, the open ones: four indexed queries);
- ticket search as the desk and team leads run it (by phone, by building prefix, a
  station's open tickets, an agent's, a kind, a day's, the newest page), 100 per page.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import benchkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from callcenter import db  # noqa: E402
from callcenter.auth.store import users  # noqa: E402
from callcenter.clock import SystemClock  # noqa: E402
from callcenter.stations.model import AddressBook, route, sample_address  # noqa: E402
from callcenter.stations.store import read_book  # noqa: E402
from callcenter.tickets.model import KINDS  # noqa: E402
from callcenter.tickets.service import Tickets  # noqa: E402
from callcenter.tickets.store import Filter, tickets  # noqa: E402

CORE = 0
CHUNK = 5000
AGENTS = 40
SEASON_STARTS = [datetime(year, 11, 15, tzinfo=UTC) for year in range(2021, 2026)]
SEASON = timedelta(days=120)
KIND_WEIGHTS = [70, 20, 5, 3, 2]
CATEGORIES = ["not_hot", "ice_cold", "temperature_check", "leak", "other"]


def flats(book: AddressBook, count: int, rng: random.Random) -> list[tuple[str, str, str | None]]:
    """(typed, standard, station) of `count` distinct flats of the book's communities."""
    seen: set[str] = set()
    out = []
    while len(out) < count:
        typed = sample_address(book, rng)
        r = route(book, typed)
        if r.standard in seen:
            continue
        seen.add(r.standard)
        out.append((typed, r.standard, r.station))
    return out


def phone(i: int) -> str:
    return f"13{(i * 7919) % 10**9:09d}"


def rows(
    count: int, book: AddressBook, rng: random.Random
) -> tuple[list[dict[str, Any]], list[str]]:
    homes = flats(book, min(150_000, max(1000, count // 6)), rng)
    phones = [phone(i) for i in range(len(homes))]
    for i in range(0, len(phones), 10):  # one household in ten shares a number with the next
        if i + 1 < len(phones):
            phones[i + 1] = phones[i]
    # Skewed callers: household k calls with weight 1 / (k + 20).
    weights = [1.0 / (k + 20) for k in range(len(homes))]
    picks = rng.choices(range(len(homes)), weights=weights, k=count)
    stamps = sorted(
        start + timedelta(seconds=rng.uniform(0, SEASON.total_seconds()))
        for start in rng.choices(SEASON_STARTS, k=count)
    )
    last = stamps[-1]
    out = []
    for n, (home, at) in enumerate(zip(picks, stamps, strict=True)):
        typed, standard, station = homes[home]
        kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
        age = last - at
        status = (
            "closed" if age > timedelta(days=3) else rng.choice(["open", "dispatched", "repaired"])
        )
        if kind != "repair" and status in ("dispatched", "repaired"):
            status = "open"
        out.append(
            {
                "id": f"{n:08x}{rng.getrandbits(96):024x}",
                "kind": kind,
                "status": status,
                "reporter_name": "住户",
                "phone": phones[home],
                "address_typed": typed,
                "address_standard": standard,
                "address_routing": "matched" if station else "unmatched",
                "address_reason": "",
                "station_proposed": station,
                "station": station,
                "station_overridden": False,
                "category": rng.choice(CATEGORIES) if kind == "repair" else None,
                "fault_location": "卧室",
                "severity": "major",
                "description": "暖气不热",
                "agent_id": rng.randint(1, AGENTS),
                "agent_work_number": None,
                "created_at": at,
                "updated_at": at,
            }
        )
    return out, phones


async def fill(engine: AsyncEngine, data: list[dict[str, Any]]) -> float:
    async with engine.begin() as conn:
        await conn.execute(
            users.insert(),
            [
                {"name": f"agent{i}", "role": "agent", "extension": str(2000 + i),
                 "work_number": f"A{i}", "password_hash": "x", "language": None,
                 "disabled": False, "created_at": datetime.now(UTC)}
                for i in range(1, AGENTS + 1)
            ],
        )  # fmt: skip
    began = time.perf_counter()
    for i in range(0, len(data), CHUNK):
        async with engine.begin() as conn:
            await conn.execute(tickets.insert(), data[i : i + CHUNK])
    took = time.perf_counter() - began
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("ANALYZE tickets"))
        else:
            await conn.execute(text("ANALYZE"))
    return took


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def timed(runs: int, make: Callable[[int], Awaitable[Any]]) -> list[float]:
    out = []
    for i in range(runs):
        began = time.perf_counter()
        await make(i)
        out.append(time.perf_counter() - began)
    return out


async def measure(
    engine: AsyncEngine, book: AddressBook, data: list[dict[str, Any]], runs: int
) -> dict[str, list[float]]:
    service = Tickets(lambda: engine, SystemClock(), lambda: book, timedelta(minutes=10))
    rng = random.Random(11)
    callers = [r["phone"] for r in rng.sample(data, runs)]
    buildings = [
        "".join(r["address_standard"].partition("号楼")[:2]) for r in rng.sample(data, runs)
    ]
    stations = [s.code for s in book.stations]
    days = [r["created_at"] for r in rng.sample(data, runs)]
    newest = data[-1]["created_at"]
    # Warm the caches as a running service's would be.
    for p in callers[:50]:
        await service.caller_history(p)
    searches: dict[str, Callable[[int], Filter]] = {
        "by phone": lambda i: Filter(phone=callers[i]),
        "by building (address prefix)": lambda i: Filter(address=buildings[i]),
        "a station's open tickets": lambda i: Filter(
            station=stations[i % len(stations)], statuses=("open", "dispatched", "repaired")
        ),
        "an agent's, this season": lambda i: Filter(
            agent_id=1 + i % AGENTS, start=newest - timedelta(days=120)
        ),
        "complaints": lambda i: Filter(kind="complaint"),
        "one day": lambda i: Filter(start=days[i], end=days[i] + timedelta(days=1)),
        "newest page": lambda i: Filter(),
    }
    out = {"screen-pop history": await timed(runs, lambda i: service.caller_history(callers[i]))}
    for name, make in searches.items():
        out[f"search: {name}"] = await timed(
            runs, lambda i, make=make: service.search(make(i), 100)
        )
    return out


def report(title: str, insert_seconds: float, count: int, results: dict[str, list[float]]) -> None:
    print(f"\n{title}: {count:,} tickets inserted in {insert_seconds:.0f} s "
          f"({count / insert_seconds:,.0f}/s)")  # fmt: skip
    print(f"{'query':<40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    every: list[float] = []
    for name, samples in results.items():
        if name.startswith("search"):
            every += samples
        p50, p99, top = pct(samples, 0.5), pct(samples, 0.99), max(samples) * 1000
        print(f"{name:<40} {p50:8.2f} {p99:8.2f} {top:8.2f}")
    print(f"{'search, all of the above':<40} {pct(every, 0.5):8.2f} {pct(every, 0.99):8.2f} "
          f"{max(every) * 1000:8.2f}")  # fmt: skip
    print(
        f"(median of the history: {statistics.median(results['screen-pop history']) * 1000:.2f} ms)"
    )


async def run_on(
    url: str, title: str, data: list[dict[str, Any]], book: AddressBook, runs: int
) -> None:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        took = await fill(engine, data)
        results = await measure(engine, book, data, runs)
        report(title, took, len(data), results)
        # A shared machine: the load says how much else ran beside the benchmark.
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1000, help="timed queries of each kind")
    parser.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pinned = benchkit.pin(CORE)
    book = read_book(ROOT / "config" / "stations.toml")
    began = time.perf_counter()
    data, _phones = rows(args.tickets, book, random.Random(7))
    # The million rows in this process are the benchmark's, not the service's: out of the
    # collector's way, as the service freezes what it holds from start-up (app.tracker_ctx).
    gc.collect()
    gc.freeze()
    print(f"generated {len(data):,} tickets in {time.perf_counter() - began:.0f} s"
          f"{'; pinned to core 0' if pinned else ''}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cc-bench-tickets-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'tickets.sqlite3'}"
        asyncio.run(run_on(url, "SQLite", data, book, args.runs))
    if args.postgres:
        from tests.integration.bench.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        try:
            cluster.create_database("bench")
            asyncio.run(run_on(cluster.url("bench"), "PostgreSQL 15", data, book, args.runs))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
