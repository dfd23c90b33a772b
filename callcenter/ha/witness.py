"""The standby's witness on the MQTT broker: which alerts went through it.

An active that dies after the broker took an alert but before it recorded the broker's
acknowledgement leaves an alert that looks unsent. The standby subscribes to the alert
topics all along; at takeover it sends itself a marker through the broker (`barrier`) and
waits for it to come back. Mosquitto routes each message as it reads it, one at a time, and
everything the dead active wrote had reached it before PostgreSQL let its lock go: once the
marker is back, an alert the witness has not seen did not go out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import UTC, datetime

import aiomqtt

log = logging.getLogger(__name__)

# Alerts older than the alert log sends again (alerts.REPUBLISH_WITHIN) need not be kept.
KEEP_SECONDS = 2 * 3600.0


class Witness:
    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str,
        topics: list[str],
        barrier_topic: str,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self.client_id = client_id
        self.topics = topics
        self.barrier_topic = barrier_topic
        self._seen: dict[str, float] = {}
        self._since: datetime | None = None  # subscribed without a break since
        self._client: aiomqtt.Client | None = None
        self._waiting: dict[str, asyncio.Event] = {}
        self._caught_up = False

    def seen(self, alert_id: str) -> bool:
        return alert_id in self._seen

    def covers(self, since: datetime) -> bool:
        """Whether every alert the broker took after `since` would have been seen."""
        return self._caught_up and self._since is not None and self._since <= since

    @property
    def count(self) -> int:
        return len(self._seen)

    async def run(self) -> None:
        backoff = 0.5
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
                    for topic in [*self.topics, self.barrier_topic]:
                        await client.subscribe(topic, qos=1)
                    self._client = client
                    self._since = datetime.now(UTC)
                    backoff = 0.5
                    async for message in client.messages:
                        self._note(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                log.warning("ha witness: MQTT unavailable error=%s", exc)
            finally:
                self._client = None
                self._since = None
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, 10.0)

    def _note(self, topic: str, payload: object) -> None:
        if not isinstance(payload, bytes | bytearray):
            return
        if topic == self.barrier_topic:
            waiting = self._waiting.get(payload.decode(errors="replace"))
            if waiting is not None:
                waiting.set()
            return
        try:
            alert_id = json.loads(payload).get("alert_id")
        except (ValueError, AttributeError):
            return
        if isinstance(alert_id, str):
            now = time.monotonic()
            self._seen[alert_id] = now
            while self._seen and now - next(iter(self._seen.values())) > KEEP_SECONDS:
                del self._seen[next(iter(self._seen))]

    async def barrier(self, within: float = 2.0) -> bool:
        """Send a marker through the broker and wait for it: True once everything the broker
        took before is seen."""
        client = self._client
        if client is None:
            return False
        nonce = uuid.uuid4().hex
        arrived = self._waiting[nonce] = asyncio.Event()
        try:
            await client.publish(self.barrier_topic, nonce.encode(), qos=1)
            async with asyncio.timeout(within):
                await arrived.wait()
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.warning("ha witness: no barrier through the broker (%s): what looks unsent "
                        "is sent again", type(exc).__name__)  # fmt: skip
            return False
        finally:
            del self._waiting[nonce]
        self._caught_up = True
        return True
