"""Alerts reach other systems over MQTT even when the broker restarts, and the embedded
broker of a plain `callcenter serve` delivers them too."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from callcenter.mqtt.publisher import MqttPublisher
from callcenter.telephony.hep import simulate as sim
from tests.integration import bench
from tests.waiting import eventually as _until

TOPIC = "callcenter/alerts/ring-limit"


async def test_alert_queued_while_the_broker_is_down_is_delivered_after_it_returns(
    mosquitto: bench.MosquittoBroker,
) -> None:
    # A wallboard with a persistent session (clean_session off) subscribed before the outage.
    async with aiomqtt.Client(
        mosquitto.host, mosquitto.port, identifier="wallboard", clean_session=False
    ) as board:
        await board.subscribe(TOPIC, qos=1)
    publisher = MqttPublisher(mosquitto.host, mosquitto.port, client_id="callcenter-test")
    runner = asyncio.create_task(publisher.run())
    try:
        await _until(lambda: publisher.connected)
        mosquitto.stop()
        await _until(lambda: not publisher.connected)
        publisher.publish(TOPIC, {"type": "ring_limit", "extension": "2001"})
        await asyncio.sleep(0.5)
        assert publisher.published == 0
        mosquitto.start()
        await _until(lambda: publisher.published == 1, within=15)
    finally:
        runner.cancel()
    async with aiomqtt.Client(
        mosquitto.host, mosquitto.port, identifier="wallboard", clean_session=False
    ) as board:
        async with asyncio.timeout(10):
            message = await anext(aiter(board.messages))
    assert isinstance(message.payload, bytes)
    assert json.loads(message.payload)["extension"] == "2001"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, int, int]]:
    """`callcenter serve` as scripts/run starts it: embedded broker, SQLite, a real process."""
    web_port, broker_port = bench.free_tcp_port(), bench.free_tcp_port()
    hep_port = bench.free_udp_port()
    (tmp_path / "cc.toml").write_text(
        f'[web]\nlisten = "127.0.0.1:{web_port}"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cc.sqlite3"\n'
        f'[mqtt]\nembedded_listen = "127.0.0.1:{broker_port}"\n'
        f'[sip]\nhep_listen = "127.0.0.1:{hep_port}"\n'
        "[rings]\ncycle_seconds = 0.3\nlimit = 2\n"
    )
    env = {**os.environ, "CALLCENTER_CONFIG": str(tmp_path / "cc.toml")}
    cli = [sys.executable, "-m", "callcenter"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*cli, "user", "add", "li.na", "--role", "agent", "--extension", "2001"],
        env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([*cli, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(web_port, proc, tmp_path / "serve.log")
        yield web_port, broker_port, hep_port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"callcenter serve exited {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"callcenter serve did not listen:\n{log.read_text()}")


async def test_serve_with_the_embedded_broker_publishes_the_ring_limit_alert(
    served: tuple[int, int, int],
) -> None:
    _, broker_port, hep_port = served
    async with aiomqtt.Client("127.0.0.1", broker_port) as client:
        await client.subscribe(TOPIC, qos=1)
        call = sim.new_call(random.Random(5), extension="2001")
        start = time.time()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for at, datagram in sim.datagrams(call, sim.Plan("ringing"), start):
                await asyncio.sleep(max(0.0, at - time.time()))
                sock.sendto(datagram, ("127.0.0.1", hep_port))
        async with asyncio.timeout(10):
            message = await anext(aiter(client.messages))
    assert isinstance(message.payload, bytes)
    alert = json.loads(message.payload)
    assert alert["agent"] == "li.na" and alert["extension"] == "2001"
    assert alert["limit"] == 2 and alert["rings"] == 3
    assert alert["caller"].count("*") == 4  # the resident's number is masked
