"""The HEP benchmark's sender process: builds simulated calls (`telephony.hep.simulate`, the
demo's traffic) as HEP3 datagrams and sends them over loopback UDP on command, stamping each
with the time it is sent as its capture time; and the listener socket's queue, as the kernel
counts it."""

from __future__ import annotations

import random
import socket
import struct
import time
from multiprocessing.connection import Connection
from typing import Any

import benchkit

from callcenter.telephony.hep import simulate as sim

SENDER_CORE = 1
# Where encode_hep puts the capture time (chunks 0x0009/0x000a): patched at send time.
_TS_SEC_AT = 62
_TS_USEC_AT = 72
_U32 = struct.Struct("!I")
# Flow control: the sender pauses while the listener's socket holds more than this.
_FLOW_QUEUE_BYTES = 1 << 20


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
