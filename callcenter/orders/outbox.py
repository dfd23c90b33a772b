"""The outbox's sender: drains the messages `Orders` committed with their orders to the
stations (MQTT QoS 1 on `<prefix>/stations/<code>/orders`, the station's webhook), resends
until the station acknowledges, and applies the acks from `<prefix>/stations/+/acks`.

It has its own aiomqtt connection, not the shared publisher's: `client.publish(qos=1)`
returns only once the broker's PUBACK arrived, and only then may a message count as sent;
the publisher queues and forgets. The same connection carries the acks, in a persistent
session (fixed client id, clean_session off), so acks sent while we are away are kept for us.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import aiohttp
import aiomqtt
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import Clock
from callcenter.config import MqttSettings
from callcenter.orders import store, webhook
from callcenter.orders.service import RESEND_MAX_SECONDS, Orders
from callcenter.orders.settings import OrdersSettings

log = logging.getLogger(__name__)

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

BATCH = 200
MAX_ACK_BYTES = 4096
MAX_WAIT_SECONDS = 30.0  # look at the outbox at least this often, whatever we were told
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# Why an ack is refused; each is counted on /api/health and logged the first time.
ACK_REASONS = ("oversized", "malformed", "unknown-message", "other-station", "order-mismatch")


def resend_delay(attempts: int, first_seconds: float) -> float:
    """Seconds until attempt `attempts` + 1: the first delay doubling, capped (a station with
    no client running, working on the portal, is not flooded)."""
    return float(min(first_seconds * 2 ** min(attempts - 1, 30), RESEND_MAX_SECONDS))


def parse_ack(topic_station: str, payload: bytes) -> tuple[str, str] | str:
    """(message_id, order_id) of an ack, or the reason it is refused."""
    if len(payload) > MAX_ACK_BYTES:
        return "oversized"
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return "malformed"
    if not isinstance(body, dict) or not _CODE_RE.match(topic_station):
        return "malformed"
    message_id, order_id = body.get("message_id"), body.get("order_id")
    if not isinstance(message_id, str) or not isinstance(order_id, str):
        return "malformed"
    if not _ID_RE.match(message_id) or not _ID_RE.match(order_id):
        return "malformed"
    return message_id, order_id


class OutboxSender:
    def __init__(
        self,
        orders: Orders,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        settings: OrdersSettings,
        mqtt: MqttSettings | None,
    ) -> None:
        self.orders = orders
        self.db = db
        self.clock = clock
        self.settings = settings
        self.mqtt = mqtt
        self.prefix = (mqtt.topic_prefix if mqtt else "callcenter").strip("/")
        self.acks_filter = f"{self.prefix}/stations/+/acks"
        # Fixed, so the broker keeps the acks' session across our reconnects and restarts.
        self.client_id = f"{self.prefix.replace('/', '-')}-orders"
        self._wakes = {"mqtt": asyncio.Event(), "webhook": asyncio.Event()}
        self._recount = asyncio.Event()
        self.connected = False
        self._state_since = time.monotonic()
        self.counts: dict[str, int] = {"pending": 0, "unacked": 0, "parked": 0}
        self.sent = 0  # handed over: PUBACK from the broker, or a webhook's 2xx
        self.resent = 0  # of which again, the station had not acknowledged
        self.acked = 0
        self.duplicate_acks = 0
        self.refused_acks: Counter[str] = Counter()
        self.webhook_failures = 0
        self._failing: dict[str, str] = {}  # what was last logged, per streak

    def orders_topic(self, station: str) -> str:
        return f"{self.prefix}/stations/{station}/orders"

    def wake(self) -> None:
        """A message was just committed: send it now, not at the next look."""
        for event in self._wakes.values():
            event.set()

    def down_for(self) -> float:
        return 0.0 if self.connected or self.mqtt is None else time.monotonic() - self._state_since

    def status(self) -> dict[str, Any]:
        """For /api/health's components."""
        body: dict[str, Any] = {
            **self.counts,
            "sent": self.sent,
            "resent": self.resent,
            "acked": self.acked,
            "duplicate_acks": self.duplicate_acks,
            "refused_acks": dict(self.refused_acks),
            "webhook_failures": self.webhook_failures,
        }
        if self.mqtt is not None:
            body["mqtt_connected"] = self.connected
        return body

    def problems(self, down_limit: float) -> list[str]:
        out = []
        if self.counts["parked"]:
            out.append(
                f"orders: {self.counts['parked']} messages parked (a station's webhook kept "
                "failing; see order_outbox.last_error)"
            )
        if self.counts["pending"] and self.down_for() > down_limit:
            out.append(f"orders: no broker connection for {self.down_for():.0f} s")
        return out

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            loops = [self._counting(), self._drain("webhook", lambda r: self._post(session, r))]
            if self.mqtt is not None:
                loops.append(self._mqtt_loop())
            await _until_one_fails(loops)

    async def _counting(self) -> None:
        while True:
            try:
                async with self.db().connect() as conn:
                    self.counts = await store.outbox_counts(conn)
            except Exception as exc:  # the database is down: the drains say so already
                log.debug("outbox counts unavailable error=%s", exc)
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that comes as
            # the event is set, and shutdown would wait for this loop for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(MAX_WAIT_SECONDS):
                    await self._recount.wait()
            self._recount.clear()
            await asyncio.sleep(0.2)  # one count for a burst of changes

    async def _drain(
        self, channel: str, send: Callable[[list[dict[str, Any]]], Coroutine[Any, Any, None]]
    ) -> None:
        """Send what is due on `channel`, then sleep until the next is due or a wake()."""
        wake = self._wakes[channel]
        failures = 0
        while True:
            wake.clear()  # before reading: a dispatch committed meanwhile wakes the next wait
            try:
                async with self.db().connect() as conn:
                    rows = await store.due_messages(conn, self.clock.now(), BATCH, channel)
                if rows:
                    await send(rows)
                    self._recount.set()
                    failures = 0
                    continue
                async with self.db().connect() as conn:
                    due = await store.next_due(conn, channel)
                failures = 0
            except aiomqtt.MqttError:
                raise  # the connection's loop reconnects
            except Exception as exc:
                # The database is away: keep the loop, say so once per streak.
                failures += 1
                if failures == 1:
                    log.error("outbox %s: a pass failed, retrying error=%s", channel, exc)
                await asyncio.sleep(min(0.5 * 2**failures, MAX_WAIT_SECONDS))
                continue
            wait = MAX_WAIT_SECONDS
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: see _counting
                async with asyncio.timeout(wait):
                    await wake.wait()

    # -- MQTT ---------------------------------------------------------------------------------
    async def _mqtt_loop(self) -> None:
        assert self.mqtt is not None
        broker = self.mqtt.broker
        backoff = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    broker.host,
                    broker.port,
                    username=self.mqtt.username,
                    password=self.mqtt.password,
                    identifier=self.client_id,
                    clean_session=False,
                    keepalive=30,
                    timeout=10,
                    max_inflight_messages=BATCH,
                    # Nagle would hold a small write behind the previous one's unacknowledged
                    # bytes until the broker's delayed TCP ACK: ~40 ms on every order.
                    socket_options=[NODELAY],
                ) as client:
                    # aiomqtt warns past 10 publishes awaiting their PUBACK; a batch is more.
                    client.pending_calls_threshold = 2 * BATCH
                    await client.subscribe(self.acks_filter, qos=1)
                    self._set_connected(True)
                    backoff = 0.5
                    log.info("orders MQTT connected broker=%s", broker)
                    await _until_one_fails(
                        [
                            self._read_acks(client),
                            self._drain("mqtt", lambda rows: self._publish(client, rows)),
                        ]
                    )
            except aiomqtt.MqttError as exc:
                self._set_connected(False)
                if self._failing.get("mqtt") != str(exc):
                    self._failing["mqtt"] = str(exc)
                    log.warning("orders MQTT unavailable broker=%s error=%s", broker, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self._set_connected(False)

    def _set_connected(self, value: bool) -> None:
        if value != self.connected:
            self.connected = value
            self._state_since = time.monotonic()
            if value:
                self._failing.pop("mqtt", None)

    async def _publish(self, client: aiomqtt.Client, rows: list[dict[str, Any]]) -> None:
        results = await asyncio.gather(
            *(
                client.publish(self.orders_topic(r["station"]), r["payload"].encode(), qos=1)
                for r in rows
            ),
            return_exceptions=True,
        )
        taken = [r for r, result in zip(rows, results, strict=True) if result is None]
        now = self.clock.now()
        # Recorded before a failure is raised: what the broker took is not sent again at once.
        async with self.db().begin() as conn:
            for r in taken:
                attempts = r["attempts"] + 1
                await store.update_message(
                    conn,
                    r["id"],
                    sent_at=r["sent_at"] or now,
                    attempts=attempts,
                    next_attempt_at=now + self._delay(attempts),
                    last_error=None,
                )
        self.sent += len(taken)
        self.resent += sum(1 for r in taken if r["attempts"])
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=resend_delay(attempts, self.settings.resend_seconds))

    async def _read_acks(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parts = message.topic.value.split("/")
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                payload = str(payload).encode()  # paho gives bytes; be safe regardless
            try:
                await self.handle_ack(parts[-2], bytes(payload))
            except Exception:
                # The database failed us: the station's client gets a resend and acks again.
                log.exception("applying an ack failed station=%s", parts[-2][:32])

    async def handle_ack(self, station: str, payload: bytes) -> str:
        """Apply one station's ack once: "acked", "duplicate", or the reason it is refused."""
        parsed = parse_ack(station, payload)
        if isinstance(parsed, str):
            return self._refuse(parsed, station, None)
        message_id, order_id = parsed
        async with self.db().connect() as conn:
            message = await store.get_message(conn, message_id)
        if message is None:
            return self._refuse("unknown-message", station, message_id)
        if message["station"] != station:
            return self._refuse("other-station", station, message_id)
        if message["order_id"] != order_id:
            return self._refuse("order-mismatch", station, message_id)
        if message["acked_at"] is None and await self.orders.acknowledged(
            station, message_id, "mqtt"
        ):
            self.acked += 1
            self._recount.set()
            return "acked"
        # A resend crossed the station's first ack, or its client acked twice: nothing changes.
        self.duplicate_acks += 1
        return "duplicate"

    def _refuse(self, reason: str, station: str, message_id: str | None) -> str:
        self.refused_acks[reason] += 1
        # The first of each reason is logged; the rest are counted (a broken client may send
        # thousands a second).
        level = logging.DEBUG if self.refused_acks[reason] > 1 else logging.WARNING
        log.log(
            level,
            "ack refused reason=%s station=%s message_id=%s",
            reason, station[:32], message_id,
        )  # fmt: skip
        return reason

    # -- webhooks -----------------------------------------------------------------------------
    async def _post(self, session: aiohttp.ClientSession, rows: list[dict[str, Any]]) -> None:
        await asyncio.gather(*(self._post_one(session, r) for r in rows))

    async def _post_one(self, session: aiohttp.ClientSession, r: dict[str, Any]) -> None:
        station = r["station"]
        terms = self.settings.stations.get(station)
        if terms is None or not terms.webhook_url:
            error: str | None = "the station has no webhook_url any more"
            retry_until = self.clock.now()
        else:
            body = r["payload"].encode()
            stamp = int(self.clock.now().timestamp())
            error = await webhook.post(
                session, terms.webhook_url, terms.webhook_secret, body, r["id"], stamp
            )
            retry_until = r["created_at"] + timedelta(hours=self.settings.webhook_retry_hours)
        now = self.clock.now()
        attempts = r["attempts"] + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": error}
        if error is None:
            values |= {"sent_at": r["sent_at"] or now, "next_attempt_at": now + self._delay(1)}
        elif now >= retry_until:
            values["parked_at"] = now
        else:
            values["next_attempt_at"] = min(now + self._delay(attempts), retry_until)
        async with self.db().begin() as conn:
            await store.update_message(conn, r["id"], **values)
        where = webhook.safe_url(terms.webhook_url) if terms else "-"
        if error is None:
            self.sent += 1
            self.resent += 1 if r["attempts"] else 0
            if self._failing.pop(f"webhook:{station}", None):
                log.info("webhook answers again station=%s url=%s", station, where)
            if await self.orders.acknowledged(station, r["id"], "webhook"):
                self.acked += 1
            return
        self.webhook_failures += 1
        if "parked_at" in values:
            log.warning(
                "webhook message parked station=%s message_id=%s attempts=%d error=%s",
                station, r["id"], attempts, error,
            )  # fmt: skip
        elif self._failing.get(f"webhook:{station}") != error:
            self._failing[f"webhook:{station}"] = error
            log.warning("webhook failing station=%s url=%s error=%s", station, where, error)


async def _until_one_fails(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run forever-loops together; when one ends (it failed), stop the rest and raise."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
        raise RuntimeError("an outbox loop ended")
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
