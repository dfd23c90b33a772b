"""Benchmark: FreeSWITCH event socket → EslClient → call tracker → SQLite, on one core.

    .venv/bin/python scripts/bench_esl.py [--calls N] [--format json|plain] [--quick]

The real app (`callcenter.app.build`, SQLite in a temp dir, no MQTT, no HEP) runs in this
process pinned to core 0, with an EslClient whose `on_event` is the call tracker. A sender
process pinned to core 1 is the FreeSWITCH: it answers the client's handshake (auth, event
subscription, `show channels`), then writes N calls' events as fast as the socket takes
them. The calls are the transcripts in tests/fixtures/esl (queue call, abandon, ring-out +
next agent, agent hangs up first, recorded call) with fresh UUIDs, ~200 calls open at once.
Figures: events/s from the first byte sent until every call is stored (the tracker's last
batch committed), events per CPU second of the service, and the ceiling of framing + JSON +
translation alone (no tracker), measured in-process on the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import multiprocessing as mp
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import benchkit

SERVICE_CORE = 0
SENDER_CORE = 1
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "esl"
WINDOW = 200  # calls open at a time
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- the traffic -----------------------------------------------------------------------------
def frame(headers: dict[str, str], fmt: str) -> bytes:
    """One event as mod_event_socket writes it (see tests/fakes/esl_server.py)."""
    if fmt == "json":
        body = json.dumps(headers, ensure_ascii=False, separators=(",", ":")).encode()
    else:
        text = "".join(f"{k}: {quote(v, safe='')}\n" for k, v in headers.items()) + "\n"
        body = text.encode()
    return b"Content-Length: %d\nContent-Type: text/event-%s\n\n%s" % (
        len(body),
        fmt.encode(),
        body,
    )


def build_stream(calls: int, prefix: str, fmt: str) -> tuple[bytes, int]:
    """`calls` calls from the transcripts, interleaved ~WINDOW at a time; (bytes, events)."""
    templates = []
    for path in sorted(FIXTURES.glob("*.json")):
        events = json.loads(path.read_text(encoding="utf-8"))["events"]
        text = json.dumps(events, ensure_ascii=False)
        uuids = sorted(set(_UUID.findall(text)))
        t0 = int(events[0]["Event-Date-Timestamp"])
        span = int(events[-1]["Event-Date-Timestamp"]) - t0 or 1
        templates.append((text, uuids, t0, span))
    base = int(time.time() * 1_000_000)
    items: list[tuple[float, bytes]] = []
    for i in range(calls):
        text, uuids, t0, span = templates[i % len(templates)]
        for k, old in enumerate(uuids):
            text = text.replace(old, f"{prefix}{i:07d}-{k:04d}-4000-8000-000000000000")
        for event in json.loads(text):
            ts = int(event["Event-Date-Timestamp"])
            # Each call keeps its shape, squeezed into 100 ms of event time.
            event["Event-Date-Timestamp"] = str(base + i * 50 + (ts - t0) * 100_000 // span)
            items.append((i + WINDOW * (ts - t0) / span, frame(event, fmt)))
    items.sort(key=lambda item: item[0])
    return b"".join(data for _, data in items), len(items)


# -- the sender process: a FreeSWITCH that only streams ----------------------------------------
def _read_command(sock: socket.socket, buf: bytearray) -> str:
    while b"\n\n" not in buf:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("client closed")
        buf += data
    raw, _, rest = bytes(buf).partition(b"\n\n")
    buf[:] = rest
    return raw.decode()


def _reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def _api(body: str) -> bytes:
    raw = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(raw), raw)


def sender_main(conn: Connection) -> None:
    benchkit.pin(SENDER_CORE)
    server = socket.create_server(("127.0.0.1", 0))
    conn.send(server.getsockname()[1])
    stream = b""
    while True:
        cmd = conn.recv()
        if cmd[0] == "build":
            # Events are stamped when built: built again before a run the tracker times.
            _, calls, prefix, fmt = cmd
            stream, events = build_stream(calls, prefix, fmt)
            conn.send((events, len(stream)))
        elif cmd[0] == "serve":
            client, _ = server.accept()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            buf = bytearray()
            client.sendall(b"Content-Type: auth/request\n\n")
            assert _read_command(client, buf).startswith("auth ")
            client.sendall(_reply("+OK accepted"))
            fmt = _read_command(client, buf).split()[1]
            client.sendall(_reply(f"+OK event listener enabled {fmt}"))
            assert _read_command(client, buf) == "api show channels as json"
            client.sendall(_api('{"row_count":0}'))
            conn.send("ready")
            assert conn.recv() == ("go",)
            started = time.perf_counter()
            client.sendall(stream)
            conn.send(time.perf_counter() - started)
            assert conn.recv() == ("close",)
            client.close()
        else:
            return


# -- the service -----------------------------------------------------------------------------
async def _until(predicate: Callable[[], bool], within: float = 600.0) -> None:
    deadline = time.perf_counter() + within
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the events never all arrived")
        await asyncio.sleep(0.005)


def ceiling(stream: bytes, events: int) -> float:
    """Events/s of framing + decoding + translation alone, on the same bytes."""
    from callcenter.telephony.esl.protocol import EslParser, event_headers
    from callcenter.telephony.esl.translate import EslTranslator

    parser, translator = EslParser(), EslTranslator("ceiling")
    now = datetime.now(UTC)
    started = time.process_time()
    n = 0
    for pos in range(0, len(stream), 1 << 16):
        for f in parser.feed(stream[pos : pos + (1 << 16)]):
            translator.translate(event_headers(f), now)
            n += 1
    assert n == events
    return n / (time.process_time() - started)


async def stream_once(
    conn: Connection, port: int, events: int, on_event: Callable[[Any], None], tracker: Any
) -> dict[str, float]:
    """Have the sender stream everything once into a fresh EslClient; time it."""
    from callcenter.config import PbxSettings
    from callcenter.telephony.esl.client import EslClient

    pbx = PbxSettings(id="fs1", kind="esl", host="127.0.0.1", port=port, password="bench")
    client = EslClient(pbx, on_event, keepalive_interval=3600, timeout=60)
    conn.send(("serve",))
    task = asyncio.create_task(client.run())
    try:
        assert await benchkit.receive(conn) == "ready"
        await _until(lambda: client.resyncs >= 1)
        busy0, total0 = benchkit.core_ticks(SERVICE_CORE)
        e0, cpu0, t0 = client.status.events, time.process_time(), time.perf_counter()
        conn.send(("go",))
        await _until(lambda: client.status.events - e0 >= events)
        t_read = time.perf_counter()
        if tracker is not None:
            await tracker.settled()
        t_done = time.perf_counter()
        cpu = time.process_time() - cpu0
        busy1, total1 = benchkit.core_ticks(SERVICE_CORE)
        send_seconds = await benchkit.receive(conn)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        conn.send(("close",))
    seconds = t_done - t0
    core_busy = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
    return {
        "read_seconds": t_read - t0,
        "seconds": seconds,
        "cpu": cpu,
        "others": max(0.0, core_busy - cpu / seconds),
        "send_seconds": send_seconds,
        "errors": float(client.status.errors),
    }


@contextlib.asynccontextmanager
async def hotline(tmp: str, name: str) -> AsyncIterator[Any]:
    """The real app on a fresh SQLite file; yields its services."""
    from aiohttp import web

    from callcenter.app import SERVICES, build
    from callcenter.config import parse_settings

    url = f"sqlite+aiosqlite:///{tmp}/{name}.sqlite3"
    app = build(parse_settings({"database": {"url": url}}), migrate=True, mqtt=False, hep=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app[SERVICES]
    finally:
        await runner.cleanup()


async def service(conn: Connection, calls: int, fmt: str, port: int) -> dict[str, Any]:
    from sqlalchemy import text

    prefix = "b5e0"
    conn.send(("build", calls, prefix, fmt))
    events, size = await benchkit.receive(conn)
    normalized: list[Any] = []
    # The collector settings app.build gives the service (start-up objects frozen, rare
    # young collections): without them the figures below would measure the collector.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    # 1. The adapter alone: socket, framing, decoding, translation; events only collected.
    alone = await stream_once(conn, port, events, normalized.append, None)
    with tempfile.TemporaryDirectory(prefix="bench-esl-") as tmp:
        # 2. The call tracker alone, fed the normalized events of 1 as fast as it takes them.
        async with hotline(tmp, "tracker") as svc:
            tracker = svc.calls()
            cpu0 = time.process_time()
            for i in range(0, len(normalized), 256):
                for event in normalized[i : i + 256]:
                    tracker.handle(event)
                await asyncio.sleep(0)
            await tracker.settled()
            tracker_cpu = time.process_time() - cpu0
        # 3. Both: the adapter into the real call tracker, until its last batch is committed.
        conn.send(("build", calls, prefix, fmt))
        await benchkit.receive(conn)
        async with hotline(tmp, "stored") as svc:
            tracker = svc.calls()
            stored_run = await stream_once(conn, port, events, tracker.handle, tracker)
            async with svc.db().connect() as db:
                stored = (
                    await db.execute(
                        text("SELECT final, count(*) FROM calls WHERE sip_call_id LIKE :p "
                             "GROUP BY final"),
                        {"p": prefix + "%"},
                    )
                ).all()  # fmt: skip
                violations = (
                    await db.execute(text("SELECT kind, count(*) FROM violations GROUP BY kind"))
                ).all()
    return {
        "events": events,
        "bytes": size,
        "alone": alone,
        "normalized": len(normalized),
        "tracker_cpu": tracker_cpu,
        "stored_run": stored_run,
        "stored": {str(k): int(v) for k, v in stored},
        "violations": {str(k): int(v) for k, v in violations},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--format", choices=("json", "plain"), default="json")
    parser.add_argument("--quick", action="store_true", help="500 calls: a smoke check")
    args = parser.parse_args()
    calls = 500 if args.quick else args.calls
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    pinned = {SERVICE_CORE, SENDER_CORE} <= cores
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    sender = ctx.Process(target=sender_main, args=(theirs,), name="esl-sender", daemon=True)
    sender.start()
    port = ours.recv()
    if pinned:
        benchkit.pin(SERVICE_CORE)  # before the loop and the SQLite thread exist: all inherit it
    print(
        f"bench_esl: {calls:,} calls, event {args.format}; service on core {SERVICE_CORE}, "
        f"sender on core {SENDER_CORE}" + ("" if pinned else " (not pinned)")
    )
    try:
        r = asyncio.run(service(ours, calls, args.format, port))
    finally:
        ours.send(("quit",))
        sender.join(5)
    stream, events = build_stream(min(calls, 1000), "c", args.format)
    top = ceiling(stream, events)
    n = r["events"]
    alone, run = r["alone"], r["stored_run"]
    rate = n / run["seconds"]
    stored_ok = sum(r["stored"].values()) == calls
    print(
        f"stream: {n:,} ESL events ({n / calls:.1f} per call, {r['bytes'] / n:,.0f} bytes each "
        f"on average) → {r['normalized']:,} normalized events"
    )
    print(
        f"{'adapter alone:':<22}{n / alone['seconds']:>8,.0f} events/s, "
        f"{n / alone['cpu']:>8,.0f} per CPU second (socket, framing, {args.format}, translation)"
    )
    print(
        f"{'into stored state:':<22}{rate:>8,.0f} events/s, {n / run['cpu']:>8,.0f} per CPU "
        f"second (until the last batch is committed: {run['seconds']:.2f} s) "
        f"[{'OK' if max(rate, n / run['cpu']) >= 20_000 else 'MISSED'}: target ≥ 20,000/s]"
    )
    print(
        f"{'ceiling, in-process:':<22}{top:>8,.0f} events/s per CPU second "
        f"(framing + {args.format} + translation, no socket)"
    )
    print(
        f"{'call tracker alone:':<22}{n / r['tracker_cpu']:>8,.0f} ESL events' worth per CPU "
        f"second ({1e6 * r['tracker_cpu'] / calls:,.0f} µs CPU per call, SQLite included)"
    )
    for name, x in (("adapter alone", alone), ("into stored state", run)):
        print(
            f"{name}: service CPU {x['cpu']:.2f} s = {100 * x['cpu'] / x['seconds']:.0f}% of "
            f"its core, other processes took {100 * x['others']:.0f}% of that core; sender "
            f"wrote for {x['send_seconds']:.2f} s; client errors {x['errors']:.0f}"
        )
    print(
        f"stored calls by outcome: {r['stored']} [{'OK' if stored_ok else 'MISMATCH'}: "
        f"{calls:,} calls]; violations {r['violations']}"
    )
    if not pinned:
        print("note: fewer than 2 usable cores: service and sender were not pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
