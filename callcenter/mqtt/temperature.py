"""The MQTT source of the outdoor temperature: [priority] mqtt_topic on the service's broker.

A clean session and a random client id: only the newest reading matters, which the broker
hands over at once when the sensor publishes it retained; two instances of a pair never take
each other's session. aiomqtt has no reconnect of its own, so `follow_temperature` loops.
"""

from __future__ import annotations

import asyncio

import aiomqtt

from callcenter.config import MqttSettings
from callcenter.priority.service import OutdoorTemperature


def _payload(message: aiomqtt.Message) -> bytes:
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


async def follow_temperature(
    broker: MqttSettings,
    topic: str,
    temperature: OutdoorTemperature,
    *,
    min_backoff: float = 0.5,
    max_backoff: float = 30.0,
) -> None:
    """Subscribe `topic` and hand each message to `temperature`, until cancelled."""
    endpoint = broker.broker
    backoff = min_backoff
    while True:
        try:
            client = aiomqtt.Client(
                endpoint.host,
                endpoint.port,
                username=broker.username,
                password=broker.password,
                keepalive=30,
                timeout=10,
            )
            async with client:
                await client.subscribe(topic, qos=1)
                backoff = min_backoff
                async for message in client.messages:
                    temperature.offer(_payload(message))
        except aiomqtt.MqttError as exc:
            # The broker's address only: mqtt.url may hold a password.
            temperature.failed(
                "mqtt", f"MQTT broker {endpoint.host}:{endpoint.port} unavailable: {exc}"
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)
