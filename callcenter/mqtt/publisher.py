"""Outgoing MQTT: one owned connection with its own reconnect loop and a bounded queue.

aiomqtt has no reconnect of its own (DESIGN.md): `run` connects, drains the queue, and on
any MqttError backs off and reconnects; the message in flight is sent again, so a broker
restart loses no alert that was queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt

log = logging.getLogger(__name__)

_GUARD_POLL = 0.05


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    # Told once the broker has it (QoS 1: its PUBACK): the alert log records it.
    on_sent: Callable[[], None] | None = None
    # Sent only while this is true (an active/standby pair's alert: while the instance
    # holds a live lock session); held until then.
    guard: Callable[[], bool] | None = None


class MqttPublisher:
    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "callcenter",
        max_queue: int = 10_000,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self.client_id = client_id
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue(max_queue)
        self._connected = False
        self._state_since = time.monotonic()
        self.published = 0
        self.dropped = 0
        self._idle = asyncio.Event()  # nothing queued, nothing being sent
        self._idle.set()
        self.last_error: str | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    @connected.setter
    def connected(self, value: bool) -> None:
        if value != self._connected:
            self._connected = value
            self._state_since = time.monotonic()

    def down_for(self) -> float:
        """Seconds without a broker connection (0 while connected)."""
        return 0.0 if self._connected else time.monotonic() - self._state_since

    def publish(
        self,
        topic: str,
        payload: dict[str, Any],
        qos: int = 1,
        retain: bool = False,
        on_sent: Callable[[], None] | None = None,
        guard: Callable[[], bool] | None = None,
    ) -> None:
        """Queue a JSON message; never blocks the caller."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        item = Outgoing(topic, body, qos, retain, on_sent, guard)
        self._idle.clear()
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # Keep the newest: a stale alert is worth less than a fresh one.
            self.queue.get_nowait()
            self.dropped += 1
            self.queue.put_nowait(item)
            log.warning("MQTT queue full, dropped the oldest message dropped=%d", self.dropped)

    async def drain(self, within: float) -> int:
        """At shutdown: until every queued message is sent (the alerts and violations of
        the last save among them), while the broker is there, for at most `within` s.
        Returns how many are left unsent."""
        if self.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await self._idle.wait()
        return 0 if self._idle.is_set() else max(1, self.queue.qsize())

    async def _next(self, watch: asyncio.Task[None]) -> Outgoing:
        get = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({get, watch}, return_when=asyncio.FIRST_COMPLETED)
        if get not in done:
            get.cancel()
            watch.result()  # raises the MqttError that ended the connection
            raise aiomqtt.MqttError("disconnected")
        return get.result()

    async def run(self) -> None:
        backoff = 0.5
        pending: Outgoing | None = None
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self._username,
                    password=self._password,
                    identifier=self.client_id,
                    timeout=10,
                ) as client:
                    self.connected = True
                    self.last_error = None
                    backoff = 0.5
                    log.info("MQTT connected broker=%s:%s", self.host, self.port)
                    # aiomqtt reports a lost connection only to the next call; watching the
                    # message stream notices it while idle, so `connected` tells the truth.
                    watch = asyncio.create_task(_until_disconnected(client))
                    try:
                        while True:
                            if pending is None:
                                pending = await self._next(watch)
                            if pending.guard is not None:
                                await _cleared(pending.guard)
                            await client.publish(
                                pending.topic,
                                pending.payload,
                                qos=pending.qos,
                                retain=pending.retain,
                            )
                            self.published += 1
                            if pending.on_sent is not None:
                                pending.on_sent()
                            pending = None
                            if self.queue.empty():
                                self._idle.set()
                    finally:
                        watch.cancel()
            except aiomqtt.MqttError as exc:
                self.connected = False
                if self.last_error != str(exc):
                    log.warning("MQTT unavailable broker=%s:%s error=%s", self.host, self.port, exc)
                self.last_error = str(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.connected = False


async def _cleared(guard: Callable[[], bool]) -> None:
    while True:
        if guard():
            return
        await asyncio.sleep(_GUARD_POLL)


async def _until_disconnected(client: aiomqtt.Client) -> None:
    async for _ in client.messages:
        pass  # nothing is subscribed: the loop only ends when the connection does
