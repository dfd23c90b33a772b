"""Benchmark: how long the active/standby pair takes to fail over, and how late the alerts
whose deadline fell in the gap are (a benchmark, not a test: it prints figures).

    .venv/bin/python scripts/bench_failover.py             # 5 rounds, the active killed -9
    .venv/bin/python scripts/bench_failover.py --freeze    # frozen (SIGSTOP), then resumed

Each round is the failover test's (tests/integration/test_failover.py) on a throw-away
PostgreSQL 15 and Mosquitto: two `callcenter serve` processes (ha.takeover_seconds 3), HEP
mirrored to both, 220 calls to 20 phones and 30 repair orders; 4.9 s after the first call,
with 200 phones ringing, the active is killed -9 (or frozen: its host gone silent, so only
PostgreSQL's idle_session_timeout ends its lock session; resumed once the standby took over,
it must send nothing it had queued, and stop). Figures, per round:

- kill → lock: until the standby holds the lock; lock → active: restoring calls and
  deadlines, catching up on the kept HEP, starting everything (the standby's own
  `ha.takeover_seconds` on /api/health); kill → active: the takeover time.
- lateness of the late alerts (deadline in the gap, raised at takeover): `lateness_seconds`
  of each message on the broker = raised_at − deadline, ring limits and anomalies.
- lost and doubled: alerts expected but not on the broker, and any on it twice (both 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from tests.integration.bench.mosquitto import MosquittoBroker  # noqa: E402
from tests.integration.bench.postgres import PostgresCluster  # noqa: E402
from tests.integration.pair import (  # noqa: E402
    ACCEPT_SECONDS,
    Collector,
    dispatch_orders,
    epoch,
    failover_legs,
    health,
    make_pair,
    mirror,
    prepare_database,
    wait_role,
)
from tests.waiting import eventually  # noqa: E402

KILL_AFTER = 4.9
ORDERS = 30


async def one_round(
    cluster: PostgresCluster, broker: MosquittoBroker, base: Path, seed: int, freeze: bool
) -> dict[str, Any]:
    name = cluster.create_database()
    url = cluster.url(name)
    a, b = make_pair(base, url, broker.port)
    collector = Collector(broker.port)
    listening = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.ready.wait(), 10)
        tokens = await prepare_database(url)
        async with aiohttp.ClientSession() as session:
            a.start()
            await wait_role(session, a, "active")
            b.start()
            await wait_role(session, b, "standby")
            t0 = time.time() + 2.5
            legs = failover_legs(random.Random(seed), t0, KILL_AFTER)
            sending = asyncio.create_task(mirror(legs, [a.hep_port, b.hep_port]))
            first = t0 + KILL_AFTER - 1.0 - ACCEPT_SECONDS
            at = [first + 3.0 * n / ORDERS for n in range(ORDERS)]
            await dispatch_orders(session, a, tokens["agent"], at)
            await asyncio.sleep(t0 + KILL_AFTER - time.time())
            killed_at = a.freeze() if freeze else a.kill()
            await wait_role(session, b, "active", within=30)
            ha = (await health(session, b, tokens["lead"]))["ha"]
            if freeze:  # resumed: it must send nothing it had queued, and stop
                a.resume()
            await sending
            expected = {leg.call.call_id for leg in legs if leg.alerted}
            with contextlib.suppress(AssertionError):  # what is missing is counted as lost
                await eventually(
                    lambda: (
                        len(collector.ring) >= len(expected) and len(collector.anomalies) >= ORDERS
                    ),
                    within=30,
                )
            await asyncio.sleep(1.0)  # a doubled message would have arrived by now
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
        a.stop()
        b.stop()
        cluster.drop_database(name)
    took_over = epoch(ha["took_over_at"])
    messages = collector.ring + collector.anomalies
    late = [m for m in messages if m["late"]]
    keys = [m["sip_call_id"] for m in collector.ring] + [m["order_id"] for m in collector.anomalies]
    return {
        "kill_to_lock": took_over - ha["takeover_seconds"] - killed_at,
        "lock_to_active": ha["takeover_seconds"],
        "kill_to_active": took_over - killed_at,
        "first_late_after_kill": min((m["received"] for m in late), default=killed_at) - killed_at,
        "late": [m["lateness_seconds"] for m in late],
        "alerts": len(messages),
        "lost": len(expected - {m["sip_call_id"] for m in collector.ring})
        + max(0, ORDERS - len({m["order_id"] for m in collector.anomalies})),
        "doubled": sum(n - 1 for n in Counter(keys).values()),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


async def main_async(rounds: int, freeze: bool) -> int:
    logging.basicConfig(level=logging.WARNING)
    cluster = PostgresCluster()
    cluster.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    broker = MosquittoBroker(tmp / "mosquitto")
    broker.base_dir.mkdir(parents=True)
    broker.start()
    results = []
    try:
        for n in range(rounds):
            base = tmp / f"round{n}"
            base.mkdir()
            r = await one_round(cluster, broker, base, seed=100 + n, freeze=freeze)
            results.append(r)
            late = sorted(r["late"])
            print(
                f"round {n + 1}: kill→lock {ms(r['kill_to_lock'])}, lock→active "
                f"{ms(r['lock_to_active'])}, kill→active {ms(r['kill_to_active'])}; "
                f"{len(late)} late of {r['alerts']} alerts, lateness p50 "
                f"{ms(statistics.median(late)) if late else '-'} max "
                f"{ms(late[-1]) if late else '-'}; lost {r['lost']}, doubled {r['doubled']}",
                flush=True,
            )
    finally:
        broker.stop()
        cluster.stop()
    takeovers = sorted(r["kill_to_active"] for r in results)
    lateness = sorted(x for r in results for x in r["late"])
    how = "frozen (SIGSTOP)" if freeze else "killed -9"
    print(f"\nthe active {how}, {rounds} rounds, ha.takeover_seconds = 3")
    print("| what | p50 | max |\n| --- | --- | --- |")
    for label, values in (
        ("kill → lock", sorted(r["kill_to_lock"] for r in results)),
        ("lock → active (restore, catch-up, start)", [r["lock_to_active"] for r in results]),
        ("**takeover: kill → active**", takeovers),
        ("kill → first late alert on the broker", [r["first_late_after_kill"] for r in results]),
        (f"lateness of the {len(lateness)} alerts that fell in the gap", lateness),
    ):
        print(f"| {label} | {ms(statistics.median(values))} | {ms(max(values))} |")
    lost = sum(r["lost"] for r in results)
    doubled = sum(r["doubled"] for r in results)
    alerts = sum(r["alerts"] for r in results)
    print(f"alerts: {alerts} on the broker, lost {lost}, doubled {doubled}")
    return 0 if lost == 0 and doubled == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--freeze", action="store_true", help="SIGSTOP the active, not kill -9")
    args = parser.parse_args()
    return asyncio.run(main_async(args.rounds, args.freeze))


if __name__ == "__main__":
    sys.exit(main())
