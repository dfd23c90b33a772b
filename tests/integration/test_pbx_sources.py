"""[[pbx]] sources configured in the settings, as `serve` builds them: status at
/api/sources, and the overflow action carried out by the PBX that carries the call."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from callcenter.clock import SystemClock
from tests.conftest import Hotline, HotlineFactory
from tests.fakes.ami_server import FakeAmiServer, channel, transcript
from tests.waiting import eventually

SECRET = "s3cret-不告诉你"


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAmiServer]:
    server = FakeAmiServer(secret=SECRET)
    await server.start()
    yield server
    await server.stop()


async def start(factory: HotlineFactory, tmp_path: Path, server: FakeAmiServer) -> Hotline:
    h: Hotline = await factory(
        f"sqlite+aiosqlite:///{tmp_path}/pbx.sqlite3",
        clock=SystemClock(),
        rings={
            "cycle_seconds": 0.5,
            "limit": 3,
            "actions": [
                {"queue": "repair", "on_ring_limit": "overflow", "target": "8000@overflow"}
            ],
        },
        pbx=[
            {
                "id": "ast1",
                "kind": "ami",
                "host": "127.0.0.1",
                "port": server.port,
                "username": "hotline",
                "secret": SECRET,
            }
        ],
    )
    await h.add_user("wangfang", "agent", "2001")
    return h


def ringing_part(name: str) -> bytes:
    """The transcript up to the agent answering: the phone is left ringing."""
    data = transcript(name + ".txt", timestamps=False)
    answered = data.index(b"Channel: PJSIP/2001-00000012\r\nChannelState: 6")
    return data[: data.rindex(b"Event: ", 0, answered)]


async def test_configured_ami_source_is_connected_and_listed_without_its_secret(
    hotline_factory: HotlineFactory, tmp_path: Path, asterisk: FakeAmiServer
) -> None:
    h = await start(hotline_factory, tmp_path, asterisk)
    lead = await h.token("lead", "supervisor")

    async def connected() -> bool:
        sources = await (await h.client.get("/api/sources", headers=lead)).json()
        return [(s["id"], s["kind"], s["state"]) for s in sources] == [("ast1", "ami", "connected")]

    await eventually(connected)
    text = await (await h.client.get("/api/sources", headers=lead)).text()
    assert SECRET not in text and "s3cret" not in text


async def test_phone_ringing_past_the_limit_is_redirected_through_asterisk(
    hotline_factory: HotlineFactory, tmp_path: Path, asterisk: FakeAmiServer
) -> None:
    h = await start(hotline_factory, tmp_path, asterisk)
    await asterisk.wait_for("logins")
    # Asterisk knows the resident's channel, so a Redirect of it succeeds.
    asterisk.channels = [channel("PJSIP/trunk-00000011", "1763859600.101", "1763859600.101")]
    await asterisk.send(ringing_part("queue_answered"))
    redirect = await asterisk.wait_action("Redirect")
    assert redirect["Channel"] == "PJSIP/trunk-00000011"
    assert (redirect["Exten"], redirect["Context"]) == ("8000", "overflow")
    lead = await h.token("lead", "team_lead")

    async def recorded() -> list[Any]:
        await h.svc.calls().settled()
        return list(await (await h.client.get("/api/overflows", headers=lead)).json())

    await eventually(lambda: _nonempty(recorded()))
    (attempt,) = await recorded()
    assert attempt["ok"] is True and attempt["source"] == "ast1"
    assert attempt["response"].startswith("Success")
    (violation,) = await (await h.client.get("/api/violations", headers=lead)).json()
    assert violation["kind"] == "ring_limit" and violation["agent"] == "wangfang"


async def _nonempty(items: Awaitable[list[Any]]) -> bool:
    return bool(await items)


@pytest.mark.parametrize("kind", ["ami", "esl"])
async def test_a_source_reconnecting_to_a_dead_pbx_stops_when_cancelled(kind: str) -> None:
    # Cancelled while a refused connect completes at the same moment, Python 3.11's
    # asyncio.wait_for turned the cancellation into the connect error and the adapter
    # went on retrying forever: the service could not shut down.
    from callcenter.config import PbxSettings
    from callcenter.telephony.ami.client import AmiClient
    from callcenter.telephony.esl.client import EslClient

    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens: every connect is refused at once
    for attempt in range(30):
        if kind == "ami":
            settings = PbxSettings("a", "ami", "127.0.0.1", port, "u", "secret1")
            client: Any = AmiClient(settings, lambda e: None, backoff_initial=0.0, backoff_max=0.0)
        else:
            settings = PbxSettings("e", "esl", "127.0.0.1", port, password="pw")
            client = EslClient(settings, lambda e: None, backoff_initial=0.0, backoff_max=0.0)
        task = asyncio.create_task(client.run())
        await asyncio.sleep(0.001 * (attempt % 7))
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert task in done, f"{kind} source ignored its cancellation (attempt {attempt})"
