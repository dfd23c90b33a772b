"""Benchmark: AMI events → AmiClient → call tracker → SQLite, on one core.

    .venv/bin/python scripts/bench_ami.py [--calls N] [--quick]

The real app (`callcenter.app.build`, SQLite in a temp dir) and an `AmiClient` feeding its
call tracker run in this process pinned to core 0. A second process pinned to core 1 plays
Asterisk: it accepts the client's TCP connection, answers Challenge/Login/Filter and the
resync (CoreShowChannels, QueueStatus: empty), then on command writes N queue calls as fast
as the socket takes them - the five scenario transcripts of tests/fixtures/ami (answered,
abandoned, ring-no-answer then the next agent, agent hangs up first, queue timeout), each
copy with its own Uniqueids/Linkedid and Timestamps near now, calls overlapping 50 at a time.

Figure: AMI events read per second until every call is stored: from the first byte sent to
`await tracker.settled()` returning, with `SELECT count(*) FROM calls` = N checked. Also the
parse + translate cost alone (no socket, no database) on the same bytes, for reference.
The client's keep-alive Ping is off here: the fake writes without reading while it streams.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import benchkit

from callcenter.telephony.ami.protocol import Message, Parser, encode

SERVICE_CORE = 0
SENDER_CORE = 1
SOURCE = "ami-bench"
USER, SECRET = "bench", "bench-secret"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami"
SCENARIOS = (
    "queue_answered.txt",
    "caller_abandons.txt",
    "ring_no_answer_next_agent.txt",
    "agent_hangs_up_first.txt",
    "queue_timeout.txt",
)
T0 = 1763859600.0  # the fixtures' clock
_OVERLAP = 50  # calls in progress at once


def _templates() -> list[list[Message]]:
    out = []
    for name in SCENARIOS:
        text = (FIXTURES / name).read_text(encoding="utf-8")
        body = "\n".join(x for x in text.splitlines() if not x.startswith("#")).strip("\n")
        out.append(Parser(expect_banner=False).feed(body.encode() + b"\n\n"))
    return out


def build_stream(calls: int, start: float) -> tuple[bytes, int, str]:
    """`calls` calls as wire bytes; (bytes, AMI events, the last call's Linkedid).

    Events of up to _OVERLAP calls interleave, in timestamp order, like a busy queue."""
    templates = _templates()
    timed: list[tuple[float, int, bytes]] = []
    last = ""
    for i in range(calls):
        template = templates[i % len(templates)]
        prefix = f"{1_800_000_000 + i}."
        base = start + (i // _OVERLAP) * 0.001
        for k, m in enumerate(template):
            fields = []
            for key, value in m.fields:
                if key in ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid"):
                    value = prefix + value.split(".", 1)[1]
                elif key == "Timestamp":
                    value = f"{base + (float(value) - T0) / 1000:.6f}"  # calls 1000x faster
                fields.append((key, value))
            when = float(m.get("Timestamp", "0"))
            timed.append((base + (when - T0) / 1000, i * 100 + k, encode(fields)))
        last = prefix + template[0]["Uniqueid"].split(".", 1)[1]
    timed.sort()
    return b"".join(data for _, _, data in timed), len(timed), last


# -- the fake Asterisk, in its own process --------------------------------------------------
def _answer(sock: socket.socket, m: Message) -> None:
    name = (m.action or "").lower()
    aid = [("ActionID", m.action_id)] if m.action_id else []
    if name == "challenge":
        reply = [("Response", "Error"), *aid, ("Message", "Must specify AuthType")]
    elif name == "login":
        ok = m.get("Username") == USER and m.get("Secret") == SECRET
        msg = "Authentication accepted" if ok else "Authentication failed"
        reply = [("Response", "Success" if ok else "Error"), *aid, ("Message", msg)]
    elif name in ("coreshowchannels", "queuestatus"):
        done = "CoreShowChannelsComplete" if name == "coreshowchannels" else "QueueStatusComplete"
        sock.sendall(encode([("Response", "Success"), *aid, ("EventList", "start")]))
        reply = [("Event", done), *aid, ("EventList", "Complete"), ("ListItems", "0")]
    else:
        reply = [("Response", "Success"), *aid]
    sock.sendall(encode(reply))


def sender_main(conn: Connection) -> None:
    pinned = benchkit.pin(SENDER_CORE)
    listener = socket.create_server(("127.0.0.1", 0))
    conn.send(listener.getsockname()[1])
    calls = conn.recv()
    stream, events, last = build_stream(calls, time.time())
    conn.send((len(stream), events, last, pinned))
    sock, _ = listener.accept()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(b"Asterisk Call Manager/5.0.1\r\n")
    parser = Parser(expect_banner=False)
    sock.settimeout(0.05)
    while not conn.poll():  # answer the login and the resync until told to go
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        if not data:
            return
        for m in parser.feed(data):
            _answer(sock, m)
    conn.recv()
    sock.settimeout(None)
    view = memoryview(stream)
    t0 = time.perf_counter()
    for pos in range(0, len(view), 1 << 18):
        sock.sendall(view[pos : pos + (1 << 18)])
    conn.send(time.perf_counter() - t0)
    conn.recv()  # stay connected until the service is done
    sock.close()


# -- the service ----------------------------------------------------------------------------
async def _until(done: Callable[[], bool], step: float) -> None:
    """Poll without blocking the loop the service runs on."""
    while True:
        if done():
            return
        await asyncio.sleep(step)


async def _recv(conn: Connection) -> Any:
    await _until(conn.poll, 0.005)
    return conn.recv()


async def run(conn: Connection, calls: int) -> dict[str, Any]:
    from aiohttp import web
    from sqlalchemy import text

    from callcenter.app import SERVICES, build
    from callcenter.config import PbxSettings, parse_settings
    from callcenter.telephony.ami.client import AmiClient

    tmp = Path(tempfile.mkdtemp(prefix="bench-ami-"))
    settings = parse_settings(
        {
            "database": {"url": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"},
            "sip": {"hep_listen": "127.0.0.1:0"},
        },
        base_dir=tmp,
    )
    app = build(settings, migrate=True, mqtt=False, hep=False)
    runner = web.AppRunner(app)
    await runner.setup()
    svc = app[SERVICES]
    tracker = svc.calls()
    port = await _recv(conn)
    conn.send(calls)
    size, events, last, sender_pinned = await _recv(conn)
    pbx = PbxSettings(SOURCE, "ami", "127.0.0.1", port, USER, SECRET)
    client = AmiClient(pbx, tracker.handle, ping_interval=3600.0, login="plain")
    task = asyncio.create_task(client.run())
    try:
        # logged in and resynced
        await _until(lambda: client.status.state == "connected" and client.status.events > 0, 0.01)
        handled0 = tracker.events_handled
        cpu0 = time.process_time()
        conn.send(("go",))
        t0 = time.perf_counter()
        key = (SOURCE, last, "")
        await _until(lambda: key in tracker.calls and tracker.calls[key].closed, 0.002)
        t_read = time.perf_counter() - t0
        await tracker.settled()
        t_done = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        send_seconds = await _recv(conn)
        async with svc.db().connect() as db:
            stored = (
                await db.execute(
                    text("SELECT count(*) FROM calls WHERE source = :s"), {"s": SOURCE}
                )
            ).scalar_one()
            legs = (
                await db.execute(
                    text(
                        "SELECT count(*) FROM legs JOIN calls ON calls.id = legs.call_pk"
                        " WHERE calls.source = :s"
                    ),
                    {"s": SOURCE},
                )
            ).scalar_one()
        return {
            "calls": calls,
            "ami_events": events,
            "bytes": size,
            "normalized": tracker.events_handled - handled0,
            "read_seconds": t_read,
            "done_seconds": t_done,
            "send_seconds": send_seconds,
            "cpu_seconds": cpu,
            "stored_calls": stored,
            "stored_legs": legs,
            "client_errors": client.status.errors,
            "sender_pinned": sender_pinned,
        }
    finally:
        conn.send(("quit",))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()


def parse_translate_only(calls: int) -> tuple[int, float]:
    """The same bytes through Parser + AmiTranslator alone, in 64 KiB reads."""
    from callcenter.telephony.ami.translate import AmiTranslator

    stream, events, _ = build_stream(calls, time.time())
    parser, translator = Parser(expect_banner=False), AmiTranslator(SOURCE)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for pos in range(0, len(stream), 1 << 16):
        for m in parser.feed(stream[pos : pos + (1 << 16)]):
            translator.translate(m, now)
    return events, time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="queue calls to stream")
    parser.add_argument("--quick", action="store_true", help="2,000 calls: a smoke check")
    args = parser.parse_args()
    calls = 2_000 if args.quick else args.calls
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    sender = ctx.Process(target=sender_main, args=(theirs,), name="ami-sender", daemon=True)
    sender.start()
    pinned = benchkit.pin(SERVICE_CORE)  # before the loop and the SQLite thread exist
    events, seconds = parse_translate_only(min(calls, 5_000))
    try:
        r = asyncio.run(run(ours, calls))
    finally:
        sender.join(5)

    rate = r["ami_events"] / r["done_seconds"]
    print(
        f"bench_ami: {calls:,} queue calls, {r['ami_events']:,} AMI events "
        f"({r['bytes'] / 1e6:.1f} MB), service on core {SERVICE_CORE}"
        + ("" if pinned else " (not pinned)")
        + f", sender on core {SENDER_CORE}"
        + ("" if r["sender_pinned"] else " (not pinned)")
    )
    print(
        f"  stored: {r['stored_calls']:,} calls, {r['stored_legs']:,} legs "
        f"({r['normalized']:,} normalized events; client errors {r['client_errors']})"
    )
    print(
        f"  all read + translated + handled: {r['read_seconds']:.2f} s "
        f"({r['ami_events'] / r['read_seconds']:,.0f} AMI events/s)"
    )
    print(
        f"  all stored (tracker.settled): {r['done_seconds']:.2f} s -> {rate:,.0f} AMI events/s "
        f"({r['calls'] / r['done_seconds']:,.0f} calls/s)"
    )
    print(
        f"  service CPU {r['cpu_seconds']:.2f} s -> "
        f"{r['ami_events'] / r['cpu_seconds']:,.0f} AMI events per CPU second"
    )
    print(f"  sender wrote it all in {r['send_seconds']:.2f} s")
    print(f"  parse + translate alone: {events / seconds:,.0f} AMI events/s ({events:,} events)")
    ok = r["stored_calls"] == calls and r["client_errors"] == 0
    if not ok:
        print("  MISMATCH: not every call was stored")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
