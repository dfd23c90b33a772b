"""What the benchmark scripts share: pinning to a core, reading a core's busy time (ours and
other processes'), and waiting for the sender process without blocking the service's loop."""

from __future__ import annotations

import asyncio
import os
import time
from multiprocessing.connection import Connection
from typing import Any


def pin(core: int) -> bool:
    """Run this process (and the threads it starts later) on `core` only, if it exists."""
    if not hasattr(os, "sched_setaffinity") or core not in os.sched_getaffinity(0):
        return False
    os.sched_setaffinity(0, {core})
    return True


def core_ticks(core: int) -> tuple[int, int]:
    """(busy, total) clock ticks of one core so far, from /proc/stat."""
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith(f"cpu{core} "):
                ticks = [int(x) for x in line.split()[1:]]
                idle = ticks[3] + ticks[4]  # idle + iowait
                return sum(ticks) - idle, sum(ticks)
    return 0, 0


# (wall clock, this process's CPU seconds, the core's busy ticks, its total ticks)
CoreMark = tuple[float, float, int, int]


def core_mark(core: int) -> CoreMark:
    busy, total = core_ticks(core)
    return time.perf_counter(), time.process_time(), busy, total


def core_shares(start: CoreMark, end: CoreMark) -> tuple[float, float]:
    """Between two marks: the share of the core this process used, and the share other
    processes took (a shared machine slows a benchmark down by that much)."""
    ours = (end[1] - start[1]) / max(1e-9, end[0] - start[0])
    if end[3] <= start[3]:
        return ours, 0.0
    return ours, max(0.0, (end[2] - start[2]) / (end[3] - start[3]) - ours)


async def receive(conn: Connection, within: float = 600.0) -> Any:
    """The sender's next message, awaited on the running loop (the service runs there)."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(conn.fileno(), ready)
    try:
        async with asyncio.timeout(within):
            await readable
    finally:
        loop.remove_reader(conn.fileno())
    return conn.recv()
