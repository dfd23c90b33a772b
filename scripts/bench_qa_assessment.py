"""Benchmark: building the monthly assessment (月度考核) of 50 agents over a month of 100,000
calls, on SQLite and PostgreSQL.

    .venv/bin/python scripts/bench_qa_assessment.py               # SQLite
    .venv/bin/python scripts/bench_qa_assessment.py --postgres    # and a throw-away PostgreSQL 15
    .venv/bin/python scripts/bench_qa_assessment.py --calls 10000 # a quick look

The database is migrated as the service does it (Alembic) and filled by bulk insert with
December 2026 and, so the month's bounds have something to cut, the last week of November:
100,000 answered calls spread over the agents; violations as a hotline has them (6 % of
calls rang past the limit, 1 % answered late, 3 % rang out, 1 % hung up first); each
agent's spot checks as [qa] draws them (2 a day by a team lead, 5 a week by the QA lead:
about 4,100 evaluations, one in six of the callback sheet, a finding in one in four, 90 %
final); 3,000 anomalies with one in ten unreported; 20,000 callbacks, 90 % made. Then, on
one core, `build_month` as GET /api/qa/assessment runs it (the five queries and the
arithmetic), and the JSON, CSV and XLSX made of it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
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
from callcenter.qa import export  # noqa: E402
from callcenter.qa.checklists import load  # noqa: E402
from callcenter.qa.http_assessment import build_month  # noqa: E402
from callcenter.qa.settings import QaSettings  # noqa: E402
from tests.api import month_rows as mr  # noqa: E402

CORE = 0
CHUNK = 5000
AGENTS = 50
LEADS = 4
START = datetime(2026, 11, 24, 16, tzinfo=UTC)  # a week before the month, local midnight
END = datetime(2026, 12, 31, 16, tzinfo=UTC)
SHEETS = load(ROOT / "config" / "qa")
KINDS = [("ring_limit", 0.06), ("late_answer", 0.01), ("rang_out", 0.03), ("hung_up_first", 0.01)]
FINDINGS = [{"address": 5}, {"station": 5}, {"name": 1}, {"phone": 1}, {"opening": 2},
            {"closing": 4}, {"address": 2, "read_back_address": 1}, {"seat": 1}]  # fmt: skip


def at(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.uniform(0, (END - START).total_seconds()))


def generate(calls: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows; agents are users 1-50, leads 51-54 (team leads), 55 (QA lead)."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "calls", "violations", "recordings", "qa_samples", "qa_evaluations", "anomalies",
        "tickets", "callbacks")}  # fmt: skip
    for i in range(calls):
        when = at(rng)
        out["calls"].append(mr.call_row(f"c{i}", when))
        agent = 1 + i % AGENTS
        for kind, share in KINDS:
            if rng.random() < share:
                v_id = f"v{len(out['violations'])}"
                out["violations"].append(mr.violation_row(v_id, f"c{i}", agent, kind, when))
    days = (END - START).days
    n = 0
    for agent in range(1, AGENTS + 1):
        checks = [(51 + d % LEADS, START + timedelta(days=d, hours=h)) for d in range(days)
                  for h in (2, 3)]  # fmt: skip
        checks += [(55, START + timedelta(days=w * 7 + 1, hours=h)) for w in range(days // 7)
                   for h in range(5)]  # fmt: skip
        for reviewer, when in checks:
            n += 1
            sheet = SHEETS["callback"] if n % 6 == 0 else SHEETS["intake"]
            wrong = rng.choice(FINDINGS) if rng.random() < 0.25 else {}
            if sheet.sheet == "callback" and wrong:
                wrong = {"opening": 1}
            status = "acknowledged" if rng.random() < 0.9 else "open"
            out["recordings"].append(mr.recording_row(f"r{n}", when))
            scored_at, good = when + timedelta(hours=8), rng.random() < 0.05
            s, e = mr.evaluation_rows(
                f"e{n}", f"r{n}", agent, reviewer, sheet, wrong, scored_at, status, good
            )
            out["qa_samples"].append(s)
            out["qa_evaluations"].append(e)
    for i in range(3000):
        out["anomalies"].append(mr.anomaly_row(f"a{i}", 1 + i % AGENTS, at(rng), i % 10 == 0))
    for i in range(20000):
        when, agent = at(rng), 1 + i % AGENTS
        out["tickets"].append(mr.ticket_row(f"t{i}", when))
        by = f"agent{agent}" if rng.random() < 0.9 else None
        out["callbacks"].append(mr.callback_row(f"cb{i}", f"t{i}", agent, by, when))
    return out


async def fill(engine: AsyncEngine, data: dict[str, list[dict[str, Any]]]) -> float:
    people = [(f"agent{i}", "agent") for i in range(1, AGENTS + 1)]
    people += [(f"lead{i}", "team_lead") for i in range(1, LEADS + 1)] + [("qa", "qa_lead")]
    async with engine.begin() as conn:
        await conn.execute(users.insert(), [
            {"name": name, "role": role, "extension": str(2000 + i) if role == "agent" else None,
             "work_number": f"{1000 + i}" if role == "agent" else None, "password_hash": "x",
             "language": None, "disabled": False, "created_at": START}
            for i, (name, role) in enumerate(people, start=1)
        ])  # fmt: skip
    began = time.perf_counter()
    for table, rows in data.items():
        for i in range(0, len(rows), CHUNK):
            async with engine.begin() as conn:
                await mr.insert(conn, table, rows[i : i + CHUNK])
    took = time.perf_counter() - began
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return took


async def timed(runs: int, make: Callable[[], Awaitable[Any]]) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        await make()
        out.append(time.perf_counter() - began)
    return out


def ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_on(url: str, title: str, data: dict[str, list[dict[str, Any]]], runs: int) -> None:
    engine = db.create_engine(url)
    qa = QaSettings()
    try:
        await db.upgrade(engine)
        took = await fill(engine, data)
        counts = ", ".join(f"{len(v):,} {k}" for k, v in data.items())
        print(f"\n{title}: {counts} inserted in {took:.0f} s")

        async def build() -> export.Month:
            return await build_month(engine, SystemClock(), "Asia/Shanghai", qa, SHEETS, "2026-12")

        month = await build()  # warm, as a running service's caches would be
        fines = sum(a.fines_yuan for a in month.rows)
        print(f"{len(month.rows)} agents, {fines:,} yuan of fines, "
              f"{sum(a.sheets['intake'] + a.sheets['callback'] for a in month.rows):,} "
              f"evaluations counted")  # fmt: skip
        results = {
            "build_month (5 queries + arithmetic)": await timed(runs, build),
            "JSON": await timed(runs, _sync(lambda: export.month_json(month, qa.fines))),
            "CSV": await timed(runs, _sync(lambda: export.to_csv(month))),
            "XLSX": await timed(runs, _sync(lambda: export.to_xlsx(month, qa.fines))),
        }
        print(f"{'step':<40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for name, samples in results.items():
            print(f"{name:<40} {ms(samples, 0.5):8.1f} {ms(samples, 0.99):8.1f} "
                  f"{max(samples) * 1000:8.1f}")  # fmt: skip
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        await engine.dispose()


def _sync(f: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def run() -> Any:
        return f()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20, help="timed builds")
    parser.add_argument("--postgres", action="store_true", help="also on a throw-away PostgreSQL")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    pinned = benchkit.pin(CORE)
    data = generate(args.calls, random.Random(7))
    print(f"generated{'; pinned to core 0' if pinned else ''}")
    with tempfile.TemporaryDirectory(prefix="cc-bench-qa-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'qa.sqlite3'}"
        asyncio.run(run_on(url, "SQLite", data, args.runs))
    if args.postgres:
        from tests.integration.bench.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        try:
            cluster.create_database("bench")
            asyncio.run(run_on(cluster.url("bench"), "PostgreSQL 15", data, args.runs))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
