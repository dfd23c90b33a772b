"""The station's side of order delivery: receives its repair orders over MQTT, prints each once,
and acknowledges it (docs/station-orders.md). `callcenter station-client` runs it; the tests
and the benchmark use the same class as the station.

A persistent session (fixed client id, clean_session off) lets the broker keep the orders
published while the client is away; the first start, a broker that lost its store, or its
queue limit are covered by the service's resend. Either way a message may come twice: it is
acknowledged each time (the first ack may have been lost) and printed once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
import sys
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiomqtt

log = logging.getLogger(__name__)

NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

SCHEMA = "callcenter.order/1"
MAX_MESSAGE_BYTES = 256 * 1024
REMEMBER = 20_000  # keys kept to recognise a resend: two per message
_CONTROL = {c: "?" for c in [*range(0, 9), 11, 12, *range(14, 32), *range(0x7F, 0xA0)]}


def _clean(value: Any) -> str:
    """Text for a terminal: no escape sequences from whatever was typed into a ticket."""
    return ("-" if value is None or value == "" else str(value)).translate(_CONTROL)


class StationClient:
    def __init__(
        self,
        station: str,
        url: str,
        *,
        prefix: str = "callcenter",
        out: Callable[[str], None] = print,
        timezone: str = "Asia/Shanghai",
        client_id: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("the broker URL is mqtt://[user:password@]host[:port] (or mqtts://)")
        self.station = station
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self._username = parts.username
        self._password = parts.password
        self._tls = ssl.create_default_context() if parts.scheme == "mqtts" else None
        prefix = prefix.strip("/")
        self.orders_topic = f"{prefix}/stations/{station}/orders"
        self.acks_topic = f"{prefix}/stations/{station}/acks"
        self.client_id = client_id or f"{prefix.replace('/', '-')}-station-{station}"
        self.out = out
        self.zone = ZoneInfo(timezone)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.printed: list[dict[str, Any]] = []  # each message shown, once
        self.acks_sent = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.connected = False

    async def run(self, once: bool = False) -> None:
        """Connect, subscribe, print and ack; on a lost broker back off and connect again.
        With `once`, return after the first new message was printed and acknowledged."""
        backoff = 0.5
        failure: str | None = None
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self._username,
                    password=self._password,
                    identifier=self.client_id,
                    clean_session=False,
                    keepalive=30,
                    timeout=10,
                    tls_context=self._tls,
                    # Nagle would hold a small write behind the previous one's unacknowledged
                    # bytes until the broker's delayed TCP ACK: ~40 ms on every order.
                    socket_options=[NODELAY],
                ) as client:
                    await client.subscribe(self.orders_topic, qos=1)
                    self.connected, failure, backoff = True, None, 0.5
                    log.info(
                        "connected broker=%s:%s topic=%s", self.host, self.port, self.orders_topic
                    )
                    async for message in client.messages:
                        payload = message.payload
                        if not isinstance(payload, bytes | bytearray):
                            payload = str(payload).encode()
                        if await self.handle(client, bytes(payload)) == "printed" and once:
                            return
            except aiomqtt.MqttError as exc:
                self.connected = False
                if str(exc) != failure:
                    failure = str(exc)
                    log.warning(
                        "broker unavailable broker=%s:%s error=%s", self.host, self.port, exc
                    )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.connected = False

    async def handle(self, client: aiomqtt.Client, payload: bytes) -> str:
        """One message on the orders topic: "printed", "duplicate", or why it was refused."""
        message = self.parse(payload)
        if isinstance(message, str):
            self.rejected[message] += 1
            level = logging.DEBUG if self.rejected[message] > 1 else logging.WARNING
            log.log(level, "message refused reason=%s bytes=%d", message, len(payload))
            return message
        message_id, order = message["message_id"], message["order"]
        keys = (message_id, f"{message['type']}:{order['id']}:{order.get('round')}")
        new = not any(k in self._seen for k in keys)
        if new:
            self.out(self.render(message))
            self.printed.append(message)
        else:
            self.duplicates += 1
        for key in keys:
            self._seen[key] = None
            self._seen.move_to_end(key)
        while len(self._seen) > REMEMBER:
            self._seen.popitem(last=False)
        ack = json.dumps({"message_id": message_id, "order_id": order["id"]}).encode()
        await client.publish(self.acks_topic, ack, qos=1)
        self.acks_sent += 1
        return "printed" if new else "duplicate"

    def parse(self, payload: bytes) -> dict[str, Any] | str:
        """The message, or the reason it cannot be handled (it is then not acknowledged)."""
        if len(payload) > MAX_MESSAGE_BYTES:
            return "oversized"
        try:
            body = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return "malformed"
        if not isinstance(body, dict) or body.get("schema") != SCHEMA:
            return "unknown-schema"
        if body.get("type") not in ("order", "recall"):
            return "unknown-type"
        order = body.get("order")
        if not isinstance(body.get("message_id"), str) or not isinstance(order, dict):
            return "malformed"
        if not isinstance(order.get("id"), str):
            return "malformed"
        if order.get("station") != self.station:
            return "other-station"
        return body

    def render(self, message: dict[str, Any]) -> str:
        """One block per message, for the station's people (zh-CN as typed)."""
        order = message["order"]
        head = f"第{_clean(order.get('round'))}轮 round {_clean(order.get('round'))}"
        if message["type"] == "recall":
            return "\n".join(
                [
                    f"== 撤单 RECALL  order {_clean(order['id'])}  {head} ==",
                    f"原因 reason:     {_clean(message.get('reason'))}",
                    "",
                ]
            )
        due = _dict(order.get("due"))
        resident = _dict(order.get("resident"))
        fault = _dict(order.get("fault"))
        flags = order.get("address_flags") or []
        what = " · ".join(_clean(fault.get(k)) for k in ("category", "location", "severity"))
        lines = [
            f"== 派工单 ORDER  {_clean(order['id'])}  {head} ==",
            f"工单 ticket:     {_clean(order.get('ticket_id'))}",
            f"派单 dispatched: {self._time(order.get('dispatched_at'))}",
            f"接单 accept by:  {self._time(due.get('accept'))}",
            f"联系 contact by: {self._time(due.get('contact'))}",
            f"修复 repair by:  {self._time(due.get('repair'))}",
            f"住户 resident:   {_clean(resident.get('name'))}  {_clean(resident.get('phone'))}",
            f"地址 address:    {_clean(resident.get('address'))}",
            f"故障 fault:      {what}",
            f"描述 details:    {_clean(fault.get('description'))}",
        ]
        if flags:
            lines.append(f"注意 address flags: {', '.join(_clean(f) for f in flags)}")
        return "\n".join([*lines, ""])

    def _time(self, value: Any) -> str:
        try:
            at = datetime.fromisoformat(str(value))
        except ValueError:
            return _clean(value)
        if at.tzinfo is None:
            return _clean(value)
        return f"{at.astimezone(self.zone):%Y-%m-%d %H:%M} ({self.zone.key})"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def run_cli(
    station: str, url: str, prefix: str, once: bool, timezone: str, client_id: str | None
) -> int:
    """`callcenter station-client`: runs until interrupted (or the first order, with --once)."""
    try:
        client = StationClient(
            station, url, prefix=prefix, timezone=timezone, client_id=client_id,
            out=lambda text: print(text, flush=True),
        )  # fmt: skip
    except (ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(client.run(once=once))
    except KeyboardInterrupt:
        pass
    return 0
