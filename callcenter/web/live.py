"""Live WebSocket hub: one bounded queue and one sender per browser, so a stalled browser
never holds up the others; callers' numbers are masked per the client's role. A message is
put in JSON once for all the browsers that see it alike (the live incidents, hundreds of
them in a city-wide outage, go to every desk)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callcenter.auth.model import Principal, Role
from callcenter.privacy import NumberPolicy

log = logging.getLogger(__name__)


@dataclass(eq=False)
class LiveClient:
    ws: web.WebSocketResponse
    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(1000))


def own_call(principal: Principal, extension: str | None, agent: str | None) -> bool:
    """The message is about this user's phone (an agent's own call)."""
    return (extension is not None and extension == principal.extension) or (
        agent is not None and agent == principal.name
    )


class LiveHub:
    def __init__(self, numbers: NumberPolicy | None = None) -> None:
        self.numbers = numbers or NumberPolicy()
        self.clients: set[LiveClient] = set()
        self.sent = 0

    def broadcast(
        self, message: dict[str, Any], private: bool = False, agent_id: int | None = None
    ) -> None:
        """Send to every client. A `private` message (a violation) reaches an agent only
        when it is against that agent, as in /api/violations."""
        # The JSON of each way the caller's number is shown (in full, masked, or no number).
        texts: dict[str | None, str] = {}
        for client in list(self.clients):
            principal = client.principal
            if private and principal.role == Role.AGENT and principal.id != agent_id:
                continue
            shown = None
            if "caller" in message:
                own = own_call(principal, message.get("extension"), message.get("agent"))
                shown = self.numbers.show(message["caller"], principal.role, own)
            text = texts.get(shown)
            if text is None:
                payload = message if shown is None else {**message, "caller": shown}
                text = texts[shown] = json.dumps(payload)
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                # A browser this far behind is gone; it reconnects and gets a fresh snapshot.
                log.warning("live client too slow, disconnecting user=%s", client.principal.name)
                self.clients.discard(client)
                asyncio.get_running_loop().create_task(client.ws.close())

    async def serve(
        self, ws: web.WebSocketResponse, principal: Principal, first: dict[str, Any]
    ) -> None:
        client = LiveClient(ws, principal)
        self.clients.add(client)
        client.queue.put_nowait(json.dumps(first))
        sender = asyncio.create_task(self._send(client))
        try:
            async for _ in ws:
                pass  # the page only listens; reading keeps pings/close handled
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send(self, client: LiveClient) -> None:
        while True:
            message = await client.queue.get()
            try:
                await client.ws.send_str(message)
                self.sent += 1
            except (ConnectionResetError, RuntimeError):
                return

    async def close(self) -> None:
        for client in list(self.clients):
            await client.ws.close(code=1001, message=b"server shutdown")
        self.clients.clear()
