"""Incoming MQTT: the event source for a PBX bridged through MQTT (docs/pbx-events.md).

One persistent session per PBX (fixed client id, clean_session off, QoS 1): what the bridge
publishes while we are away is queued by the broker and delivered when we return. aiomqtt
has no reconnect of its own (DESIGN.md), so `run` owns the loop, as the publisher does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from callcenter.config import MqttSettings, PbxSettings
from callcenter.telephony.pbx_events import EventRejected, parse_message
from callcenter.telephony.source import OnEvent, SourceStatus, State

log = logging.getLogger(__name__)

PublishReject = Callable[[str, dict[str, Any]], None]
EVENT_ID_REUSED = "event-id-reused"  # a reject reason the parser cannot see: it needs memory
# CONNACK codes for refused credentials: MQTT 3.1.1 (4, 5) and MQTT 5 (0x86, 0x87).
_AUTH_REFUSED = frozenset({4, 5, 0x86, 0x87})


class RecentIds:
    """The last `capacity` event ids seen, each with a fingerprint of its event: a QoS 1
    redelivery is recognised and skipped, a reused id with other content is told apart."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, int] = OrderedDict()

    def get(self, event_id: str) -> int | None:
        fingerprint = self._ids.get(event_id)
        if fingerprint is not None:
            self._ids.move_to_end(event_id)
        return fingerprint

    def add(self, event_id: str, fingerprint: int) -> None:
        self._ids[event_id] = fingerprint
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


class MqttEventSource:
    """Subscribes `<prefix>/pbx/<id>/events`, hands valid events to `on_event` once each, and
    answers invalid ones on `<prefix>/pbx/<id>/rejects` (through `publish_reject` when given,
    else on its own connection)."""

    def __init__(
        self,
        settings: PbxSettings,
        broker: MqttSettings,
        on_event: OnEvent,
        publish_reject: PublishReject | None = None,
        *,
        remember: int = 100_000,
        min_backoff: float = 0.5,
        max_backoff: float = 10.0,
        auth_retry: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if settings.kind != "mqtt":
            raise ValueError(f"pbx.{settings.id}: not an MQTT source (kind={settings.kind!r})")
        self.source_id = settings.id
        self.on_event = on_event
        self._publish_reject = publish_reject
        prefix = broker.topic_prefix.strip("/")
        self.events_topic = f"{prefix}/pbx/{settings.id}/events"
        self.rejects_topic = f"{prefix}/pbx/{settings.id}/rejects"
        # Fixed, so the broker keeps our session (and queues for it) across reconnects.
        self.client_id = f"{prefix.replace('/', '-')}-pbx-{settings.id}"
        endpoint = broker.broker
        self._host, self._port = endpoint.host, endpoint.port
        self._username = broker.username
        self._password = broker.password
        host = f"[{self._host}]" if ":" in self._host else self._host
        self.status = SourceStatus(
            settings.id, "mqtt", f"mqtt://{host}:{self._port}/{self.events_topic}"
        )
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.auth_retry = auth_retry
        self._clock = clock
        self._recent = RecentIds(remember)
        self.duplicates = 0  # redeliveries skipped
        self.rejected = 0
        self._failure: str | None = None  # the connection error last reported
        self._connected_before = False
        self._logged_reasons: set[str] = set()

    # -- connection -----------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, subscribe, consume; on any MqttError back off and connect again."""
        backoff = self.min_backoff
        while True:
            self.status.state = "connecting"
            subscribed = False
            try:
                client = aiomqtt.Client(
                    self._host,
                    self._port,
                    username=self._username,
                    password=self._password,
                    identifier=self.client_id,
                    clean_session=False,
                    keepalive=30,
                    timeout=10,
                )
                manual_ack = _manual_ack(client)
                async with client:
                    await client.subscribe(self.events_topic, qos=1)
                    subscribed = True
                    self._on_connected()
                    async for message in client.messages:
                        await self._on_message(client, message)
                        if manual_ack:
                            # Acknowledged once applied: a message in flight when we stop
                            # is delivered again (and recognised by its event_id).
                            client._client.ack(message.mid, message.qos)
            except aiomqtt.MqttError as exc:
                if subscribed:
                    backoff = self.min_backoff
                delay = self._on_failure(exc, backoff, subscribed)
                backoff = min(backoff * 2, self.max_backoff)
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self.status.disconnected()
                raise

    def _on_connected(self) -> None:
        if self._connected_before:
            self.status.reconnects += 1
        self._connected_before = True
        self._failure = None
        self.status.connected()
        log.info(
            "MQTT event source connected source=%s address=%s client_id=%s",
            self.source_id, self.status.address, self.client_id,
        )  # fmt: skip

    def _on_failure(self, exc: aiomqtt.MqttError, backoff: float, was_connected: bool) -> float:
        """Record a lost or refused connection once per streak; return the delay to wait."""
        state: State
        if _auth_refused(exc):
            # Retrying fast cannot fix a password: say so once and retry slowly.
            who = f"user {self._username!r}" if self._username else "no user name"
            text = (
                f"the broker refused the credentials ({who}; {exc}): "
                "check the user and password in mqtt.url"
            )
            state, delay = "auth_failed", self.auth_retry
        else:
            what = "lost the connection" if was_connected else "cannot connect"
            text = f"{what}: {exc}"
            state, delay = "backoff", backoff
        self.status.disconnected(state)
        if text != self._failure:
            self._failure = text
            self.status.error(text)
            level = logging.ERROR if state == "auth_failed" else logging.WARNING
            log.log(
                level,
                "MQTT event source unavailable source=%s address=%s retry_in=%.1fs error=%s",
                self.source_id, self.status.address, delay, text,
            )  # fmt: skip
        return delay

    # -- messages -------------------------------------------------------------------------
    async def _on_message(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        if message.topic.value != self.events_topic:
            # A subscription an older configuration left in the persistent session.
            log.debug("ignored message source=%s topic=%s", self.source_id, message.topic.value)
            return
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()  # paho always gives bytes; be safe regardless
        await self.handle_payload(bytes(payload), client)

    async def handle_payload(self, payload: bytes, client: aiomqtt.Client | None = None) -> None:
        """Apply one message's payload: at most once per event_id, a reject if invalid."""
        received_at = self._clock()
        try:
            parsed = parse_message(self.source_id, payload)
        except EventRejected as rejected:
            await self._reject(rejected, received_at, client)
            return
        fingerprint = hash(parsed.event)
        seen = self._recent.get(parsed.event_id)
        if seen == fingerprint:
            self.duplicates += 1
            log.debug("duplicate skipped source=%s event_id=%s", self.source_id, parsed.event_id)
            return
        if seen is not None:
            reused = EventRejected(
                EVENT_ID_REUSED,
                "event_id",
                "event_id was already used for a different event",
                event_id=parsed.event_id,
            )
            await self._reject(reused, received_at, client)
            return
        try:
            self.on_event(parsed.event)
        except Exception:
            log.exception(
                "applying an event failed source=%s type=%s event_id=%s",
                self.source_id, parsed.type, parsed.event_id,
            )  # fmt: skip
            self.status.error(f"internal error applying {parsed.type} {parsed.event_id}")
            return
        self._recent.add(parsed.event_id, fingerprint)
        self.status.count_events()

    async def _reject(
        self, rejected: EventRejected, received_at: datetime, client: aiomqtt.Client | None
    ) -> None:
        self.rejected += 1
        where = f" field={rejected.field}" if rejected.field else ""
        self.status.error(f"rejected {rejected.reason}{where}: {rejected.message}")
        # The first reject of each reason is logged; the rest are counted (a broken bridge
        # may send thousands a second).
        level = logging.DEBUG if rejected.reason in self._logged_reasons else logging.WARNING
        self._logged_reasons.add(rejected.reason)
        log.log(
            level,
            "event rejected source=%s reason=%s field=%s event_id=%s message=%s",
            self.source_id, rejected.reason, rejected.field, rejected.event_id, rejected.message,
        )  # fmt: skip
        body: dict[str, Any] = {
            "reason": rejected.reason,
            "field": rejected.field,
            "message": rejected.message,
            "event_id": rejected.event_id,
            "received_at": received_at.astimezone(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        if self._publish_reject is not None:
            self._publish_reject(self.rejects_topic, body)
        elif client is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            await client.publish(self.rejects_topic, data, qos=1)


def _manual_ack(client: aiomqtt.Client) -> bool:
    """Acknowledge each message only after it was applied, not on receipt.

    aiomqtt has no API for it yet (empicano/aiomqtt#345); paho-mqtt >= 2 has, on the client
    aiomqtt wraps. Set before connecting: a persistent session's queue arrives with CONNACK.
    """
    paho = getattr(client, "_client", None)
    if paho is None or not hasattr(paho, "manual_ack_set") or not hasattr(paho, "ack"):
        log.warning("this aiomqtt cannot acknowledge after processing; paho acks on receipt")
        return False
    paho.manual_ack_set(True)
    return True


def _auth_refused(exc: aiomqtt.MqttError) -> bool:
    # Only a CONNACK refusal (MqttConnectError, not exported by aiomqtt) carries these codes.
    if not isinstance(exc, MqttConnectError) or exc.rc is None:
        return False
    code = exc.rc if isinstance(exc.rc, int) else exc.rc.value
    return code in _AUTH_REFUSED
