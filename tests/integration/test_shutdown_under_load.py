"""SIGTERM under load loses no call state: the real `callcenter serve` on PostgreSQL takes a
steady stream of hotline calls as HEP (the simulated Kamailio mirror), is told to stop in
the middle of it while the stream goes on, and exits 0; then every call, leg, answer and
hang-up in the datagrams sent before the signal is in its database.

What "should be there" is not guessed: the same datagrams, up to the signal, are replayed
through the same listener and call tracker in this process into a database of its own, and
each call and leg it saved must be in the service's database at least as far along (the
service may also have taken some of what came after the signal)."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from callcenter import db
from callcenter.bus import Bus
from callcenter.calls.rings import RingRule
from callcenter.calls.service import AgentDirectory, CallTracker
from callcenter.calls.store import calls, legs
from callcenter.clock import SystemClock
from callcenter.config import PbxSettings
from callcenter.telephony.hep import simulate as sim
from callcenter.telephony.hep.listener import enlarge_receive_buffer
from callcenter.telephony.hep.source import HepSource
from tests.process import command, free_port, health, serve, wait_for

RATE = 20000  # datagrams a second (each mirrored SIP message is one)
BEFORE, PAUSE, AFTER = 1.5, 0.5, 1.0  # seconds: traffic before the signal (the last PAUSE
# of it with the service stopped), and after the signal
# Where encode_hep puts the capture time (chunks 0x0009/0x000a): stamped when sent.
_TS_SEC_AT, _TS_USEC_AT = 62, 72
_U32 = struct.Struct("!I")


def queue_limit() -> int:
    """How many bytes may wait in the service's socket: half the buffer it gets (as this
    process would), so the kernel drops none — what it dropped was never
    received, and would make "should be there" unknowable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        return enlarge_receive_buffer(probe) // 2


def socket_queue(port: int) -> tuple[int, int]:
    """(bytes waiting, datagrams dropped) in the UDP socket bound to `port`."""
    suffix = f":{port:04X}"
    with open("/proc/net/udp") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) > 12 and parts[1].endswith(suffix):
                return int(parts[4].split(":")[1], 16), int(parts[-1])
    raise AssertionError(f"no UDP socket on port {port}")


def traffic(calls_count: int, seed: int) -> list[bytearray]:
    """The demo's mix of calls, ~200 in progress at a time, in capture order."""
    rng = random.Random(seed)
    items: list[tuple[float, bytes]] = []
    for i in range(calls_count):
        call = sim.new_call(rng, prefix=f"term{seed}-")
        plan = sim.plan_for(sim.random_scenario(rng), rng, 5.0, 3)
        copies = sim.timeline(call, plan)
        span = copies[-1][0] or 1.0
        items += [(i + 200 * at / span, sim.hep_datagram(hop, 0.0)) for at, hop in copies]
    items.sort(key=lambda item: item[0])
    assert items[0][1][_TS_SEC_AT - 6 : _TS_SEC_AT] == struct.pack("!HHH", 0, 0x0009, 10)
    return [bytearray(data) for _, data in items]


@dataclass(frozen=True)
class Sent:
    before: list[bytes]  # sent before the signal, as sent (stamped)
    after: int
    queued: int  # bytes waiting in the service's socket at the signal
    dropped: int  # datagrams the kernel dropped before the signal
    signalled_at: float  # time.perf_counter()
    exited_at: float | None  # when the service was seen gone while the traffic went on


def send_and_signal(data: list[bytearray], port: int, service: subprocess.Popen[str]) -> Sent:
    """Send at RATE, each datagram stamped with the time it is sent. For the last PAUSE s
    before the signal the service is stopped (SIGSTOP: a service behind on its input, as
    in a long garbage collection), so a backlog of up to `limit` bytes waits in its socket;
    then SIGTERM (delivered as it continues) while the traffic goes on for AFTER s."""
    limit = queue_limit()
    before: list[bytes] = []
    after = queued = dropped = 0
    paused = signalled = False
    signalled_at = 0.0
    exited_at: float | None = None
    t0 = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        for k, buf in enumerate(data):
            due = t0 + k / RATE
            while (ahead := due - time.perf_counter()) > 0:
                time.sleep(min(ahead, 0.002))
            if not signalled:
                if not paused and time.perf_counter() - t0 >= BEFORE - PAUSE:
                    service.send_signal(signal.SIGSTOP)
                    paused = True
                if not k % 16:
                    while socket_queue(port)[0] > limit and time.perf_counter() - t0 < BEFORE:
                        time.sleep(0.001)
                if time.perf_counter() - t0 >= BEFORE:
                    queued, dropped = socket_queue(port)
                    service.send_signal(signal.SIGTERM)
                    service.send_signal(signal.SIGCONT)
                    signalled, signalled_at = True, time.perf_counter()
            if time.perf_counter() - t0 >= BEFORE + AFTER:
                break
            now = time.time()
            _U32.pack_into(buf, _TS_SEC_AT, int(now))
            _U32.pack_into(buf, _TS_USEC_AT, int((now - int(now)) * 1_000_000))
            out.sendto(buf, ("127.0.0.1", port))
            if signalled:
                after += 1
                if exited_at is None and not k % 64 and service.poll() is not None:
                    exited_at = time.perf_counter()
            else:
                before.append(bytes(buf))
    assert signalled, "the traffic ran out before the signal"
    return Sent(before, after, queued, dropped, signalled_at, exited_at)


# -- the state saved: calls and legs as far as they got -----------------------------------
Progress = tuple[bool, bool, str | None]  # answered, ended, final outcome


async def saved_state(url: str) -> dict[tuple[str, ...], Progress]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            state: dict[tuple[str, ...], Progress] = {}
            for c in await conn.execute(select(calls)):
                state[(c.sip_call_id,)] = (
                    c.answered_at is not None,
                    c.ended_at is not None,
                    c.final,
                )
            ids = {c.id: c.sip_call_id for c in await conn.execute(select(calls))}
            for leg in await conn.execute(select(legs)):
                state[(ids[leg.call_pk], leg.leg_ref)] = (
                    leg.answered_at is not None,
                    leg.ended_at is not None,
                    leg.outcome,
                )
        return state
    finally:
        await engine.dispose()


async def replayed_state(datagrams: list[bytes], folder: Path) -> dict[tuple[str, ...], Progress]:
    """What the service's own listener and tracker save from these datagrams."""
    url = f"sqlite+aiosqlite:///{folder}/reference.sqlite3"
    engine = db.create_engine(url)
    await db.upgrade(engine)
    clock = SystemClock()
    tracker = CallTracker(engine, Bus(), clock, RingRule(5.0, 3), AgentDirectory())
    source = HepSource(
        PbxSettings(id="hep", kind="hep"), tracker.handle, clock.now, lambda _ext: False
    )
    for datagram in datagrams:
        source.listener.datagram_received(datagram)
    await tracker.flush()
    tracker.close()
    await engine.dispose()
    return await saved_state(url)


def test_sigterm_under_hep_load_loses_no_call_state(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    web, hep = free_port(), free_port(socket.SOCK_DGRAM)
    config = tmp_path / "cc.toml"
    config.write_text(
        f'[database]\nurl = "{fresh_postgres_url}"\n'
        f'[web]\nlisten = "127.0.0.1:{web}"\n'
        f'[mqtt]\nembedded_listen = "127.0.0.1:{free_port()}"\n'
        f'[sip]\nhep_listen = "127.0.0.1:{hep}"\n'
        '[speech]\nenabled = "off"\n'
    )
    assert command(config, "db", "upgrade").returncode == 0
    data = traffic(int(RATE * (BEFORE + AFTER) / 10), seed=17)  # ~14 datagrams a call
    service = serve(config)
    try:
        wait_for(lambda: health(web) == 200, 30, "the service starts")
        sent = send_and_signal(data, hep, service)
        _, stderr = service.communicate(timeout=60)
        stopped_in = (sent.exited_at or time.perf_counter()) - sent.signalled_at
    finally:
        if service.poll() is None:
            service.kill()
    assert service.returncode == 0, stderr
    assert "CRITICAL" not in stderr, stderr  # nothing went to a spill file

    expected = asyncio.run(replayed_state(sent.before, tmp_path))
    saved = asyncio.run(saved_state(fresh_postgres_url))
    assert sent.dropped == 0, "the kernel dropped datagrams: what was received is unknown"
    assert sent.queued > 0, "no backlog waited in the socket at the signal"
    print(
        f"{sent.queued} bytes waiting in the socket at SIGTERM, exit 0 within {stopped_in:.2f} s; "
        f"sent {len(sent.before)} datagrams before SIGTERM and {sent.after} after; "
        f"{sum(len(k) == 1 for k in expected)} calls and "
        f"{sum(len(k) == 2 for k in expected)} legs expected, "
        f"{sum(len(k) == 1 for k in saved)} calls saved"
    )
    assert sum(len(k) == 1 for k in expected) > 100  # mid-load: many calls, many unfinished
    assert any(not ended for answered, ended, _ in expected.values())
    lost = []
    for key, (answered, ended, final) in expected.items():
        got = saved.get(key)
        if got is None or (answered and not got[0]) or (ended and got[1:] != (True, final)):
            lost.append((key, (answered, ended, final), got))
    assert lost == [], f"{len(lost)} calls or legs lost or behind, e.g. {lost[:3]}"
