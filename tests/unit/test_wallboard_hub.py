"""The wallboards' feed: one read for a burst of events, only the newest figures waiting for
a slow board, and a prompt stop even when the stop comes as an event does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from callcenter.wallboard.live import WallboardHub, WallClient
from tests.waiting import eventually


class Reads:
    def __init__(self) -> None:
        self.count = 0

    async def read(self) -> dict[str, Any]:
        self.count += 1
        return {"type": "figures", "n": self.count}


async def nothing_revoked(_ids: Iterable[int]) -> set[int]:
    return set()


async def seen(_ids: Iterable[int]) -> None:
    return None


def board(hub: WallboardHub) -> WallClient:
    client = WallClient(ws=None, token_id=1)  # type: ignore[arg-type]
    hub.clients.add(client)
    return client


async def test_a_burst_of_events_is_one_read_until_the_interval_passes() -> None:
    reads = Reads()
    hub = WallboardHub(reads.read, nothing_revoked, seen, min_interval=30, refresh=60)
    tv = board(hub)
    feed = asyncio.create_task(hub.run())
    try:
        for _ in range(50):
            hub.changed()
        await eventually(lambda: reads.count == 1)
        for _ in range(50):
            hub.changed()
            await asyncio.sleep(0)
        assert reads.count == 1  # the rest wait for the interval: one message, not fifty
        assert tv.queue.get_nowait() == {"type": "figures", "n": 1}
    finally:
        feed.cancel()


def test_a_slow_board_keeps_only_the_newest_figures() -> None:
    tv = WallClient(ws=None, token_id=1)  # type: ignore[arg-type]
    for n in range(5):
        tv.offer({"n": n})
    assert tv.queue.qsize() == 1 and tv.queue.get_nowait() == {"n": 4}


async def test_the_feed_stops_when_cancelled_as_a_change_comes_in() -> None:
    """The service's shutdown waits for the feed: a cancel swallowed would hang it."""
    reads = Reads()
    hub = WallboardHub(reads.read, nothing_revoked, seen, min_interval=30, refresh=60)
    feed = asyncio.create_task(hub.run())
    await asyncio.sleep(0.01)  # waiting for a change
    hub.changed()
    feed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(feed, 5)
