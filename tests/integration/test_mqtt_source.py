"""The MQTT event source on a real Mosquitto: a PBX bridge publishes schema-v1 events, the call
tracker applies them once each, bad ones are answered on the rejects topic, and nothing the
bridge publishes is lost while our client or the broker is away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from callcenter.clock import Clock, FakeClock
from callcenter.config import MqttSettings, PbxSettings
from callcenter.mqtt.subscriber import MqttEventSource
from tests.conftest import Hotline, HotlineFactory
from tests.integration import bench
from tests.waiting import eventually as until

CALLER = "13800000001"


@pytest.fixture
async def line(hotline_factory: HotlineFactory, sqlite_url: str) -> Hotline:
    hotline: Hotline = await hotline_factory(sqlite_url)
    return hotline


@pytest.fixture
def pbx_id() -> str:
    # Each test has its own persistent session on the shared broker.
    return f"bridge-{uuid.uuid4().hex[:8]}"


def source_for(line: Hotline, pbx_id: str, broker_url: str, **options: Any) -> MqttEventSource:
    return MqttEventSource(
        PbxSettings(id=pbx_id, kind="mqtt"),
        MqttSettings(url=broker_url),
        on_event=line.svc.calls().handle,
        **options,
    )


@contextlib.asynccontextmanager
async def running(source: MqttEventSource) -> AsyncIterator[MqttEventSource]:
    task = asyncio.create_task(source.run())
    try:
        await until(lambda: source.status.state == "connected" or task.done())
        yield source
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Bridge:
    """Publishes events as a PBX bridge would, timed on the hotline's fake clock."""

    def __init__(self, client: aiomqtt.Client, pbx_id: str, clock: Clock) -> None:
        self.client = client
        self.topic = f"callcenter/pbx/{pbx_id}/events"
        self.rejects = f"callcenter/pbx/{pbx_id}/rejects"
        self.start = clock.now()

    def event(self, kind: str, call_id: str, after: float, **fields: Any) -> dict[str, Any]:
        at = self.start + timedelta(seconds=after)
        return {
            "v": 1,
            "event_id": uuid.uuid4().hex,
            "type": kind,
            "at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "call_id": call_id,
            **fields,
        }

    async def publish(self, payload: dict[str, Any] | bytes) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await self.client.publish(self.topic, data, qos=1)

    async def send(self, kind: str, call_id: str, after: float, **fields: Any) -> dict[str, Any]:
        body = self.event(kind, call_id, after, **fields)
        await self.publish(body)
        return body

    async def ring(self, call_id: str, after: float = 0.3, extension: str = "2001") -> None:
        await self.send("call_offered", call_id, 0, caller=CALLER, dialed="96069")
        await self.send("leg_ringing", call_id, after, leg_id=f"{call_id}/a", extension=extension)

    async def reject(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            message = await anext(aiter(self.client.messages))
        assert isinstance(message.payload, bytes)
        reject: dict[str, Any] = json.loads(message.payload)
        return reject


@contextlib.asynccontextmanager
async def bridge(
    mosquitto: bench.MosquittoBroker, pbx_id: str, line: Hotline
) -> AsyncIterator[Bridge]:
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
        pbx = Bridge(client, pbx_id, line.clock)
        await client.subscribe(pbx.rejects, qos=1)
        yield pbx


async def api(line: Hotline, path: str, headers: dict[str, str]) -> Any:
    await line.svc.calls().settled()
    response = await line.client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.fixture
async def lead(line: Hotline) -> dict[str, str]:
    await line.add_user("li.na", "agent", "2001")
    return await line.token("lead", "team_lead")


# -- calls ------------------------------------------------------------------------------------


async def test_call_answered_late_records_a_ring_limit_violation(
    line: Hotline, lead: dict[str, str], mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    source = source_for(line, pbx_id, mosquitto.url)
    async with running(source), bridge(mosquitto, pbx_id, line) as pbx:
        await pbx.ring("call-1")
        await until(lambda: source.status.events == 2)
        clock: FakeClock = line.clock  # type: ignore[assignment]
        clock.advance(16)  # past 3 rings of 5 s: the ring-limit timer fires
        await pbx.send("leg_answered", "call-1", 16.5, leg_id="call-1/a", extension="2001")
        await pbx.send("call_ended", "call-1", 60, hung_up_by="caller")
        await until(lambda: source.status.events == 4)
    (violation,) = await api(line, "/api/violations", lead)
    assert violation["kind"] == "ring_limit" and violation["agent"] == "li.na"
    assert violation["extension"] == "2001" and violation["rings"] == 4
    (call,) = await api(line, "/api/calls", lead)
    assert call["source"] == pbx_id and call["sip_call_id"] == "call-1"
    assert call["outcome"] == "answered" and call["within_ring_limit"] is False
    assert source.status.errors == 0 and source.status.last_event_at is not None


async def test_caller_giving_up_is_recorded_as_abandoned(
    line: Hotline, lead: dict[str, str], mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    source = source_for(line, pbx_id, mosquitto.url)
    async with running(source), bridge(mosquitto, pbx_id, line) as pbx:
        await pbx.ring("call-2")
        await pbx.send("call_abandoned", "call-2", 4.0)
        await until(lambda: source.status.events == 3)
    (call,) = await api(line, "/api/calls", lead)
    assert call["outcome"] == "abandoned" and call["rings"] == 1
    assert await api(line, "/api/violations", lead) == []


async def test_agent_hanging_up_first_is_a_violation(
    line: Hotline, lead: dict[str, str], mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    source = source_for(line, pbx_id, mosquitto.url)
    async with running(source), bridge(mosquitto, pbx_id, line) as pbx:
        await pbx.ring("call-3")
        await pbx.send("leg_answered", "call-3", 3.0, leg_id="call-3/a", extension="2001")
        await pbx.send("call_ended", "call-3", 40.0, hung_up_by="agent")
        await until(lambda: source.status.events == 4)
    (violation,) = await api(line, "/api/violations", lead)
    assert violation["kind"] == "hung_up_first" and violation["agent"] == "li.na"
    (call,) = await api(line, "/api/calls", lead)
    assert call["hung_up_by"] == "agent" and call["within_ring_limit"] is True


# -- bad input and repeats --------------------------------------------------------------------


async def test_invalid_events_are_answered_on_the_rejects_topic_and_counted(
    line: Hotline, mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    source = source_for(line, pbx_id, mosquitto.url)
    async with running(source), bridge(mosquitto, pbx_id, line) as pbx:
        body = pbx.event("leg_ringing", "call-4", 0.3, leg_id="a")  # no extension
        await pbx.publish(body)
        reject = await pbx.reject()
        assert reject["reason"] == "missing-field" and reject["field"] == "extension"
        assert reject["event_id"] == body["event_id"] and reject["received_at"].endswith("Z")
        assert "extension" in reject["message"]
        await pbx.publish(b"not json")
        reject = await pbx.reject()
        assert reject["reason"] == "bad-json" and reject["event_id"] is None
        assert source.status.errors == 2 and "bad-json" in (source.status.last_error or "")
        # The source carries on.
        await pbx.ring("call-5")
        await until(lambda: source.status.events == 2)
        assert source.status.state == "connected"


async def test_a_redelivered_event_is_applied_and_counted_once(
    line: Hotline, mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    tracker = line.svc.calls()
    source = source_for(line, pbx_id, mosquitto.url)
    async with running(source), bridge(mosquitto, pbx_id, line) as pbx:
        offered = pbx.event("call_offered", "call-6", 0, caller=CALLER, dialed="96069")
        await pbx.publish(offered)
        await until(lambda: source.status.events == 1)
        handled, seen_at = tracker.events_handled, source.status.last_event_at
        await pbx.publish(offered)  # as a QoS 1 redelivery or a bridge's retry
        await until(lambda: source.duplicates == 1)
        assert source.status.events == 1 and source.status.last_event_at == seen_at
        assert tracker.events_handled == handled and source.status.errors == 0
        reused = pbx.event("call_abandoned", "call-6", 2.0)
        reused["event_id"] = offered["event_id"]
        await pbx.publish(reused)
        reject = await pbx.reject()
        assert reject["reason"] == "event-id-reused" and reject["field"] == "event_id"
    (call,) = tracker.open_calls(pbx_id)
    assert call.call_id == "call-6" and not call.closed


# -- outages ----------------------------------------------------------------------------------


async def test_events_published_while_we_are_disconnected_arrive_when_we_return(
    line: Hotline, lead: dict[str, str], mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    async with running(source_for(line, pbx_id, mosquitto.url)):
        pass  # the broker now holds our persistent session and its subscription
    async with bridge(mosquitto, pbx_id, line) as pbx:  # the PBX goes on publishing
        await pbx.ring("call-7")
        await pbx.send("leg_answered", "call-7", 2.0, leg_id="call-7/a", extension="2001")
    source = source_for(line, pbx_id, mosquitto.url)
    assert source.client_id == f"callcenter-pbx-{pbx_id}"
    async with running(source):
        await until(lambda: source.status.events == 3)
    (call,) = await api(line, "/api/calls", lead)
    assert call["outcome"] == "answered" and call["agent"] == "li.na"


async def test_queued_events_survive_a_broker_restart(
    line: Hotline, mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    async with running(source_for(line, pbx_id, mosquitto.url)):
        pass
    async with bridge(mosquitto, pbx_id, line) as pbx:
        await pbx.ring("call-8")
    mosquitto.restart()  # persistence on: the session and its queued QoS 1 messages stay
    source = source_for(line, pbx_id, mosquitto.url)
    async with running(source):
        await until(lambda: source.status.events == 2)
    (call,) = line.svc.calls().open_calls(pbx_id)
    assert call.call_id == "call-8" and call.outcome == "ringing"


async def test_the_source_reconnects_after_the_broker_was_down(
    line: Hotline, mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    source = source_for(line, pbx_id, mosquitto.url, max_backoff=1.0)
    async with running(source):
        mosquitto.stop()
        try:
            await until(lambda: source.status.state == "backoff")
            assert source.status.connected_since is None and source.status.errors == 1
            assert "lost the connection" in (source.status.last_error or "")
        finally:
            mosquitto.start()
        await until(lambda: source.status.state == "connected")
        assert source.status.reconnects == 1
        async with bridge(mosquitto, pbx_id, line) as pbx:
            await pbx.ring("call-9")
            await until(lambda: source.status.events == 2)


class _Stalling(MqttEventSource):
    """Receives a message and never finishes applying it: stopped there, it must not have
    acknowledged it."""

    async def handle_payload(self, payload: bytes, client: aiomqtt.Client | None = None) -> None:
        self.got = payload
        await asyncio.Event().wait()


async def test_a_message_is_acknowledged_only_after_it_was_applied(
    line: Hotline, mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    stalling = _Stalling(
        PbxSettings(id=pbx_id, kind="mqtt"), MqttSettings(url=mosquitto.url), lambda _: None
    )
    async with running(stalling), bridge(mosquitto, pbx_id, line) as pbx:
        offered = await pbx.send("call_offered", "call-10", 0, caller=CALLER, dialed="96069")
        await until(lambda: hasattr(stalling, "got"))
    source = source_for(line, pbx_id, mosquitto.url)
    async with running(source):
        await until(lambda: source.status.events == 1)  # delivered again
    (call,) = line.svc.calls().open_calls(pbx_id)
    assert call.call_id == offered["call_id"]


# -- credentials ------------------------------------------------------------------------------


class _PasswordBroker(bench.MosquittoBroker):
    """A second Mosquitto that requires a user name and password."""

    USER, PASSWORD = "bridge", "s3cret-Pa55"

    def write_conf(self) -> None:
        super().write_conf()
        passwords = self.base_dir / "passwords"
        subprocess.run(
            ["mosquitto_passwd", "-c", "-b", str(passwords), self.USER, self.PASSWORD],
            check=True, capture_output=True,
        )  # fmt: skip
        conf = self.conf_path.read_text().replace("allow_anonymous true", "allow_anonymous false")
        self.conf_path.write_text(conf + f"password_file {passwords}\n")


@pytest.fixture
def password_broker(tmp_path: Path) -> Any:
    broker = _PasswordBroker(tmp_path / "mosquitto-auth")
    broker.base_dir.mkdir(parents=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_wrong_credentials_give_one_clear_error_and_a_slow_retry(
    line: Hotline,
    password_broker: _PasswordBroker,
    pbx_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    host, port = password_broker.host, password_broker.port
    wrong = "wrong-Pa55word"
    source = source_for(line, pbx_id, f"mqtt://bridge:{wrong}@{host}:{port}", auth_retry=30.0)
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(source.run())
    try:
        await until(lambda: source.status.state == "auth_failed")
        await asyncio.sleep(1.5)  # a reconnect storm would show here
        assert source.status.errors == 1 and source.status.state == "auth_failed"
        assert "credentials" in (source.status.last_error or "")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    log = password_broker.log_path.read_text()
    assert log.count("not authorised") == 1  # one attempt in all
    errors = [r for r in caplog.records if r.name == "callcenter.mqtt.subscriber"]
    assert [r.levelno for r in errors] == [logging.ERROR]
    shown = caplog.text + json.dumps(source.status.as_json())
    assert wrong not in shown
    right = f"mqtt://bridge:{_PasswordBroker.PASSWORD}@{host}:{port}"
    async with running(source_for(line, pbx_id, right)) as ok:
        assert ok.status.state == "connected"


async def test_rejects_can_go_through_the_services_publisher(
    line: Hotline, mosquitto: bench.MosquittoBroker, pbx_id: str
) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    source = source_for(
        line, pbx_id, mosquitto.url, publish_reject=lambda topic, body: sent.append((topic, body))
    )
    async with running(source), bridge(mosquitto, pbx_id, line) as pbx:
        await pbx.publish(pbx.event("call_ended", "call-11", 1.0, hung_up_by="system"))
        await until(lambda: len(sent) == 1)
    ((topic, body),) = sent
    assert topic == f"callcenter/pbx/{pbx_id}/rejects"
    assert (body["reason"], body["field"]) == ("bad-field", "hung_up_by")


# -- without a broker -------------------------------------------------------------------------


def test_topics_client_id_and_address_follow_the_settings() -> None:
    source = MqttEventSource(
        PbxSettings(id="bridge1", kind="mqtt"),
        MqttSettings(url="mqtt://cc:hunter2@broker.example:1884", topic_prefix="site1/cc"),
        on_event=lambda _: None,
    )
    assert source.events_topic == "site1/cc/pbx/bridge1/events"
    assert source.rejects_topic == "site1/cc/pbx/bridge1/rejects"
    assert source.client_id == "site1-cc-pbx-bridge1"
    assert source.status.address == "mqtt://broker.example:1884/site1/cc/pbx/bridge1/events"
    assert source.status.kind == "mqtt" and "hunter2" not in json.dumps(source.status.as_json())


async def test_only_the_most_recent_event_ids_are_remembered(line: Hotline) -> None:
    handled: list[object] = []
    source = MqttEventSource(
        PbxSettings(id="bridge1", kind="mqtt"), MqttSettings(), handled.append, remember=2
    )
    pbx = Bridge(None, "bridge1", line.clock)  # type: ignore[arg-type]
    first, second, third = (pbx.event("call_abandoned", f"c{i}", i) for i in range(3))
    for body in (first, second, third, third, first):
        await source.handle_payload(json.dumps(body).encode())
    # `third` repeated is skipped; `first` had been forgotten, so it is applied again (the
    # call model is idempotent: a repeated abandon changes nothing).
    assert len(handled) == 4 and source.duplicates == 1 and source.status.events == 4
