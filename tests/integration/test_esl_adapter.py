"""The ESL client against a fake FreeSWITCH event socket, feeding the REAL call tracker
(SQLite, the real clock, a 0.3 s ring), checked through /api/calls and /api/violations.

The transcripts ring in 5 s cycles; they are replayed at CYCLE / 5 speed, so their rings
keep their count: an 8 s ring (two rings) stays two rings of 0.3 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from callcenter.clock import SystemClock
from callcenter.config import PbxSettings
from callcenter.telephony.esl.client import EslClient
from callcenter.telephony.esl.translate import RecordingReady
from tests.conftest import Hotline, HotlineFactory
from tests.fakes.esl_server import (
    FakeEslServer,
    disconnect_notice,
    json_event,
    random_splitter,
)
from tests.waiting import eventually as until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl"
ESL_PASSWORD = "ClueCon-7f3a"
CYCLE, LIMIT = 0.3, 3  # the ring limit falls 0.9 s after the first ring
SPEED = CYCLE / 5.0
MAX_GAP = 0.6  # longer gaps (talk time) shrink further: the rings played with it are shorter


def transcript(name: str) -> list[dict[str, str]]:
    doc = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    events: list[dict[str, str]] = doc["events"]
    return events


QUEUE = transcript("queue_call_answered.json")
ABANDON = transcript("caller_abandons_while_ringing.json")
RING_OUT = transcript("agent_rings_out_next_agent_answers.json")
AGENT_BYE = transcript("agent_hangs_up_first.json")
RECORDED = transcript("recording_stopped.json")


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, sqlite_url: str) -> Hotline:
    h: Hotline = await hotline_factory(
        sqlite_url, clock=SystemClock(), rings={"cycle_seconds": CYCLE, "limit": LIMIT}
    )
    return h


@pytest.fixture
async def lead(hotline: Hotline) -> dict[str, str]:
    await hotline.add_user("li.na", "agent", "2001")
    await hotline.add_user("wang.wei", "agent", "2002")
    return await hotline.token("lead", "team_lead")


@pytest.fixture
async def fs() -> AsyncIterator[FakeEslServer]:
    server = FakeEslServer(ESL_PASSWORD)
    await server.start()
    yield server
    await server.close()


def pbx(fs: FakeEslServer, password: str = ESL_PASSWORD) -> PbxSettings:
    return PbxSettings(
        id="fs1", kind="esl", host="127.0.0.1", port=fs.port, password=password, context="hotline"
    )


@contextlib.asynccontextmanager
async def running(client: EslClient) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def watching(hotline: Hotline, fs: FakeEslServer, **options: Any) -> AsyncIterator[EslClient]:
    """A connected, resynced client feeding the hotline's call tracker."""
    options.setdefault("keepalive_interval", 5.0)
    options.setdefault("timeout", 1.0)
    client = EslClient(pbx(fs), on_event=hotline.svc.calls().handle, **options)
    async with running(client):
        await until(lambda: client.resyncs >= 1)
        yield client


async def get(h: Hotline, path: str, headers: dict[str, str]) -> Any:
    await h.svc.calls().settled()
    response = await h.client.get(path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def call(h: Hotline, headers: dict[str, str], call_id: str) -> dict[str, Any]:
    calls = await get(h, "/api/calls", headers)
    (found,) = [c for c in calls if c["sip_call_id"] == call_id]
    return dict(found)


async def closed_call(h: Hotline, headers: dict[str, str], call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 3.0
    while True:
        calls = await get(h, "/api/calls", headers)
        found = [c for c in calls if c["sip_call_id"] == call_id and c["ended_at"]]
        if found:
            return dict(found[0])
        assert time.monotonic() < deadline, f"call {call_id} not closed"
        await asyncio.sleep(0.05)


async def kinds(h: Hotline, headers: dict[str, str]) -> list[tuple[str, str | None]]:
    rows = await get(h, "/api/violations", headers)
    return sorted((v["kind"], v["agent"]) for v in rows)


# -- calls, as the hotline sees them ----------------------------------------------------------
async def test_queue_call_answered_in_time_over_reads_split_anywhere(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    async with watching(hotline, fs) as client:
        fs.split = random_splitter(seed=3, max_piece=300)
        fs.split_delay = 0.0002
        await fs.play(QUEUE, SPEED, max_gap=MAX_GAP)
        c = await closed_call(hotline, lead, QUEUE[0]["Unique-ID"])
        assert client.status.state == "connected" and client.status.errors == 0
    assert c["outcome"] == "answered" and c["within_ring_limit"] is True
    assert (c["agent"], c["extension"], c["rings"]) == ("li.na", "2001", 2)
    assert c["caller"] == "13800138000" and c["hung_up_by"] == "caller"
    assert await kinds(hotline, lead) == []


async def test_answer_after_the_third_ring_records_a_ring_limit_violation(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    async with watching(hotline, fs):
        await fs.play(QUEUE, SPEED * 2.5, max_gap=1.5)  # the 8 s ring becomes 1.2 s: 4 rings
        c = await closed_call(hotline, lead, QUEUE[0]["Unique-ID"])
    assert c["outcome"] == "answered" and c["within_ring_limit"] is False
    assert await kinds(hotline, lead) == [("ring_limit", "li.na")]


async def test_agent_hanging_up_first_is_recorded(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    async with watching(hotline, fs):
        await fs.play(AGENT_BYE, SPEED, max_gap=MAX_GAP)
        c = await closed_call(hotline, lead, AGENT_BYE[0]["Unique-ID"])
    assert c["hung_up_by"] == "agent"
    assert await kinds(hotline, lead) == [("hung_up_first", "li.na")]


async def test_caller_giving_up_while_the_phone_rings_is_abandoned(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    async with watching(hotline, fs):
        await fs.play(ABANDON, SPEED, max_gap=MAX_GAP)
        c = await closed_call(hotline, lead, ABANDON[0]["Unique-ID"])
    assert c["outcome"] == "abandoned"
    assert [leg["outcome"] for leg in c["legs"]] == ["abandoned"]
    assert await kinds(hotline, lead) == []


async def test_agent_ringing_out_then_the_next_agent_answering(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    async with watching(hotline, fs):
        await fs.play(RING_OUT, SPEED, max_gap=1.25)  # its 20 s ring: 1.2 s
        c = await closed_call(hotline, lead, RING_OUT[0]["Unique-ID"])
    assert (c["outcome"], c["agent"], c["within_ring_limit"]) == ("answered", "wang.wei", True)
    # One fault per leg: li.na's phone rang past the limit and then out; one ring_limit row.
    assert await kinds(hotline, lead) == [("ring_limit", "li.na")]


async def test_plain_events_work_as_well_as_json(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    async with watching(hotline, fs, event_format="plain"):
        assert fs.current.format == "plain"
        fs.split = random_splitter(seed=5, max_piece=200)
        fs.split_delay = 0.0002
        await fs.play(QUEUE, SPEED, max_gap=MAX_GAP)
        c = await closed_call(hotline, lead, QUEUE[0]["Unique-ID"])
    assert (c["outcome"], c["agent"], c["hung_up_by"]) == ("answered", "li.na", "caller")


async def test_record_stop_hands_over_the_recording(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    recordings: list[RecordingReady] = []
    async with watching(hotline, fs, on_recording=recordings.append):
        await fs.play(RECORDED, SPEED, max_gap=MAX_GAP)
        await until(lambda: bool(recordings))
    (rec,) = recordings
    assert rec.path.endswith("/2026-11-23/feedface-1a2b-4c3d-8e4f-5a6b7c8d9e51.wav")
    assert (rec.source, rec.call_id) == ("fs1", RECORDED[0]["Unique-ID"])
    assert rec.leg_id == RECORDED[3]["Unique-ID"]  # the agent's leg


# -- failures ---------------------------------------------------------------------------------
async def test_a_connection_lost_mid_call_is_resynced(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    gone, live = ABANDON[0]["Unique-ID"], QUEUE[0]["Unique-ID"]
    async with watching(hotline, fs) as client:
        await fs.play(ABANDON[:3], SPEED)
        await fs.play(QUEUE[:5], SPEED)
        half = json_event(QUEUE[5])[:200]
        await fs.drop(partial=half)  # the connection dies inside an event
        await fs.play(ABANDON[3:], send=False)  # the caller gives up while we are away
        await until(lambda: client.resyncs >= 2)
        assert (await call(hotline, lead, gone))["outcome"] == "lost"  # closed, no blame
        assert (await call(hotline, lead, live))["outcome"] == "ringing"  # still going
        await fs.play(QUEUE[5:], SPEED, max_gap=MAX_GAP)
        c = await closed_call(hotline, lead, live)
        status = client.status.as_json()
    assert c["outcome"] == "answered" and c["hung_up_by"] == "caller"
    assert status["reconnects"] == 1 and status["state"] == "connected"
    assert "mid-frame" in str(status["last_error"])
    assert (await call(hotline, lead, gone))["legs"][0]["end_cause"] == "lost: end not seen"


async def test_a_wrong_password_fails_once_and_does_not_retry_in_a_storm(
    hotline: Hotline, fs: FakeEslServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="callcenter.telephony.esl")
    client = EslClient(pbx(fs, password="not-the-password"), hotline.svc.calls().handle)
    async with running(client):
        await until(lambda: client.status.state == "auth_failed")
        await asyncio.sleep(2.0)  # what would be a reconnect storm, had there been one
        status = client.status.as_json()
    assert fs.auth_attempts == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "authentication rejected" in errors[0].getMessage()
    assert "-ERR invalid" in str(status["last_error"])
    assert "not-the-password" not in json.dumps(status) + caplog.text


async def test_an_acl_rejection_is_treated_like_a_wrong_password(
    hotline: Hotline, fs: FakeEslServer, caplog: pytest.LogCaptureFixture
) -> None:
    fs.acl_reject = True
    client = EslClient(pbx(fs), hotline.svc.calls().handle)
    async with running(client):
        await until(lambda: client.status.state == "auth_failed")
    assert len(fs.connections) == 1
    assert "ACL: Access Denied" in str(client.status.last_error)
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


async def test_garbage_is_counted_and_calls_still_flow(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    async with watching(hotline, fs) as client:
        await fs.write(b"hello there\n\n")
        await fs.write(b"Content-Type: text/x-unknown\nContent-Length: 3\n\nabc")
        await fs.write(b'Content-Length: 9\nContent-Type: text/event-json\n\n{"Event-N')
        await fs.write(b"Content-Length: 2\nContent-Type: text/event-json\n\n[]")
        await fs.play(ABANDON, SPEED, max_gap=MAX_GAP)
        c = await closed_call(hotline, lead, ABANDON[0]["Unique-ID"])
        assert client.bad_frames == 4 and client.status.errors == 4
        assert client.status.reconnects == 0 and client.status.state == "connected"
    assert c["outcome"] == "abandoned"


async def test_unframeable_input_drops_the_connection_and_reconnects(
    hotline: Hotline, fs: FakeEslServer
) -> None:
    async with watching(hotline, fs, max_frame=64 * 1024) as client:
        await fs.write(b"Content-Length: 12abc\nContent-Type: text/event-json\n\n")
        await until(lambda: client.resyncs >= 2)
        assert "Content-Length" in str(client.status.last_error)
        await fs.write(b"Content-Length: 2000000\nContent-Type: text/event-json\n\n")
        await until(lambda: client.resyncs >= 3)
        assert "exceeds" in str(client.status.last_error)
    assert client.status.reconnects == 2


async def test_a_flood_is_taken_in_stride(
    hotline: Hotline, lead: dict[str, str], fs: FakeEslServer
) -> None:
    heartbeat = {"Event-Name": "CHANNEL_CREATE", "Unique-ID": "x", "Call-Direction": "outbound"}
    async with watching(hotline, fs) as client:
        await fs.write(json_event(heartbeat) * 20_000)  # 20,000 events in one write
        await until(lambda: client.status.events >= 20_000)
        await fs.play(ABANDON, SPEED, max_gap=MAX_GAP)
        c = await closed_call(hotline, lead, ABANDON[0]["Unique-ID"])
        assert client.status.errors == 0 and client.status.reconnects == 0
    assert c["outcome"] == "abandoned"


async def test_an_unanswered_keep_alive_reconnects(hotline: Hotline, fs: FakeEslServer) -> None:
    async with watching(hotline, fs, keepalive_interval=0.3, timeout=0.4) as client:
        fs.answer_api = False
        await until(lambda: fs.connections[0].closed)
        fs.answer_api = True
        await until(lambda: client.resyncs >= 2)
        assert "keep-alive" in str(client.status.last_error)
        assert client.status.state == "connected" and client.status.reconnects == 1


async def test_a_disconnect_notice_ends_the_session_and_it_reconnects(
    hotline: Hotline, fs: FakeEslServer
) -> None:
    async with watching(hotline, fs) as client:
        await fs.write(disconnect_notice())
        await until(lambda: client.resyncs >= 2)
        assert "disconnect notice" in str(client.status.last_error)
        assert client.status.reconnects == 1


async def test_cancelling_run_closes_the_connection(hotline: Hotline, fs: FakeEslServer) -> None:
    client = EslClient(pbx(fs), hotline.svc.calls().handle)
    task = asyncio.create_task(client.run())
    await until(lambda: client.resyncs >= 1)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)
    assert task.cancelled()
    await until(lambda: fs.connections[0].closed)


# -- commands ---------------------------------------------------------------------------------
async def test_redirect_sends_uuid_transfer_and_returns_the_answer(
    hotline: Hotline, fs: FakeEslServer
) -> None:
    caller, agent = QUEUE[0]["Unique-ID"], QUEUE[3]["Unique-ID"]
    async with watching(hotline, fs) as client:
        await fs.play(QUEUE[:5], SPEED)
        await until(lambda: caller in client.translator.calls)
        ok = await client.redirect(caller, agent, "8000@overflow")
        default_context = await client.redirect(caller, agent, "8001")
        missing = await client.redirect("no-such-call", agent, "8000")
        bad = await client.redirect(caller, agent, "8000\nauth x")
        job = await client.bgapi("status")
    assert (ok.ok, ok.response) == (True, "+OK")
    assert default_context.ok
    assert f"uuid_transfer {caller} 8000 XML overflow" in fs.api_calls
    assert f"uuid_transfer {caller} 8001 XML hotline" in fs.api_calls
    assert (missing.ok, missing.response) == (False, "-ERR No such channel!")
    assert not bad.ok and not any("auth x" in c for c in fs.commands)
    assert job.ok and job.response.startswith("UP 0 years")


async def test_commands_fail_cleanly_without_a_connection(
    hotline: Hotline, fs: FakeEslServer
) -> None:
    client = EslClient(pbx(fs), hotline.svc.calls().handle, timeout=0.8)
    result = await client.redirect("c", "l", "8000")
    assert (result.ok, result.response) == (False, "-ERR not connected")
    async with watching(hotline, fs, timeout=0.8) as client:
        fs.api_delay = 1.0
        result = await client.api("uuid_transfer abc 8000 XML hotline")
        assert (result.ok, result.response) == (False, "-ERR no answer in 0.8 s")
        fs.api_delay = 0.0
        status = await client.api("status")  # the late -ERR went to the command that timed out
        assert status.ok and status.response.startswith("UP 0 years")
