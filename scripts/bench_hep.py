"""Benchmark: HEP3 → SIP → call tracker → database on one core, and ring-limit alert lateness.

    .venv/bin/python scripts/bench_hep.py [--quick]

The real app (`callcenter.app.build`, SQLite in a temp dir) runs in this process pinned to
core 0; a sender process pinned to core 1 replays simulated calls (`telephony.hep.simulate`,
the demo's traffic: every message mirrored in and out) as HEP3 over loopback UDP, stamping
each datagram with the time it is sent as its capture time. Figures:

1. throughput: an open-loop blast, a flow-controlled run (the sender keeps the socket queue
   short: the fastest rate with nothing lost) and paced runs at 5,000 and 20,000 msgs/s;
   loss = datagrams sent − datagrams the listener read, and the kernel's UDP RcvbufErrors.
2. alert lateness: 10,000 legs ring at once and are never answered; for each
   RingLimitReached on the bus, lateness = publish time − its deadline_at.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import os
import random
import socket
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import benchkit

from callcenter.telephony.hep import simulate as sim
from callcenter.telephony.hep.listener import enlarge_receive_buffer

SERVICE_CORE = 0
SENDER_CORE = 1
# Where encode_hep puts the capture time (chunks 0x0009/0x000a): patched at send time.
_TS_SEC_AT = 62
_TS_USEC_AT = 72
_U32 = struct.Struct("!I")
# Flow control: the sender pauses while the listener's socket holds more than this.
_FLOW_QUEUE_BYTES = 1 << 20


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


# -- the sender process ---------------------------------------------------------------------
def _check_layout(buf: bytes) -> None:
    # The fixed chunk order of encode_hep: the timestamp chunks sit at known offsets.
    assert buf[_TS_SEC_AT - 6 : _TS_SEC_AT] == struct.pack("!HHH", 0, 0x0009, 10)
    assert buf[_TS_USEC_AT - 6 : _TS_USEC_AT] == struct.pack("!HHH", 0, 0x000A, 10)


def build_mixed(calls: int, seed: int, prefix: str, cycle: float, limit: int) -> list[bytearray]:
    """The demo's scenario mix, ~200 calls open at a time, in capture order."""
    rng = random.Random(seed)
    window = 200
    items: list[tuple[float, bytes]] = []
    for i in range(calls):
        call = sim.new_call(rng, prefix=prefix)
        plan = sim.plan_for(sim.random_scenario(rng), rng, cycle, limit)
        copies = sim.timeline(call, plan)
        duration = copies[-1][0] or 1.0
        items += [(i + window * at / duration, sim.hep_datagram(hop, 0.0)) for at, hop in copies]
    items.sort(key=lambda item: item[0])
    _check_layout(items[0][1])
    return [bytearray(data) for _, data in items]


def build_ringing(
    legs: int, spread: float, seed: int, prefix: str
) -> tuple[list[bytearray], list[float]]:
    """INVITE and 180, in and out copies, of `legs` calls started evenly over `spread` s."""
    rng = random.Random(seed)
    items: list[tuple[float, bytes]] = []
    for i in range(legs):
        call = sim.new_call(rng, prefix=prefix)
        start = i * spread / legs
        for at, hop in sim.timeline(call, sim.Plan("ringing")):
            if hop.payload.startswith((b"INVITE", b"SIP/2.0 180")):
                items.append((start + at, sim.hep_datagram(hop, 0.0)))
    items.sort(key=lambda item: item[0])
    _check_layout(items[0][1])
    return [bytearray(data) for _, data in items], [at for at, _ in items]


def socket_queue(port: int) -> tuple[int, int]:
    """(bytes queued, drops) of the UDP socket bound to `port`, from /proc/net/udp."""
    suffix = f":{port:04X}"
    with open("/proc/net/udp") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 12 and parts[1].endswith(suffix):
                return int(parts[4].split(":")[1], 16), int(parts[-1])
    return 0, 0


def send(
    sock: socket.socket,
    target: tuple[str, int],
    data: list[bytearray],
    offsets: list[float] | None,
    flow: bool,
) -> dict[str, Any]:
    """Send every datagram, captured now; paced by `offsets`, or as fast as possible
    (with `flow`: pausing while the listener's socket queue is long)."""
    pack = _U32.pack_into
    clock, wall = time.perf_counter, time.time
    errors = 0
    t0 = clock()
    for k, buf in enumerate(data):
        if offsets is not None:
            due = t0 + offsets[k]
            ahead = due - clock()
            if ahead > 0.002:
                time.sleep(ahead - 0.001)
            while clock() < due:
                pass
        elif flow and not k & 127:
            while socket_queue(target[1])[0] > _FLOW_QUEUE_BYTES:
                time.sleep(0.0002)
        now = wall()
        sec = int(now)
        pack(buf, _TS_SEC_AT, sec)
        pack(buf, _TS_USEC_AT, int((now - sec) * 1_000_000))
        try:
            sock.sendto(buf, target)
        except OSError:
            errors += 1
    return {"sent": len(data) - errors, "send_errors": errors, "seconds": clock() - t0}


def sender_main(conn: Connection) -> None:
    """Build traffic and send it on command; runs in its own process on its own core."""
    benchkit.pin(SENDER_CORE)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    built: dict[str, tuple[list[bytearray], list[float] | None]] = {}
    while True:
        cmd = conn.recv()
        op = cmd[0]
        if op == "mixed":
            _, name, calls, seed, prefix, cycle, limit, rate = cmd
            data = build_mixed(calls, seed, prefix, cycle, limit)
            offsets = None if rate is None else [k / rate for k in range(len(data))]
            built[name] = (data, offsets)
            conn.send(len(data))
        elif op == "ringing":
            _, name, legs, spread, seed, prefix = cmd
            built[name] = build_ringing(legs, spread, seed, prefix)
            conn.send(len(built[name][0]))
        elif op == "send":
            _, name, target, flow = cmd
            data, offsets = built.pop(name)
            conn.send(send(sock, tuple(target), data, offsets, flow))
        else:
            return


# -- the service process --------------------------------------------------------------------
def udp_snmp() -> dict[str, int]:
    with open("/proc/net/snmp") as fh:
        rows = [line.split() for line in fh if line.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:]), strict=True))


@dataclass
class Phase:
    name: str
    calls: int
    sent: int = 0
    read: int = 0
    sip: int = 0
    seconds: float = 0.0  # from the first message read to the last
    send_seconds: float = 0.0
    kernel_drops: int = 0
    socket_drops: int = 0
    db_rows: int = 0
    legs_rung: int = 0
    in_memory: int = 0
    cpu: float = 0.0  # CPU seconds this process (all its threads) used, final flush included
    share: float = 0.0  # share of its core the service used from the first read to the last
    others: float = 0.0  # share of that core other processes used meanwhile
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.sent - self.read

    @property
    def rate(self) -> float:
        return self.sip / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.sip / self.cpu if self.cpu > 0 else 0.0


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


async def start_app(tmp: Path, name: str, rings: dict[str, Any]) -> tuple[Any, Any]:
    from aiohttp import web

    from callcenter.app import SERVICES, build
    from callcenter.config import parse_settings

    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp}/{name}.sqlite3"},
            "sip": {"hep_listen": "127.0.0.1:0"},
            "rings": rings,
        },
        base_dir=tmp,
    )
    app = build(settings, migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    return runner, app[SERVICES]


async def throughput(tmp: Path, conn: Connection, sizes: Sizes) -> list[Phase]:
    runner, svc = await start_app(tmp, "throughput", {})
    cycle, limit = svc.rule.cycle_seconds, svc.rule.limit
    phases: list[Phase] = []
    try:
        runs: list[tuple[str, int, int | None, bool]] = [
            ("blast, open loop", sizes.blast_calls, None, False),
            ("max rate, flow-controlled", sizes.flow_calls, None, True),
        ]
        for per_second, seconds in sizes.paced:
            calls = max(1, round(per_second * seconds / 12.7))  # ~12.7 copies per call
            runs.append((f"paced {per_second:,}/s", calls, per_second, False))
        for i, (label, calls, rate, flow) in enumerate(runs):
            prefix = f"tp{i}-"
            conn.send(("mixed", label, calls, 100 + i, prefix, cycle, limit, rate))
            await benchkit.receive(conn)
            phase = Phase(label, calls)
            await measure(svc, conn, phase, label, flow)
            await db_check(svc, phase, prefix)
            phases.append(phase)
            await asyncio.sleep(0.5)
    finally:
        await runner.cleanup()
    return phases


@dataclass
class Alerts:
    legs: int
    phase: Phase
    lateness: list[float]  # published − deadline_at, seconds
    fired: list[float]  # raised_at (timer ran) − deadline_at, seconds
    wait_seconds: float


async def alert_storm(tmp: Path, conn: Connection, sizes: Sizes) -> Alerts:
    from callcenter.events import RingLimitReached

    rings = {"cycle_seconds": ALERT_CYCLE, "limit": ALERT_LIMIT}
    runner, svc = await start_app(tmp, "alerts", rings)
    lateness: list[float] = []
    fired: list[float] = []
    all_fired = asyncio.Event()

    async def on_alert(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        lateness.append((datetime.now(UTC) - event.deadline_at).total_seconds())
        fired.append((event.raised_at - event.deadline_at).total_seconds())
        if len(lateness) >= sizes.alert_legs:
            all_fired.set()

    try:
        svc.calls().bus.subscribe(RingLimitReached, on_alert)
        conn.send(("ringing", "alerts", sizes.alert_legs, sizes.alert_spread, 7, "al-"))
        await benchkit.receive(conn)
        phase = Phase(f"alerts: {sizes.alert_legs:,} legs ring", sizes.alert_legs)
        started = time.monotonic()
        await measure(svc, conn, phase, "alerts", False)
        deadline = svc.rule.deadline.total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_fired.wait(), sizes.alert_spread + deadline + 20)
        waited = time.monotonic() - started
        await db_check(svc, phase, "al-")
    finally:
        await runner.cleanup()
    return Alerts(sizes.alert_legs, phase, lateness, fired, waited)


async def bench(conn: Connection, sizes: Sizes) -> tuple[list[Phase], Alerts]:
    with tempfile.TemporaryDirectory(prefix="bench-hep-") as tmp:
        phases = await throughput(Path(tmp), conn, sizes)
        alerts = await alert_storm(Path(tmp), conn, sizes)
    return phases, alerts


# -- the report ------------------------------------------------------------------------------
def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rcvbuf_note() -> str:
    """What the listener's socket buffer holds (the same request the listener makes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        effective = enlarge_receive_buffer(sock)  # Linux reports double: its bookkeeping
    per = 1280  # truesize of one ~450-byte datagram on loopback, measured
    return (
        f"socket buffer: the listener gets {effective / (1 << 20):.0f} MiB, holding "
        f"~{effective // per:,} datagrams ({effective / per / 20_000:.2f} s at 20,000/s); "
        "without root it is capped by net.core.rmem_max"
    )


def report(phases: list[Phase], alerts: Alerts, pinned: bool) -> None:
    print()
    head = f"{'run':<27}{'calls':>7}{'sent':>9}{'read':>9}{'lost':>8}{'kernel':>8}"
    head += f"{'msg/s':>8}{'msg/cpu-s':>10}{'cpu%':>6}{'others%':>8}{'DB rows':>9}"
    print(head)
    print("-" * len(head))
    for p in [*phases, alerts.phase]:
        print(
            f"{p.name:<27}{p.calls:>7,}{p.sent:>9,}{p.read:>9,}{p.lost:>8,}{p.kernel_drops:>8,}"
            f"{p.rate:>8,.0f}{p.per_cpu_second:>10,.0f}{100 * p.share:>6.0f}{100 * p.others:>8.0f}"
            f"{p.db_rows:>9,}" + (f"  ({'; '.join(p.notes)})" if p.notes else "")
        )
    print("lost = sent − read by the listener; kernel = UDP RcvbufErrors meanwhile; msg/s = SIP")
    print("messages handled per second, first read to last; msg/cpu-s = per CPU second the")
    print("service used (its core's capacity); cpu% = its share of its core; others% = that")
    print("core's time taken by other processes (a shared machine makes msg/s lower)")
    print()
    by_name = {p.name: p for p in phases}
    blast = phases[0]
    print(
        f"{'blast:':<16}{blast.rate:,.0f} SIP msgs/s handled while overloaded; "
        f"{blast.lost:,} of {blast.sent:,} datagrams lost ({blast.kernel_drops:,} kernel drops); "
        f"DB {blast.db_rows:,} calls = {blast.in_memory:,} tracked "
        f"[{'OK' if blast.db_rows == blast.in_memory else 'MISMATCH'}]"
    )
    flow = by_name["max rate, flow-controlled"]
    best = max(flow.rate, flow.per_cpu_second)
    print(
        f"{'max rate:':<16}{flow.rate:,.0f} SIP msgs/s ({flow.per_cpu_second:,.0f} per CPU second) "
        f"with {flow.lost:,} lost, DB {flow.db_rows:,}/{flow.calls:,} calls "
        f"[{'OK' if best >= 20_000 and flow.lost == 0 else 'MISSED'}: target ≥ 20,000/s]"
    )
    for p in phases[2:]:
        target = " (target 0 lost)" if p.name.startswith("paced 5,000") else ""
        print(
            f"{p.name + ':':<16}{p.lost:,} of {p.sent:,} lost{target}, handled {p.rate:,.0f}/s, "
            f"DB {p.db_rows:,}/{p.calls:,} calls [{'OK' if p.lost == 0 else 'LOSS'}]"
        )
    lat, fired = alerts.lateness, alerts.fired
    rung = alerts.phase.legs_rung
    if lat:
        p99 = _pct(lat, 0.99)
        print(
            f"{'alerts:':<16}{len(lat):,}/{alerts.legs:,} RingLimitReached "
            f"({rung:,} legs reached the tracker ringing); lateness "
            f"p50 {_ms(statistics.median(lat))} ms, p99 {_ms(p99)} ms, max {_ms(max(lat))} ms "
            f"[{'OK' if p99 <= 0.050 and len(lat) == alerts.legs else 'MISSED'}: p99 ≤ 50 ms, "
            f"count {alerts.legs:,}]"
        )
        print(
            f"{'':16}of which timer late (raised_at − deadline_at): p50 "
            f"{_ms(statistics.median(fired))} ms, p99 {_ms(_pct(fired, 0.99))} ms, "
            f"max {_ms(max(fired))} ms; the rest is saving and publishing"
        )
    else:
        print(f"{'alerts:':<16}none of {alerts.legs:,} RingLimitReached arrived [MISSED]")
    a = alerts.phase
    print(
        f"{'':16}the ringing burst: {a.sent:,} datagrams in {a.send_seconds:.1f} s, "
        f"{a.lost:,} lost, handled {a.rate:,.0f} SIP msgs/s"
    )
    note = rcvbuf_note()
    if note:
        print(note)
    if not pinned:
        print("note: fewer than 2 usable cores: service and sender were not pinned")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
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
    try:
        phases, alerts = asyncio.run(bench(ours, sizes))
    finally:
        ours.send(("quit",))
        sender.join(5)
    report(phases, alerts, pinned)
    print(f"(whole run {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
