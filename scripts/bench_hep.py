"""Benchmark: HEP3 → SIP → call tracker → database on one core, and ring-limit alert lateness.

    .venv/bin/python scripts/bench_hep.py [--quick] [--transcribe]

The real app (`callcenter.app.build`, SQLite in a temp dir) runs in this process pinned to
core 0; a sender process pinned to core 1 replays simulated calls (`telephony.hep.simulate`,
the demo's traffic: every message mirrored in and out) as HEP3 over loopback UDP, stamping
each datagram with the time it is sent as its capture time. Figures:

1. throughput: an open-loop blast, a flow-controlled run (the sender keeps the socket queue
   short: the fastest rate with nothing lost) and paced runs at 5,000 and 20,000 msgs/s;
   loss = datagrams sent − datagrams the listener read, and the kernel's UDP RcvbufErrors.
2. alert lateness: 10,000 legs ring at once and are never answered; for each
   RingLimitReached on the bus, lateness = publish time − its deadline_at.

--transcribe: then all of it again with speech on ([speech] enabled, one worker, nice 10,
SCHED_IDLE) and
its worker kept transcribing throughout: three 8-minute calls spliced from the AISHELL clips
(8 kHz µ-law) added with `callcenter recording add` before each app is measured; the worker
inherits the service's core, so only its nice keeps it from call handling (hep_speech.py).
The alert lateness without and with it side by side, and what the worker did meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import sys
import tempfile
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import benchkit
import hep_speech
from hep_report import Alerts, Phase, Run, compare, rcvbuf_note, report
from hep_traffic import SENDER_CORE, sender_main, socket_queue

SERVICE_CORE = 0


@dataclass(frozen=True)
class Sizes:
    blast_calls: int
    flow_calls: int
    paced: tuple[tuple[int, float], ...]  # (SIP messages/s, seconds)
    alert_legs: int
    alert_spread: float


FULL = Sizes(10_000, 10_000, ((5_000, 10.0), (20_000, 5.0)), 10_000, 4.0)
QUICK = Sizes(1_000, 1_000, ((5_000, 2.0), (20_000, 1.0)), 1_000, 0.5)
# Deadline 6 s after the first ring, spread 4 s: all 10,000 legs ring at once for 2 s.
ALERT_CYCLE, ALERT_LIMIT = 2.0, 3
# --transcribe: (calls, minutes each) per app: more than the worker gets through in its
# measurement even alone on the core (~12 audio seconds per second).
CALLS_FULL, CALLS_QUICK = (3, 8.0), (2, 2.0)


# -- the service process --------------------------------------------------------------------
def udp_snmp() -> dict[str, int]:
    with open("/proc/net/snmp") as fh:
        rows = [line.split() for line in fh if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:]), strict=True))


async def measure(svc: Any, conn: Connection, phase: Phase, name: str, flow: bool) -> None:
    """Have the sender send `name`; follow the listener's counters until they stop."""
    stats = svc.listener.stats
    port = svc.hep_address[1]
    snmp0, (_, drops0) = udp_snmp(), socket_queue(port)
    d0, s0 = stats.datagrams, stats.sip_messages
    cpu0 = time.process_time()

    def sample() -> tuple[float, int, int, float, int, int]:
        busy, total = benchkit.core_ticks(SERVICE_CORE)
        now = time.perf_counter()
        return now, stats.datagrams, stats.sip_messages, time.process_time(), busy, total

    samples = [sample()]
    conn.send(("send", name, svc.hep_address, flow))
    result: dict[str, Any] | None = None
    last_change = time.perf_counter()
    while True:
        await asyncio.sleep(0.02)
        samples.append(sample())
        now = samples[-1][0]
        if samples[-1][1] != samples[-2][1]:
            last_change = now
        if result is None and conn.poll():
            result = conn.recv()
        if result is not None and (
            stats.datagrams - d0 >= result["sent"] or now - last_change > 0.5
        ):
            break
    assert result is not None
    phase.cpu = time.process_time() - cpu0
    first = next(i for i, s in enumerate(samples) if s[2] > s0)
    last = next(i for i, s in enumerate(samples) if s[2] == samples[-1][2])
    start, end = samples[first - 1], samples[last]
    to_epoch = time.time() - time.perf_counter()
    phase.span = (start[0] + to_epoch, end[0] + to_epoch)
    phase.seconds = end[0] - start[0]
    # Shares of the core over the busy window: ours, and what other processes took.
    phase.share = (end[3] - start[3]) / phase.seconds
    if end[5] > start[5]:
        busy = (end[4] - start[4]) / (end[5] - start[5])
        phase.others = max(0.0, busy - phase.share)
    phase.sent, phase.send_seconds = result["sent"], result["seconds"]
    phase.read, phase.sip = stats.datagrams - d0, stats.sip_messages - s0
    snmp1, (_, drops1) = udp_snmp(), socket_queue(port)
    phase.kernel_drops = snmp1["RcvbufErrors"] - snmp0["RcvbufErrors"]
    phase.socket_drops = drops1 - drops0
    if result["send_errors"]:
        phase.notes.append(f"{result['send_errors']} sendto errors")


async def db_check(svc: Any, phase: Phase, prefix: str) -> None:
    from sqlalchemy import text

    tracker = svc.calls()
    await asyncio.wait_for(tracker.settled(), 60)
    phase.in_memory = sum(1 for key in tracker.calls if key[1].startswith(prefix))
    async with svc.db().connect() as conn:
        row = await conn.execute(
            text("SELECT count(*) FROM calls WHERE sip_call_id LIKE :p"), {"p": prefix + "%"}
        )
        phase.db_rows = int(row.scalar_one())
        row = await conn.execute(
            text(
                "SELECT count(*) FROM legs JOIN calls ON calls.id = legs.call_pk"
                " WHERE calls.sip_call_id LIKE :p AND legs.ring_started_at IS NOT NULL"
            ),
            {"p": prefix + "%"},
        )
        phase.legs_rung = int(row.scalar_one())


async def start_app(
    tmp: Path, name: str, rings: dict[str, Any], recordings: list[Path]
) -> tuple[Any, Any, AbstractAsyncContextManager[hep_speech.Follow | None]]:
    """The app on SQLite in `tmp`; with `recordings`, speech on and them to transcribe (the
    context keeps its worker busy on them and follows it)."""
    from aiohttp import web

    from callcenter.app import SERVICES, build
    from callcenter.config import parse_settings

    raw: dict[str, dict[str, Any]] = {
        "database": {"url": f"sqlite+aiosqlite:///{tmp}/{name}.sqlite3"},
        "sip": {"hep_listen": "127.0.0.1:0"},
        "rings": rings,
    }
    if recordings:
        raw["recordings"] = {"root": str(tmp / f"{name}-recordings")}
        raw["speech"] = dict(hep_speech.SPEECH)
    app = build(parse_settings(raw, base_dir=tmp), migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    svc = app[SERVICES]
    if not recordings:
        return runner, svc, contextlib.nullcontext()
    busy = hep_speech.transcribing(svc, tmp / f"{name}.toml", raw, recordings, name)
    return runner, svc, busy


async def throughput(
    tmp: Path, conn: Connection, sizes: Sizes, recordings: list[Path]
) -> tuple[list[Phase], hep_speech.Window | None]:
    runner, svc, busy = await start_app(tmp, "throughput runs", {}, recordings)
    cycle, limit = svc.rule.cycle_seconds, svc.rule.limit
    phases: list[Phase] = []
    window = None
    runs: list[tuple[str, int, int | None, bool]] = [
        ("blast, open loop", sizes.blast_calls, None, False),
        ("max rate, flow-controlled", sizes.flow_calls, None, True),
    ]
    for per_second, seconds in sizes.paced:
        calls = max(1, round(per_second * seconds / 12.7))  # ~12.7 copies per call
        runs.append((f"paced {per_second:,}/s", calls, per_second, False))
    try:
        async with busy as follow:
            if follow is not None:
                follow.begin()
            for i, (label, calls, rate, flow) in enumerate(runs):
                prefix = f"tp{i}-"
                conn.send(("mixed", label, calls, 100 + i, prefix, cycle, limit, rate))
                await benchkit.receive(conn)
                phase = Phase(label, calls)
                await measure(svc, conn, phase, label, flow)
                await db_check(svc, phase, prefix)
                phases.append(phase)
                await asyncio.sleep(0.5)
            if follow is not None:
                follow.end()
                follow.charge(phases)
                window = await follow.window(svc.db())
    finally:
        await runner.cleanup()
    return phases, window


async def alert_storm(
    tmp: Path, conn: Connection, sizes: Sizes, recordings: list[Path]
) -> tuple[Alerts, hep_speech.Window | None]:
    from callcenter.events import RingLimitReached

    rings = {"cycle_seconds": ALERT_CYCLE, "limit": ALERT_LIMIT}
    runner, svc, busy = await start_app(tmp, "alert storm", rings, recordings)
    lateness: list[float] = []
    fired: list[float] = []
    all_fired = asyncio.Event()
    window = None

    async def on_alert(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        lateness.append((datetime.now(UTC) - event.deadline_at).total_seconds())
        fired.append((event.raised_at - event.deadline_at).total_seconds())
        if len(lateness) >= sizes.alert_legs:
            all_fired.set()

    try:
        async with busy as follow:
            svc.calls().bus.subscribe(RingLimitReached, on_alert)
            conn.send(("ringing", "alerts", sizes.alert_legs, sizes.alert_spread, 7, "al-"))
            await benchkit.receive(conn)
            phase = Phase(f"alerts: {sizes.alert_legs:,} legs ring", sizes.alert_legs)
            if follow is not None:
                follow.begin()
            started = time.monotonic()
            await measure(svc, conn, phase, "alerts", False)
            deadline = svc.rule.deadline.total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_fired.wait(), sizes.alert_spread + deadline + 20)
            waited = time.monotonic() - started
            if follow is not None:
                follow.end()
                follow.charge([phase])
                window = await follow.window(svc.db())
            await db_check(svc, phase, "al-")
    finally:
        await runner.cleanup()
    return Alerts(sizes.alert_legs, phase, lateness, fired, waited), window


async def bench(conn: Connection, sizes: Sizes, recordings: list[Path]) -> Run:
    with tempfile.TemporaryDirectory(prefix="bench-hep-") as tmp:
        phases, busy_runs = await throughput(Path(tmp), conn, sizes, recordings)
        alerts, busy_storm = await alert_storm(Path(tmp), conn, sizes, recordings)
    return Run(phases, alerts, [w for w in (busy_runs, busy_storm) if w is not None])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument(
        "--transcribe",
        action="store_true",
        help="measure again with speech on and its worker transcribing throughout",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("callcenter.app").setLevel(logging.WARNING)

    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    pinned = {SERVICE_CORE, SENDER_CORE} <= cores
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    sender = ctx.Process(target=sender_main, args=(theirs,), name="hep-sender", daemon=True)
    sender.start()
    if pinned:
        # Before the loop and the SQLite worker thread exist: every thread inherits it.
        benchkit.pin(SERVICE_CORE)
    print(
        f"bench_hep: {'quick' if args.quick else 'full'} run; service on core {SERVICE_CORE}, "
        f"sender on core {SENDER_CORE}" + ("" if pinned else " (not pinned)")
    )
    started = time.monotonic()
    busy = None
    try:
        base = asyncio.run(bench(ours, sizes, []))
        if args.transcribe:
            count, minutes = CALLS_QUICK if args.quick else CALLS_FULL
            with tempfile.TemporaryDirectory(prefix="bench-hep-calls-") as folder:
                recordings = hep_speech.make_calls(Path(folder), count, minutes)
                busy = asyncio.run(bench(ours, sizes, recordings))
    finally:
        ours.send(("quit",))
        sender.join(5)
    print("\n== without transcription" if busy else "")
    report(base)
    if busy is not None:
        print("\n== with transcription: [speech] enabled, workers 1, nice 10, idle, worker busy")
        report(busy)
        print()
        hep_speech.report(busy.windows)
        compare(base, busy)
    print(rcvbuf_note())
    if not pinned:
        print("note: fewer than 2 usable cores: service and sender were not pinned")
    print(f"(whole run {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
