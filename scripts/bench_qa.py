"""Benchmark: recording spot checks (录音抽查) over a month of a 50-agent hotline, on SQLite
and PostgreSQL.

    .venv/bin/python scripts/bench_qa.py                  # 100,000 calls, SQLite
    .venv/bin/python scripts/bench_qa.py --postgres       # and a throw-away PostgreSQL 15
    .venv/bin/python scripts/bench_qa.py --calls 20000    # a quick look

The database is migrated as the service does it (Alembic) and filled by bulk insert (chunks
of 5,000 rows, one transaction each) with a month (November 2026, Asia/Shanghai) of answered
calls spread evenly: each with its answering leg and one recording (4 % empty, 0.5 %
deleted); 6 % answered late and 2 % hung up on by the agent (violations), 30 % with a repair
ticket, 1 % with a complaint; 3 % are callbacks (回访) placed from an agent's phone, on the
callback list. 50 agents (5 in their first month), 3 team leads, 1 QA lead. Then, on one
core, through the real service (`qa.draw.Draws`, as the API and the schedule call it):

- sampling: the month's samples — every day each team lead's daily draw (2 per agent), every
  ISO week inside the month the QA lead's weekly one (5 per agent) — each draw timed alone,
  its candidate query included; a stored draw shown again; the month's coverage view.

Each section is an async function in SECTIONS returning {measure: [seconds, …]}; a later
section (the monthly assessment) adds itself there and reads the same filled database.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
from callcenter.auth.model import Principal, Role  # noqa: E402
from callcenter.auth.store import users  # noqa: E402
from callcenter.callbacks.store import callbacks  # noqa: E402
from callcenter.calls.store import calls, legs, violations  # noqa: E402
from callcenter.clock import SystemClock  # noqa: E402
from callcenter.qa import coverage as cov  # noqa: E402
from callcenter.qa import periods  # noqa: E402
from callcenter.qa.draw import Draws  # noqa: E402
from callcenter.qa.settings import QaSettings  # noqa: E402
from callcenter.recordings.store import recordings  # noqa: E402
from callcenter.tickets.store import ticket_calls, tickets  # noqa: E402

CORE = 0
CHUNK = 5000
AGENTS = 50
NEW_AGENTS = 5
TEAM_LEADS = 3
QA_LEADS = 1
TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2026-11"
FIRST = date(2026, 11, 1)
DAYS = 30


@dataclass
class Fill:
    """What was generated, by table, and who the reviewers are."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reviewers: list[Principal] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.rows["calls"])


def generate(count: int, rng: random.Random) -> Fill:
    fill = Fill()
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    people = []
    for i in range(1, AGENTS + 1):
        joined = datetime(2026, 11, 10, tzinfo=UTC) if i <= NEW_AGENTS else long_ago
        people.append((i, f"agent{i}", "agent", str(2000 + i), joined))
    for j in range(TEAM_LEADS):
        people.append((AGENTS + 1 + j, f"lead{j + 1}", "team_lead", None, long_ago))
    for j in range(QA_LEADS):
        people.append((AGENTS + TEAM_LEADS + 1 + j, f"qa{j + 1}", "qa_lead", None, long_ago))
    fill.rows["users"] = [
        {"id": i, "name": name, "role": role, "extension": ext, "work_number": f"W{i}",
         "password_hash": "x", "language": None, "disabled": False, "created_at": joined}
        for i, name, role, ext, joined in people
    ]  # fmt: skip
    fill.reviewers = [Principal(i, n, Role(r)) for i, n, r, _, _ in people if r != "agent"]
    start = datetime(2026, 11, 1, tzinfo=TZ).astimezone(UTC)
    span = timedelta(days=DAYS).total_seconds()
    stamps = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
    out: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("calls", "legs", "recordings", "violations", "tickets", "ticket_calls",
                        "callbacks")
    }  # fmt: skip
    repair_tickets: list[str] = []
    for n, at in enumerate(stamps):
        agent = rng.randint(1, AGENTS)
        call_id, leg_id = f"c{n:031d}", f"l{n:031d}"
        callback = rng.random() < 0.03 and repair_tickets
        answered, ended = at + timedelta(seconds=rng.uniform(2, 25)), at + timedelta(minutes=3)
        out["calls"].append(
            {"id": call_id, "source": "hep", "sip_call_id": f"sip-{n}", "call_tag": "t",
             "caller": str(2000 + agent) if callback else f"139{n:08d}", "dialed": "96069",
             "monitored": not callback, "offered_at": at, "answered_at": answered,
             "ended_at": ended, "final": "answered", "hung_up_by": "caller",
             "answered_leg": "a"}
        )  # fmt: skip
        out["legs"].append(
            {"id": leg_id, "call_pk": call_id, "leg_ref": "a",
             "extension": f"139{n:08d}" if callback else str(2000 + agent),
             "agent_id": None if callback else agent, "queue": None, "ring_started_at": at,
             "answered_at": answered, "ended_at": ended, "outcome": "answered",
             "end_cause": None, "ring_limit_recorded": False}
        )  # fmt: skip
        empty = rng.random() < 0.04
        out["recordings"].append(
            {"id": f"r{n:031d}", "sha256": f"{n:064x}", "ext": "wav", "size": 480_000,
             "container": "wav", "codec": "pcm_alaw", "duration_seconds": 60.0, "channels": 1,
             "sample_rate": 8000, "loudness_dbfs": None if empty else -20.0,
             "peak_dbfs": None if empty else -3.0, "longest_sound_ms": 0 if empty else 5000,
             "empty": empty, "rendition_sha256": None, "rendition_ext": None,
             "rendition_size": None, "via": "cli", "name": f"{n}.wav", "received_at": ended,
             "call_ref": f"sip-{n}", "source": "hep", "call_pk": call_id, "linked_at": ended,
             "deleted_at": ended if rng.random() < 0.005 else None,
             "deleted_by": None, "deleted_reason": None}
        )  # fmt: skip
        if callback:
            ticket = rng.choice(repair_tickets)
            out["callbacks"].append(
                {"id": f"b{n:031d}", "ticket_id": ticket, "order_id": None, "reason": "repair",
                 "agent_id": agent, "station": None, "created_at": at - timedelta(days=1),
                 "due_at": at + timedelta(days=2), "status": "done", "booked_for": None,
                 "attempts": 1, "done_at": ended, "done_by": f"agent{agent}",
                 "call_id": call_id, "solved": True, "attitude": "satisfied", "charged": False,
                 "score": 10, "suggestions": "", "fee_reminded": True}
            )  # fmt: skip
            out["ticket_calls"].append(
                {"ticket_id": ticket, "call_id": call_id, "linked_at": ended,
                 "linked_by": agent, "how": "follow_up"}
            )  # fmt: skip
            continue
        roll = rng.random()
        kind = "late_answer" if roll < 0.06 else "hung_up_first" if roll < 0.08 else None
        if kind is not None:
            out["violations"].append(
                {"id": f"v{n:031d}", "kind": kind, "occurred_at": answered, "call_pk": call_id,
                 "leg_pk": leg_id, "extension": str(2000 + agent), "agent_id": agent,
                 "rings": 4, "ring_seconds": 20.0, "detail": kind}
            )  # fmt: skip
        roll = rng.random()
        ticket_kind = "complaint" if roll < 0.01 else "repair" if roll < 0.31 else None
        if ticket_kind is not None:
            ticket = f"t{n:031d}"
            out["tickets"].append(
                {"id": ticket, "kind": ticket_kind, "status": "open", "reporter_name": "住户",
                 "phone": f"139{n:08d}", "address_typed": None, "address_standard": None,
                 "address_routing": None, "address_reason": None, "station_proposed": None,
                 "station": None, "station_overridden": False, "category": None,
                 "fault_location": None, "severity": None, "description": "暖气不热",
                 "agent_id": agent, "agent_work_number": f"W{agent}", "created_at": answered,
                 "updated_at": answered}
            )  # fmt: skip
            out["ticket_calls"].append(
                {"ticket_id": ticket, "call_id": call_id, "linked_at": answered,
                 "linked_by": agent, "how": "taken"}
            )  # fmt: skip
            if ticket_kind == "repair":
                repair_tickets.append(ticket)
    fill.rows |= out
    return fill


ORDER: list[tuple[str, Table]] = [
    ("users", users), ("calls", calls), ("legs", legs), ("recordings", recordings),
    ("violations", violations), ("tickets", tickets), ("ticket_calls", ticket_calls),
    ("callbacks", callbacks),
]  # fmt: skip


async def fill_database(engine: AsyncEngine, fill: Fill) -> float:
    began = time.perf_counter()
    for name, table in ORDER:
        data = fill.rows[name]
        for i in range(0, len(data), CHUNK):
            async with engine.begin() as conn:
                await conn.execute(table.insert(), data[i : i + CHUNK])
    took = time.perf_counter() - began
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return took


Results = dict[str, list[float]]


async def timed(make: Callable[[], Awaitable[Any]]) -> float:
    began = time.perf_counter()
    await make()
    return time.perf_counter() - began


async def sampling(engine: AsyncEngine, fill: Fill) -> Results:
    """The month's draws as the schedule makes them, one at a time, then shown again."""
    qa = QaSettings()
    draws = Draws(lambda: engine, SystemClock(), qa, "Asia/Shanghai")
    leads = [r for r in fill.reviewers if r.role == Role.TEAM_LEAD]
    heads = [r for r in fill.reviewers if r.role == Role.QA_LEAD]
    days = [periods.day(FIRST + timedelta(days=i)) for i in range(DAYS)]
    weeks = [p for p in {periods.week_of(d.first) for d in days} if p.first >= FIRST]
    weeks = [w for w in sorted(weeks, key=lambda w: w.first) if w.last < FIRST + timedelta(DAYS)]
    out: Results = {"daily draw (a team lead, a day)": [], "weekly draw (the QA lead, a week)": []}
    drawn = 0

    async def one(reviewer: Principal, period: periods.Period, key: str) -> None:
        nonlocal drawn
        began = time.perf_counter()
        got = await draws.draw_for(reviewer, period.scope, period)
        out[key].append(time.perf_counter() - began)
        drawn += len(got)

    began = time.perf_counter()
    for day in days:
        for lead in leads:
            await one(lead, day, "daily draw (a team lead, a day)")
    for week in weeks:
        for head in heads:
            await one(head, week, "weekly draw (the QA lead, a week)")
    month_total = time.perf_counter() - began
    out["the month's draws, in all"] = [month_total]
    out["a stored draw shown again"] = [
        await timed(lambda d=d: draws.draw_for(leads[0], "daily", d)) for d in days
    ]
    windows = {"week": cov.week_window(weeks[-1]), "month": cov.month_window(MONTH)}

    async def coverage() -> None:
        async with engine.connect() as conn:
            await cov.coverage(conn, windows, qa, datetime.now(UTC), TZ)

    out["coverage (50 agents, a week and the month)"] = [await timed(coverage) for _ in range(20)]
    print(f"  sampling: {len(days)} days × {len(leads)} team leads + {len(weeks)} weeks × "
          f"{len(heads)} QA lead: {drawn:,} samples")  # fmt: skip
    return out


# (name, section): each reads the filled database and returns its timings.
SECTIONS: list[tuple[str, Callable[[AsyncEngine, Fill], Awaitable[Results]]]] = [
    ("sampling", sampling),
]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(title: str, insert_seconds: float, fill: Fill, results: dict[str, Results]) -> None:
    rows = sum(len(v) for v in fill.rows.values())
    print(f"\n{title}: {fill.calls:,} calls ({rows:,} rows) inserted in {insert_seconds:.1f} s")
    print(f"{'measure':<48} {'n':>4} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for section, measures in results.items():
        print(f"[{section}]")
        for name, samples in measures.items():
            p50, p99, top = pct(samples, 0.5), pct(samples, 0.99), max(samples) * 1000
            print(f"{name:<48} {len(samples):>4} {p50:9.1f} {p99:9.1f} {top:9.1f}")


async def run_on(url: str, title: str, fill: Fill, only: list[str]) -> None:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        took = await fill_database(engine, fill)
        results = {}
        for name, section in SECTIONS:
            if not only or name in only:
                results[name] = await section(engine, fill)
        report(title, took, fill, results)
        # A shared machine: the load says how much else ran beside the benchmark.
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL")
    parser.add_argument(
        "--section", action="append", default=[], choices=[name for name, _ in SECTIONS],
        help="only this section (repeatable; default: all)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pinned = benchkit.pin(CORE)
    began = time.perf_counter()
    fill = generate(args.calls, random.Random(7))
    gc.collect()
    gc.freeze()
    print(f"generated {fill.calls:,} calls in {time.perf_counter() - began:.1f} s"
          f"{'; pinned to core 0' if pinned else ''}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="cc-bench-qa-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'qa.sqlite3'}"
        asyncio.run(run_on(url, "SQLite", fill, args.section))
    if args.postgres:
        from tests.integration.bench.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        try:
            cluster.create_database("bench")
            asyncio.run(run_on(cluster.url("bench"), "PostgreSQL 15", fill, args.section))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
