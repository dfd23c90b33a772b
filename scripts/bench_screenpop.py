"""Benchmark: a ringing phone → the agent's desk over /api/live, and the screen-pop it loads.

    .venv/bin/python scripts/bench_screenpop.py [--tickets N] [--quick]

The real service (`callcenter.app.build`: HTTP on 127.0.0.1, the HEP listener, SQLite in a
temp dir migrated and filled by bench_tickets with N tickets, default 200,000) runs in this
process pinned to core 0. A client process pinned to core 1 plays the desks and the PBX's
mirror: 40 agents (bench_tickets' agent1..agent40 on extensions 2001..2040) and 2 supervisors
log in through /api/login and keep /api/live open, and the same process sends simulated calls
(`telephony.hep.simulate`, every message mirrored in and out) as HEP3 over loopback, their
callers numbers with tickets (85 %, ticket-weighted) or without. Both ends of each figure are
read on that one process's clock:

- ring → phone_rang: from putting the first 180 Ringing copy of the agent's leg on the wire
  to reading the phone_rang frame of that leg from the ringing agent's WebSocket;
- ring → screen-pop: to the answer of `GET /api/screen-pop?call=…`, sent on that frame: what
  the agent sees. (With the number shown in full the desk asks /api/callers/{number}/history
  instead: the same history queries without finding the call first.)

Loads: calm (one short ring at a time, 2 calls/s) and busy (the demo's mix of whole calls,
30 calls/s over the 40 phones, hundreds open at once, every event fanned out to 42 sockets).
Each ring must give exactly one phone_rang on its agent's socket, naming the agent and the
180's capture time, and a screen-pop naming the call and the number.
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
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import benchkit
import orjson
from bench_tickets import ROOT, fill, pct, rows

from callcenter import db
from callcenter.auth import service as auth_service
from callcenter.clock import SystemClock
from callcenter.stations.store import read_book
from callcenter.telephony.hep import simulate as sim

SERVICE_CORE, CLIENT_CORE = 0, 1
AGENTS = 40  # bench_tickets.fill's agent1..agent40, extension 2000 + i
SUPERVISORS = 2
PASSWORD = "bench-screenpop"
# bench_tickets' numbers all start with 13: these never have a ticket.
FRESH_PREFIXES = ("150", "158", "186", "188", "189")
NO_HISTORY = 0.15
# A frame is matched to its ring by (extension, number): a number calls again only this many
# seconds later, long after its last frame came or was counted missed.
REUSE_GAP = 20.0
STRAGGLE = 5.0  # seconds after the last ring for its frame and pop, else missed
TARGET = 0.200
MEASURES = (("phone_rang", "frame"), ("screen-pop", "pop"), ("(pop request)", "request"))


@dataclass(frozen=True)
class Load:
    name: str
    calls: int
    rate: float  # calls started per second
    busy: bool  # the demo's mixed scenarios, cut after the last start; else 0.3 s rings
    report: bool = True


FULL = (
    # The first pops after start-up read cold pages: a running desk's would not.
    Load("warm-up", 10, 5.0, False, report=False),
    Load("calm, 2 calls/s", 80, 2.0, False),
    Load("busy, 30 calls/s", 900, 30.0, True),
)
QUICK = (Load("calm, 2 calls/s", 6, 2.0, False), Load("busy, 30 calls/s", 90, 30.0, True))


# -- the client process: the desks and the PBX's mirror, on one clock -----------------------
@dataclass
class Ring:
    extension: str
    caller: str
    sent: float = 0.0  # perf_counter as its 180 left
    stamp: float = 0.0  # the 180's capture time, epoch seconds
    frames: int = 0
    frame_at: float | None = None
    pop_at: float | None = None
    history: int = 0  # earlier tickets the pop showed
    incidents: int | None = None  # live incidents the pop named (bench_incidents)
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


def pick_caller(rng: random.Random, pool: list[str], recent: dict[str, float], at: float) -> str:
    while True:
        if rng.random() < NO_HISTORY:
            caller = rng.choice(FRESH_PREFIXES) + f"{rng.randrange(10**8):08d}"
        else:
            caller = rng.choice(pool)
        if at - recent.get(caller, -REUSE_GAP) >= REUSE_GAP:
            recent[caller] = at
            return caller


def schedule(
    load: Load, seed: int, pool: list[str], cycle: float, limit: int
) -> list[tuple[float, sim.Hop, Ring | None]]:
    """Every mirrored copy of the load's calls: (offset, hop, the ring its 180 starts)."""
    rng = random.Random(seed)
    recent: dict[str, float] = {}
    last_start = (load.calls - 1) / load.rate
    items: list[tuple[float, sim.Hop, Ring | None]] = []
    for i in range(load.calls):
        start = i / load.rate
        ext = str(2001 + rng.randrange(AGENTS))
        call = sim.new_call(rng, extension=ext, prefix=f"sp{seed}-")
        call = replace(call, caller=pick_caller(rng, pool, recent, start))
        if load.busy:
            plan = sim.plan_for(sim.random_scenario(rng), rng, cycle, limit)
        else:
            plan = sim.Plan("answered", 0.3, rng.uniform(1.0, 3.0))
        ring = Ring(ext, call.caller)
        for at, hop in sim.timeline(call, plan):
            # The calls' ends, up to a minute later, would only lengthen the run.
            if load.busy and start + at > last_start + 0.5:
                continue
            first_180 = hop.payload.startswith(b"SIP/2.0 180") and hop.src_ip == call.phone_ip
            items.append((start + at, hop, ring if first_180 else None))
    items.sort(key=lambda item: item[0])
    return items


class Desks:
    """The 42 browsers: a session and a live socket each, and what the frames and pops told."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.sessions: list[aiohttp.ClientSession] = []
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.ringing: dict[tuple[str, str], Ring] = {}
        self.unexpected = 0  # frames for an agent's own extension that no ring sent
        self.supervisor_frames = 0

    def spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def open(self, users: list[tuple[str, str | None]]) -> None:
        for name, extension in users:
            jar = aiohttp.CookieJar(unsafe=True)  # the session cookie, on a bare IP address
            session = aiohttp.ClientSession(cookie_jar=jar, headers={"Origin": self.base})
            self.sessions.append(session)
            login = {"name": name, "password": PASSWORD}
            async with session.post(f"{self.base}/api/login", json=login) as resp:
                assert resp.status == 200, f"login {name}: {resp.status} {await resp.text()}"
            ws = await session.ws_connect(f"{self.base}/api/live", headers={"Origin": self.base})
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            self.sockets.append(ws)
            self.spawn(self.read(ws, session, extension))

    async def read(
        self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession, ext: str | None
    ) -> None:
        async for msg in ws:
            now = time.perf_counter()
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = orjson.loads(msg.data)
            if frame.get("type") != "phone_rang":
                continue
            if ext is None:
                self.supervisor_frames += 1
                continue
            if frame["extension"] != ext:
                continue  # a colleague's phone: the desk lists it, no pop
            ring = self.ringing.get((ext, frame["caller"]))
            if ring is None:
                self.unexpected += 1
                continue
            ring.frames += 1
            if ring.frames > 1:
                continue
            ring.frame_at = now
            rang = datetime.fromisoformat(frame["ring_started_at"]).timestamp()
            if frame["agent"] != f"agent{int(ext) - 2000}" or not frame["monitored"]:
                ring.error = f"frame names {frame['agent']!r}, monitored={frame['monitored']}"
            elif abs(rang - ring.stamp) > 0.002:
                ring.error = f"ring_started_at {frame['ring_started_at']} is not the 180's"
            self.spawn(self.pop(session, ring, frame["call_id"]))

    async def pop(self, session: aiohttp.ClientSession, ring: Ring, call_id: str) -> None:
        try:
            url = f"{self.base}/api/screen-pop"
            async with session.get(url, params={"call": call_id}) as resp:
                body: dict[str, Any] = await resp.json() if resp.ok else {"status": resp.status}
            ring.pop_at = time.perf_counter()
            if body.get("call", {}).get("id") != call_id or body.get("phone") != ring.caller:
                ring.error = f"screen-pop for {ring.caller}: {str(body)[:120]}"
            else:
                ring.history = len(body["tickets"])
                ring.incidents = len(body.get("incidents", []))
        except (aiohttp.ClientError, ValueError) as exc:
            ring.error = f"screen-pop: {exc!r}"
        finally:
            ring.done.set()

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for session in self.sessions:
            await session.close()


async def play(
    desks: Desks, sock: socket.socket, hep: tuple[str, int], items: list[Any]
) -> list[Ring]:
    rings: list[Ring] = []
    t0 = time.perf_counter() + 0.05
    for at, hop, ring in items:
        delay = t0 + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        # Captured now, as the mirror would stamp it: the frame's ring_started_at must match.
        now = time.time()
        data = sim.hep_datagram(hop, now)
        if ring is not None:
            ring.stamp, ring.sent = now, time.perf_counter()
            desks.ringing[(ring.extension, ring.caller)] = ring
            rings.append(ring)
        sock.sendto(data, hep)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(r.done.wait() for r in rings)), STRAGGLE)
    return rings


def summary(name: str, rings: list[Ring]) -> dict[str, Any]:
    framed = [(r, r.frame_at) for r in rings if r.frame_at is not None]
    popped = [(r, r.pop_at, f) for r, f in framed if r.pop_at is not None and r.error is None]
    return {
        "name": name,
        "rings": len(rings),
        "frame": [f - r.sent for r, f in framed],
        "pop": [p - r.sent for r, p, _ in popped],
        "request": [p - f for _, p, f in popped],
        "missed": len(rings) - len(framed),
        "duplicates": sum(1 for r in rings if r.frames > 1),
        "errors": sorted({r.error for r in rings if r.error is not None}),
        "with_history": sum(1 for r, _, _ in popped if r.history > 0),
    }


async def client(conn: Connection) -> None:
    base, hep, users, pool, cycle, limit, loads = conn.recv()
    desks = Desks(base)
    await desks.open(users)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    results = []
    for n, load in enumerate(loads):
        items = schedule(load, 100 + n, pool, cycle, limit)
        conn.send(("start", load.name))
        mark, frames = benchkit.core_mark(CLIENT_CORE), desks.supervisor_frames
        rings = await play(desks, sock, hep, items)
        shares = benchkit.core_shares(mark, benchkit.core_mark(CLIENT_CORE))
        conn.send(("end", load.name))
        if load.report:
            results.append(summary(load.name, rings))
            results[-1] |= {"supervisor_frames": desks.supervisor_frames - frames,
                            "client": shares}  # fmt: skip
        await asyncio.sleep(1.0)
    await desks.close()
    sock.close()
    conn.send(("done", results, desks.unexpected))


def client_main(conn: Connection) -> None:
    benchkit.pin(CLIENT_CORE)
    asyncio.run(client(conn))


# -- the service process --------------------------------------------------------------------
async def prepare(url: str, tickets: int) -> tuple[list[str], float]:
    """The migrated, filled database and its users. Returns numbers to call from (drawn by
    ticket: who called often calls often) and the insert rate."""
    rng = random.Random(7)
    data, _ = rows(tickets, read_book(ROOT / "config" / "stations.toml"), rng)
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        took = await fill(engine, data)
        clock = SystemClock()
        for i in range(1, AGENTS + 1):  # fill made them without a usable password
            await auth_service.set_password(engine, clock, f"agent{i}", PASSWORD)
        for i in range(1, SUPERVISORS + 1):
            await auth_service.add_user(engine, clock, f"supervisor{i}", "supervisor", PASSWORD)
    finally:
        await engine.dispose()
    return [r["phone"] for r in rng.choices(data, k=5000)], len(data) / took


async def serve(tmp: Path, conn: Connection, args: argparse.Namespace) -> dict[str, Any]:
    from aiohttp import web

    from callcenter.app import SERVICES, build
    from callcenter.config import parse_settings

    url = f"sqlite+aiosqlite:///{tmp}/callcenter.sqlite3"
    began = time.perf_counter()
    pool, insert_rate = await prepare(url, args.tickets)
    setup = time.perf_counter() - began
    raw = {
        "database": {"url": url},
        "sip": {"hep_listen": "127.0.0.1:0"},
        "tickets": {"stations_file": str(ROOT / "config" / "stations.toml")},
    }
    app = build(parse_settings(raw, base_dir=tmp), migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        svc = app[SERVICES]
        host, port = runner.addresses[0][:2]
        users: list[tuple[str, str | None]] = [
            (f"agent{i}", str(2000 + i)) for i in range(1, AGENTS + 1)
        ]
        users += [(f"supervisor{i}", None) for i in range(1, SUPERVISORS + 1)]
        loads = QUICK if args.quick else FULL
        conn.send((f"http://{host}:{port}", svc.hep_address, users, pool,
                   svc.rule.cycle_seconds, svc.rule.limit, loads))  # fmt: skip
        marks: dict[str, tuple[benchkit.CoreMark, int]] = {}
        service: dict[str, tuple[float, float, float]] = {}
        while (msg := await benchkit.receive(conn))[0] != "done":
            mark = benchkit.core_mark(SERVICE_CORE)
            if msg[0] == "start":
                marks[msg[1]] = (mark, svc.hub.sent)
            else:
                start, sent = marks[msg[1]]
                shares = benchkit.core_shares(start, mark)
                service[msg[1]] = (*shares, (svc.hub.sent - sent) / (mark[0] - start[0]))
    finally:
        await runner.cleanup()
    _, results, unexpected = msg
    for r in results:
        r["service"] = service[r["name"]]
    return {"loads": results, "unexpected": unexpected, "setup": setup, "rate": insert_rate}


# -- the report ------------------------------------------------------------------------------
def report(out: dict[str, Any], tickets: int, pinned: bool) -> None:
    print(f"\n{tickets:,} tickets in SQLite ({out['rate']:,.0f} inserted/s), {AGENTS} agents + "
          f"{SUPERVISORS} supervisors on /api/live; set up in {out['setup']:.0f} s\n")  # fmt: skip
    head = f"{'load':<18}{'ring →':<14}{'n':>5}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}"
    head += f"{'≤200ms':>8}{'missed':>8}"
    print(head + "   (ms)")
    print("-" * len(head))
    for r in out["loads"]:
        for label, key in MEASURES:
            s: list[float] = r[key]
            if not s:
                print(f"{r['name']:<18}{label:<14}{0:>5}  no samples")
                continue
            within = sum(1 for x in s if x <= TARGET) / len(s)
            missed = r["missed"] if key == "frame" else r["rings"] - len(s)
            figures = "".join(f"{pct(s, q):>8.1f}" for q in (0.5, 0.95, 0.99))
            print(f"{r['name']:<18}{label:<14}{len(s):>5}{figures}{max(s) * 1000:>8.1f}"
                  f"{100 * within:>7.0f}%{missed:>8}")  # fmt: skip
    print("(pop request) = frame read → screen-pop answered: the HTTP request alone\n")
    head = f"{'load':<18}{'rings':>6}{'dup':>5}{'errors':>7}{'history':>9}{'sup. frames':>12}"
    head += f"{'frames/s':>9}{'svc cpu%':>9}{'others%':>8}{'cli cpu%':>9}{'others%':>8}"
    print(head)
    print("-" * len(head))
    for r in out["loads"]:
        (svc, svc_others, frames), (cli, cli_others) = r["service"], r["client"]
        print(f"{r['name']:<18}{r['rings']:>6}{r['duplicates']:>5}{len(r['errors']):>7}"
              f"{100 * r['with_history'] / max(1, len(r['pop'])):>8.0f}%"
              f"{r['supervisor_frames']:>6}/{SUPERVISORS * r['rings']:<5}{frames:>9,.0f}"
              f"{100 * svc:>9.0f}{100 * svc_others:>8.0f}{100 * cli:>9.0f}"
              f"{100 * cli_others:>8.0f}")  # fmt: skip
        for error in r["errors"][:3]:
            print(f"  error: {error}")
    print("dup = rings with more than one phone_rang on the agent's socket; history = pops")
    print("showing earlier tickets; sup. frames = phone_rang frames the supervisors read of")
    print("those expected; frames/s = live frames the hub sent; svc = core 0 (the service),")
    print("cli = core 1 (desks + sender); others% = that core's time other processes took")
    print(f"own-extension frames matching no ring: {out['unexpected']}")
    for r in out["loads"]:
        if r["frame"]:
            p99 = pct(r["frame"], 0.99)
            ok = p99 <= TARGET * 1000 and r["missed"] == r["duplicates"] == 0
            print(f"{r['name']}: ring → phone_rang p99 {p99:.1f} ms, {r['missed']} missed "
                  f"[{'OK' if ok else 'MISSED'}: p99 ≤ 200 ms, none missed]")  # fmt: skip
    print("machine: {} cores; load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(
        os.cpu_count(), *os.getloadavg()))  # fmt: skip
    if not pinned:
        print("note: fewer than 2 usable cores: service and client were not pinned")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, help="tickets in the database (default 200,000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args()
    if args.tickets is None:
        args.tickets = 5_000 if args.quick else 200_000
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    pinned = {SERVICE_CORE, CLIENT_CORE} <= cores
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    desks = ctx.Process(target=client_main, args=(theirs,), name="desks", daemon=True)
    desks.start()
    if pinned:
        benchkit.pin(SERVICE_CORE)  # before the loop and the SQLite thread: all inherit it
    print(f"bench_screenpop: {'quick' if args.quick else 'full'} run, {args.tickets:,} tickets; "
          f"service on core {SERVICE_CORE}, desks and sender on core {CLIENT_CORE}")  # fmt: skip
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-screenpop-") as tmp:
            out = asyncio.run(serve(Path(tmp), ours, args))
    finally:
        desks.join(10)
    report(out, args.tickets, pinned)
    print(f"(whole run {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
