"""The MQTT source of the outdoor temperature on a real Mosquitto: a sensor's readings count;
−80 °C, text and JSON without a number are refused, counted, logged and shown as an invalid
temperature on /api/temperature and /api/health, and every priority says the temperature is
unknown meanwhile, never a wrong one; the broker away, the last reading goes stale."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from callcenter.app import SERVICES, build
from callcenter.clock import FakeClock
from tests.api.test_tickets_api import person, take
from tests.conftest import Hotline, settings_for
from tests.integration import bench
from tests.waiting import eventually


@pytest.fixture
def topic() -> str:
    return f"weather/{uuid.uuid4().hex[:8]}/outdoor"


async def service(aiohttp_client: Any, tmp_path: Path, broker: bench.MosquittoBroker,
                  topic: str) -> Hotline:  # fmt: skip
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path}/cc.sqlite3",
        mqtt={"url": broker.url, "topic_prefix": f"cc{uuid.uuid4().hex[:8]}"},
        priority={
            "temperature_source": "mqtt",
            "mqtt_topic": topic,
            "stale_after_minutes": 30,
        },
    )
    clock = FakeClock()
    app = build(settings, clock=clock, migrate=True, mqtt=True, hep=False)
    return Hotline(await aiohttp_client(app), app[SERVICES], clock)


async def publish(broker: bench.MosquittoBroker, topic: str, payload: str | bytes) -> None:
    # Retained, as a weather sensor publishes: whoever subscribes later gets the newest.
    async with aiomqtt.Client(broker.host, broker.port) as sensor:
        await sensor.publish(topic, payload, qos=1, retain=True)


async def temperature_when(h: Hotline, who: dict[str, str], check: Any) -> dict[str, Any]:
    async def ready() -> dict[str, Any] | None:
        body: dict[str, Any] = await (await h.client.get("/api/temperature", headers=who)).json()
        return body if check(body) else None

    found: dict[str, Any] = await eventually(ready, within=15)
    return found


async def test_sensor_readings_count_and_nonsense_makes_the_temperature_unknown(
    aiohttp_client: Any,
    tmp_path: Path,
    mosquitto: bench.MosquittoBroker,
    topic: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="callcenter.priority.service")
    await publish(mosquitto, topic, "-12.5")  # before the service starts: retained
    h = await service(aiohttp_client, tmp_path, mosquitto, topic)
    agent = await person(h, "li.na", "agent", "2001", "007")
    lead = await person(h, "lead", "team_lead")
    now = await temperature_when(h, agent, lambda b: b["state"] == "ok")
    assert (now["celsius"], now["source"], now["where"]) == (-12.5, "mqtt", topic)
    ticket = await take(h, agent, category="ice_cold", vulnerability="infant")
    texts = [r["text"] for r in ticket["priority"]["reasons"]]
    assert "outdoor -12.5 °C" in texts and ticket["priority"]["temperature"] == "ok"

    for payload, words in (
        ("-80", "-80 °C is outside"),
        ("abc", "not a number or JSON"),
        (json.dumps({"celsius": "cold", "at": "2026-11-23T09:00:00+08:00"}), "is not a number"),
    ):
        await publish(mosquitto, topic, payload)
        now = await temperature_when(
            h, agent, lambda b, w=words: b["state"] == "invalid" and w in b["reason"]
        )
        assert now["celsius"] is None and now["last_good"]["celsius"] == -12.5
        seen = await (await h.client.get(f"/api/tickets/{ticket['id']}", headers=agent)).json()
        assert seen["priority"]["temperature"] == "unknown"
        assert "outdoor temperature unknown" in [r["text"] for r in seen["priority"]["reasons"]]
        health = await (await h.client.get("/api/health", headers=lead)).json()
        assert health["temperature"]["state"] == "invalid"
    assert health["temperature"]["invalid"] == {"implausible": 1, "not-a-number": 2}
    assert "reason=implausible" in caplog.text and "reason=not-a-number" in caplog.text

    await publish(mosquitto, topic, json.dumps({"celsius": -14}))
    now = await temperature_when(h, agent, lambda b: b["state"] == "ok")
    assert now["celsius"] == -14.0


async def test_with_the_broker_away_the_last_reading_goes_stale(
    aiohttp_client: Any, tmp_path: Path, mosquitto: bench.MosquittoBroker, topic: str
) -> None:
    await publish(mosquitto, topic, "-6")
    h = await service(aiohttp_client, tmp_path, mosquitto, topic)
    agent = await person(h, "li.na", "agent", "2001", "007")
    await temperature_when(h, agent, lambda b: b["state"] == "ok")
    mosquitto.stop()
    try:
        now = await temperature_when(h, agent, lambda b: b["last_error"] is not None)
        assert (now["state"], now["last_error"]["code"]) == ("ok", "mqtt")
        assert isinstance(h.clock, FakeClock)
        h.clock.advance(31 * 60)
        now = await temperature_when(h, agent, lambda b: b["state"] == "stale")
        assert "the last reading is 31 min old" in now["reason"]
    finally:
        mosquitto.start()
    # Back: the retained reading arrives again on the new subscription.
    await temperature_when(h, agent, lambda b: b["state"] == "ok")
