"""The AMI adapter end to end: AmiClient against a fake Asterisk over TCP, feeding the REAL
call tracker (SQLite), checked through /api/calls and /api/violations as a user would.

Real clock, short intervals: a ring cycle of 0.2 s (ring limit 3 → deadline 0.6 s), Pings
every 0.2 s where a test needs them. Transcripts play without their `Timestamp:` lines, so
events are stamped when read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from callcenter.clock import SystemClock
from callcenter.config import PbxSettings
from callcenter.signals import CommandResult
from callcenter.telephony.ami.client import AmiClient
from callcenter.telephony.ami.protocol import Message, encode
from tests.conftest import Hotline, HotlineFactory
from tests.fakes.ami_server import FakeAmiServer, channel, messages, transcript
from tests.waiting import eventually

SOURCE = "pbx1"
CLIENT_LOG = "callcenter.telephony.ami.client"
A = "1763859600.101"  # queue_answered.txt
B = "1763859600.111"  # caller_abandons.txt


def part(name: str, start: int = 0, stop: int | None = None) -> bytes:
    """Messages [start:stop] of a transcript, as wire bytes without timestamps."""
    return b"".join(
        encode(m.fields) for m in messages(transcript(name, timestamps=False))[start:stop]
    )


def index_of(name: str, event: str, **fields: str) -> int:
    for i, m in enumerate(messages(transcript(name))):
        if m.event == event and all(m.get(k) == v for k, v in fields.items()):
            return i
    raise ValueError(f"no {event} {fields} in {name}")


@dataclass
class Bench:
    hotline: Hotline
    server: FakeAmiServer
    headers: dict[str, str]
    clients: list[tuple[AmiClient, asyncio.Task[None]]]

    def start(self, **options: Any) -> AmiClient:
        secret = options.pop("secret", self.server.secret)
        settings = PbxSettings(
            id=SOURCE,
            kind="ami",
            host="127.0.0.1",
            port=self.server.port,
            username="hotline",
            secret=secret,
            context="hotline-overflow",
        )
        client = AmiClient(settings, self.hotline.svc.calls().handle, **options)
        self.clients.append((client, asyncio.create_task(client.run())))
        return client

    async def connected(self, **options: Any) -> AmiClient:
        client = self.start(**options)
        await self.server.wait_for("logins", self.server.logins + 1)
        await eventually(self._resynced(client))
        return client

    def _resynced(self, client: AmiClient) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return client.status.state == "connected" and client.status.events > 0

        return check

    async def settled(self) -> None:
        await asyncio.sleep(0.05)  # the last bytes are read
        await self.hotline.svc.calls().settled()

    async def get(self, path: str) -> Any:
        response = await self.hotline.client.get(path, headers=self.headers)
        assert response.status == 200, await response.text()
        return await response.json()

    async def call(self, call_id: str) -> dict[str, Any] | None:
        await self.hotline.svc.calls().settled()
        calls = await self.get("/api/calls")
        return next((c for c in calls if c["sip_call_id"] == call_id), None)

    async def violations(self, call_id: str) -> list[dict[str, Any]]:
        await self.hotline.svc.calls().settled()
        return [v for v in await self.get("/api/violations") if v["sip_call_id"] == call_id]


@pytest.fixture
async def bench(hotline_factory: HotlineFactory, tmp_path: Path) -> AsyncIterator[Bench]:
    hotline = await hotline_factory(
        f"sqlite+aiosqlite:///{tmp_path}/ami.sqlite3",
        clock=SystemClock(),
        rings={"cycle_seconds": 0.2, "limit": 3},
    )
    for name, extension in (("wangfang", "2001"), ("chenjing", "2002")):
        await hotline.add_user(name, "agent", extension)
    headers = await hotline.token("lead", "team_lead")
    server = FakeAmiServer()
    await server.start()
    b = Bench(hotline, server, headers, [])
    try:
        yield b
    finally:
        for _, task in b.clients:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await server.stop()


# -- calls, as a user sees them --------------------------------------------------------------
async def test_a_late_answer_is_a_ring_limit_violation(bench: Bench) -> None:
    await bench.connected()
    answer = index_of("queue_answered.txt", "Newstate", Uniqueid="1763859600.102", ChannelState="6")
    await bench.server.send(part("queue_answered.txt", 0, answer))

    async def ring_limit() -> list[dict[str, Any]]:
        return [v for v in await bench.violations(A) if v["kind"] == "ring_limit"]

    (violation,) = await eventually(ring_limit)  # rings past 0.6 s
    assert violation["extension"] == "2001" and violation["agent"] == "wangfang"
    await bench.server.send(part("queue_answered.txt", answer))
    await bench.settled()
    call = await bench.call(A)
    assert call is not None
    assert call["outcome"] == "answered" and call["hung_up_by"] == "caller"
    assert call["caller"] == "13800138001" and call["dialed"] == "96000"
    assert call["within_ring_limit"] is False and call["agent"] == "wangfang"
    assert [v["kind"] for v in await bench.violations(A)] == ["ring_limit"]


async def test_an_agent_hanging_up_first_is_a_violation(bench: Bench) -> None:
    await bench.connected()
    await bench.server.play("agent_hangs_up_first.txt")
    await bench.settled()
    call = await bench.call("1763859600.131")
    assert call is not None and call["outcome"] == "answered" and call["hung_up_by"] == "agent"
    assert call["within_ring_limit"] is True and call["agent"] == "chenjing"
    kinds = [v["kind"] for v in await bench.violations("1763859600.131")]
    assert kinds == ["hung_up_first"]


async def test_a_caller_hanging_up_while_it_rings_is_abandoned(bench: Bench) -> None:
    await bench.connected()
    await bench.server.play("caller_abandons.txt")
    await bench.settled()
    call = await bench.call(B)
    assert call is not None and call["outcome"] == "abandoned"
    assert [leg["outcome"] for leg in call["legs"]] == ["abandoned"]
    assert await bench.violations(B) == []


async def test_ring_no_answer_then_the_next_agent_makes_two_legs(bench: Bench) -> None:
    await bench.connected()
    await bench.server.play("ring_no_answer_next_agent.txt")
    await bench.settled()
    call = await bench.call("1763859600.121")
    assert call is not None and call["outcome"] == "answered"
    legs = [(leg["extension"], leg["outcome"], leg["end_cause"]) for leg in call["legs"]]
    assert legs[0] == ("2001", "unanswered", "no answer after 15 s")
    assert legs[1][:2] == ("2002", "answered")
    assert call["agent"] == "chenjing"


async def test_a_queue_timeout_is_unanswered(bench: Bench) -> None:
    await bench.connected()
    await bench.server.play("queue_timeout.txt")
    await bench.settled()
    call = await bench.call("1763859600.141")
    assert call is not None and call["outcome"] == "unanswered"


async def test_reads_cut_anywhere_even_inside_a_character(bench: Bench) -> None:
    client = await bench.connected()
    data = part("queue_answered.txt")
    zhang = data.index("张".encode())
    cuts = [zhang + 1, zhang + 2, *range(1, len(data), 61)]  # inside 张, and every 61 bytes
    await bench.server.send(data, cuts)
    await bench.settled()
    call = await bench.call(A)
    assert call is not None and call["outcome"] == "answered" and call["hung_up_by"] == "caller"
    assert client.status.errors == 0 and client.status.reconnects == 0


# -- outages ---------------------------------------------------------------------------------
async def test_a_dropped_connection_is_resynced_and_calls_that_ended_are_closed(
    bench: Bench,
) -> None:
    client = await bench.connected(stable_after=60.0)
    ringing = index_of(
        "queue_answered.txt", "Newstate", Uniqueid="1763859600.102", ChannelState="5"
    )
    await bench.server.send(part("queue_answered.txt", 0, ringing + 1))
    abandon = index_of("caller_abandons.txt", "HangupRequest")
    await bench.server.send(part("caller_abandons.txt", 0, abandon))
    await bench.settled()
    assert (await bench.call(A))["outcome"] == "ringing"  # type: ignore[index]
    assert (await bench.call(B))["outcome"] == "ringing"  # type: ignore[index]
    # While we are away: agent 2001 answers call A; call B's caller hangs up and is gone.
    bench.server.channels = [
        channel("PJSIP/trunk-00000011", A, A, number="13800138001", seconds=1),
        channel(
            "PJSIP/2001-00000012",
            "1763859600.102",
            A,
            number="2001",
            application="AppQueue",
            data="(Outgoing Line)",
            seconds=0,
        ),
    ]
    half_an_event = part("caller_abandons.txt", abandon, abandon + 1)[:40]
    await bench.server.drop(partial=half_an_event)
    await bench.server.wait_for("logins", 2)
    await eventually(lambda: _state(client, "connected"))
    await bench.settled()
    a, b = await bench.call(A), await bench.call(B)
    assert a is not None and a["outcome"] == "answered" and a["ended_at"] is None
    # B ended while we were away: how is not known, so it is lost (no blame, not in the rates).
    assert b is not None and b["outcome"] == "lost" and b["ended_at"] is not None
    assert client.status.reconnects == 1 and client.status.errors == 1
    # Call A goes on from where the resync left it.
    await bench.server.send(part("queue_answered.txt", index_of("queue_answered.txt", "DialEnd")))
    await bench.settled()
    a = await bench.call(A)
    assert a is not None and a["hung_up_by"] == "caller" and a["ended_at"] is not None


async def _state(client: AmiClient, state: str) -> bool:
    return client.status.state == state


async def test_wrong_credentials_log_one_error_and_retry_slowly(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter")
    wrong = "not-the-secret-Ab12"
    client = bench.start(secret=wrong, auth_retry=60.0)
    await bench.server.wait_for("failed_logins")
    await eventually(lambda: _state(client, "auth_failed"))
    await asyncio.sleep(2.5)
    assert client.status.state == "auth_failed"
    assert client.status.last_error == "authentication failed: Authentication failed"
    assert bench.server.connections <= 2 and bench.server.logins == 0
    errors = [r for r in caplog.records if r.name == CLIENT_LOG and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert wrong not in caplog.text and wrong not in str(client.status.as_json())
    assert bench.server.secret not in caplog.text


async def test_md5_login_never_sends_the_secret_and_plain_login_works(bench: Bench) -> None:
    await bench.connected()
    login = await bench.server.wait_action("Login")
    assert login["AuthType"] == "MD5" and "Secret" not in login and login["Events"] == "call,agent"
    filt = await bench.server.wait_action("Filter")
    assert filt["Operation"] == "Add" and filt["Filter"].startswith("Event: (")
    assert "AgentComplete" in filt["Filter"]
    await bench.connected(login="plain")
    assert (await bench.server.wait_action("Login", 2))["Secret"] == bench.server.secret


async def test_a_pbx_without_md5_or_filter_is_still_read(bench: Bench) -> None:
    bench.server.md5 = False
    bench.server.filter_supported = False
    await bench.connected()
    await bench.server.play("caller_abandons.txt")
    await bench.settled()
    assert (await bench.call(B))["outcome"] == "abandoned"  # type: ignore[index]


async def test_garbage_from_the_server_drops_the_connection_and_it_recovers(bench: Bench) -> None:
    client = await bench.connected()
    await bench.server.garbage()
    await bench.server.wait_for("logins", 2)
    await eventually(lambda: _state(client, "connected"))
    assert client.status.errors == 1 and "protocol error" in (client.status.last_error or "")
    await bench.server.play("caller_abandons.txt")
    await bench.settled()
    assert (await bench.call(B))["outcome"] == "abandoned"  # type: ignore[index]


async def test_junk_that_never_ends_a_message_is_found_by_the_next_pong(bench: Bench) -> None:
    client = await bench.connected(ping_interval=0.2)
    await bench.server.garbage(end=False)  # no blank line: framing alone would wait
    await bench.server.wait_for("logins", 2)
    assert "malformed" in (client.status.last_error or "")


async def test_an_endless_line_is_cut_off(bench: Bench) -> None:
    client = await bench.connected()
    await bench.server.send(b"Event: Flood\r\nValue: " + b"x" * 70_000)
    await bench.server.wait_for("logins", 2)
    assert "no end of message" in (client.status.last_error or "")


async def test_a_server_that_is_not_asterisk_is_reported(bench: Bench) -> None:
    bench.server.banner = b"SSH-2.0-OpenSSH_9.6\r\n"
    client = bench.start()
    await eventually(lambda: _state(client, "backoff"))
    assert "not an AMI server" in (client.status.last_error or "")
    assert bench.server.logins == 0


async def test_a_ping_without_pong_reconnects(bench: Bench) -> None:
    client = await bench.connected(ping_interval=0.2, timeout=0.3)
    await bench.server.wait_action("Ping")
    bench.server.answer_pings = False
    await bench.server.wait_for("connections", 2)
    assert client.status.last_error == "no reply to Ping within 0.3 s"
    bench.server.answer_pings = True
    await bench.server.wait_for("logins", 2)
    await asyncio.sleep(0.5)  # Pings answered again: the connection stays
    assert bench.server.connections == 2 and client.status.state == "connected"


async def test_cancelling_the_client_logs_off_and_closes_the_socket(bench: Bench) -> None:
    client = await bench.connected()
    _, task = bench.clients.pop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await bench.server.wait_action("Logoff")
    await eventually(_no_clients(bench.server))
    assert client.status.state == "connected"  # what it last was; nothing runs any more


def _no_clients(server: FakeAmiServer) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return server.clients == 0

    return check


# -- the command port ------------------------------------------------------------------------
async def test_redirect_moves_the_callers_channel_and_returns_the_pbx_answer(bench: Bench) -> None:
    client = await bench.connected()
    ringing = index_of(
        "queue_answered.txt", "Newstate", Uniqueid="1763859600.102", ChannelState="5"
    )
    await bench.server.send(part("queue_answered.txt", 0, ringing + 1))
    await bench.settled()
    bench.server.channels = [channel("PJSIP/trunk-00000011", A, A)]
    result = await client.redirect(A, "1763859600.102", "8000@overflow")
    assert (result.ok, result.response) == (True, "Success: Redirect successful")
    sent: Message = await bench.server.wait_action("Redirect")
    assert [sent[k] for k in ("Channel", "Exten", "Context", "Priority")] == [
        "PJSIP/trunk-00000011",
        "8000",
        "overflow",
        "1",
    ]
    await client.redirect(A, "1763859600.102", "8001")
    assert (await bench.server.wait_action("Redirect", 2))["Context"] == "hotline-overflow"
    bench.server.redirect_error = "Channel specified does not exist"
    failed = await client.redirect(A, "1763859600.102", "8000")
    assert (failed.ok, failed.response) == (False, "Error: Channel specified does not exist")
    unknown = await client.redirect("no-such-call", "x", "8000")
    assert not unknown.ok and "no live caller channel" in unknown.response


async def test_redirect_without_a_connection_or_an_answer_fails_cleanly(bench: Bench) -> None:
    settings = PbxSettings(id=SOURCE, kind="ami", host="127.0.0.1", port=bench.server.port)
    offline = AmiClient(settings, lambda event: None)  # never started
    assert await offline.redirect(A, "x", "8000") == CommandResult(
        False, "not connected to the PBX"
    )
    client = await bench.connected(timeout=0.3)
    await bench.server.send(part("queue_answered.txt", 0, 1))
    await bench.settled()

    async def no_answer(client_: Any, action: Message) -> bool:
        return True  # the PBX reads the action and says nothing

    bench.server._answer = no_answer  # type: ignore[method-assign,assignment]
    result = await client.redirect(A, "x", "8000")
    assert (result.ok, result.response) == (False, "no answer from the PBX within 0.3 s")
