"""The wallboards' live feed: the figures are read once for every board when a call, anomaly,
order or callback event may have changed them (at most one read a second however busy the
line), and every `refresh` seconds so that what moves with time (a phone ringing longer, a
callback turning overdue, midnight) moves on the board too. One queue per board holding only
the newest figures: a stalled TV never holds up the others, nor gets a backlog.

A revoked token's boards are closed at once (close code 4401); one revoked from the command
line, in another process, is noticed at the next refresh."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# 4000–4999 are the application's: 4401 reads as "401 on the socket".
CLOSE_REVOKED = 4401
MIN_INTERVAL_SECONDS = 1.0
REFRESH_SECONDS = 15.0
REVOKED_REASON = b"wallboard-token-revoked"

ReadFigures = Callable[[], Awaitable[dict[str, Any]]]
RevokedAmong = Callable[[Iterable[int]], Awaitable[set[int]]]
Seen = Callable[[Iterable[int]], Awaitable[None]]


@dataclass(eq=False)
class WallClient:
    ws: web.WebSocketResponse
    token_id: int
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(1))

    def offer(self, message: dict[str, Any]) -> None:
        """Keep only the newest figures: older ones a slow board has not taken are stale."""
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(message)


class WallboardHub:
    def __init__(
        self,
        read: ReadFigures,
        revoked_among: RevokedAmong,
        seen: Seen,
        min_interval: float = MIN_INTERVAL_SECONDS,
        refresh: float = REFRESH_SECONDS,
    ) -> None:
        self.read = read
        self.revoked_among = revoked_among
        self.seen = seen
        self.min_interval = min_interval
        self.refresh = refresh
        self.clients: set[WallClient] = set()
        self.sent = 0
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """An event that may move a figure: read them again soon (the bus handler)."""
        self._changed.set()

    async def serve(self, ws: web.WebSocketResponse, token_id: int, first: dict[str, Any]) -> None:
        client = WallClient(ws, token_id)
        self.clients.add(client)
        client.offer(first)
        sender = asyncio.create_task(self._send(client))
        try:
            async for _ in ws:
                pass  # the board only listens; reading keeps pings and the close handled
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send(self, client: WallClient) -> None:
        while True:
            message = await client.queue.get()
            try:
                await client.ws.send_json(message)
                self.sent += 1
            except (ConnectionResetError, RuntimeError):
                return

    async def run(self) -> None:
        """Owned by the composition root for the service's life."""
        loop = asyncio.get_running_loop()
        checked = loop.time()
        while True:
            # Not wait_for: on 3.11 it swallows a cancel that comes as the event is set, and
            # the service's shutdown would wait for this loop for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.refresh):
                    await self._changed.wait()
            self._changed.clear()
            if not self.clients:
                continue
            if loop.time() - checked >= self.refresh:
                checked = loop.time()
                await self._check_tokens()
            await self._broadcast()
            # However busy the line, a board gets at most one message per min_interval.
            await asyncio.sleep(self.min_interval)

    async def _broadcast(self) -> None:
        try:
            message = await self.read()
        except (SQLAlchemyError, OSError) as exc:
            # The boards keep the last figures; the next event or refresh tries again.
            log.warning("wallboard figures not read error=%s", type(exc).__name__)
            return
        for client in list(self.clients):
            client.offer(message)

    async def _check_tokens(self) -> None:
        ids = {c.token_id for c in self.clients}
        try:
            gone = await self.revoked_among(ids)
            await self.seen(ids - gone)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("wallboard tokens not checked error=%s", type(exc).__name__)
            return
        for token_id in gone:
            await self.revoke(token_id)

    async def revoke(self, token_id: int) -> int:
        """Close every board open with this token; how many were."""
        closing = [c for c in self.clients if c.token_id == token_id]
        for client in closing:
            self.clients.discard(client)
            await client.ws.close(code=CLOSE_REVOKED, message=REVOKED_REASON)
        if closing:
            log.info("wallboards closed token_id=%d count=%d", token_id, len(closing))
        return len(closing)

    async def close(self) -> None:
        for client in list(self.clients):
            await client.ws.close(code=1001, message=b"server shutdown")
        self.clients.clear()
