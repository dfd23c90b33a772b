"""At shutdown the MQTT messages still queued (the alerts and violations of the last save)
reach the broker before the connection is closed: a board subscribed with a persistent
session gets every one of them."""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from callcenter.mqtt.publisher import MqttPublisher
from callcenter.tasks import owned, stop_all
from tests.integration import bench
from tests.waiting import eventually

TOPIC = "callcenter/shutdown-test/violations"
COUNT = 500


async def test_messages_queued_at_shutdown_reach_the_broker(
    mosquitto: bench.MosquittoBroker,
) -> None:
    async with aiomqtt.Client(
        mosquitto.host, mosquitto.port, identifier="board-at-shutdown", clean_session=False
    ) as board:
        await board.subscribe(TOPIC, qos=1)
    publisher = MqttPublisher(mosquitto.host, mosquitto.port, client_id="callcenter-shutdown")
    running = owned("mqtt-publisher", publisher.run())
    await eventually(lambda: publisher.connected)
    for n in range(COUNT):
        publisher.publish(TOPIC, {"n": n}, qos=1)
    assert await publisher.drain(within=20) == 0
    await stop_all([running])

    received: set[int] = set()
    async with aiomqtt.Client(
        mosquitto.host, mosquitto.port, identifier="board-at-shutdown", clean_session=False
    ) as board:
        async with asyncio.timeout(20):
            async for message in board.messages:
                assert isinstance(message.payload, bytes)
                received.add(json.loads(message.payload)["n"])
                if len(received) == COUNT:
                    break
    assert received == set(range(COUNT))
