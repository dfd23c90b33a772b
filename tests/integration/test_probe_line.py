"""The line probe on real SIP: the service's probe (pyVoIP) registers to a real Kamailio and
calls the hotline, a SIPp phone that answers, rings unanswered or refuses; Kamailio mirrors
the probe's call as HEP3 to the same service, which leaves it out of the figures; line_down
and line_up are read back from a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp import ClientSession, web

from callcenter import db
from callcenter.app import SERVICES, Services, build
from callcenter.auth import service as auth_service
from callcenter.clock import SystemClock
from tests.conftest import settings_for
from tests.integration import bench
from tests.integration.bench.kamailio import HOTLINE, HOTLINE_EXTENSION
from tests.waiting import eventually

CYCLE = 0.4  # limit 3: a monitored phone ringing 1.2 s would be a ring_limit violation
PROBE_EXTENSION = "8999"
RING_LIMIT, ANSWER_LIMIT = 1.5, 2.5  # under the bench proxy's 4 s before it gives up (480)


@dataclass
class Service:
    svc: Services
    base: str
    http: ClientSession
    headers: dict[str, str]
    alerts: list[dict[str, Any]]

    async def get(self, path: str) -> Any:
        await self.svc.calls().settled()
        async with self.http.get(self.base + path, headers=self.headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def results(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.get("/api/probe/results")
        return rows

    async def probe_once(self) -> dict[str, Any]:
        assert self.svc.probe is not None
        await self.svc.probe.probe_once()
        return (await self.results())[0]

    async def closed_call(self, sip_call_id: str) -> dict[str, Any]:
        """The call as the service saw it on the HEP mirror, once it is over."""

        async def seen() -> dict[str, Any] | None:
            for call in await self.get("/api/calls"):
                if call["sip_call_id"] == sip_call_id and call["ended_at"] is not None:
                    return dict(call)
            return None

        found: dict[str, Any] = await eventually(seen)
        return found


StartService = Callable[[], Awaitable[Service]]


@pytest.fixture
async def start_service(
    kamailio: bench.KamailioProxy,
    hep_port: int,
    mosquitto: bench.MosquittoBroker,
    fresh_postgres_url: str,
) -> AsyncIterator[StartService]:
    """The service with [probe] enabled: its first probe goes out as it starts (start the
    hotline's phone first). The others are placed by the test, one at a time."""
    prefix = f"cc-{uuid.uuid4().hex[:8]}"  # retained alerts of other tests stay theirs
    settings = settings_for(
        fresh_postgres_url,
        sip={"hep_listen": f"127.0.0.1:{hep_port}"},
        rings={"cycle_seconds": CYCLE, "limit": 3},
        mqtt={"url": mosquitto.url, "topic_prefix": prefix},
        probe={
            "enabled": True,
            "registrar": kamailio.address,
            "username": PROBE_EXTENSION,
            "password": "not-checked-by-the-bench",
            "number": HOTLINE,
            "listen": "127.0.0.1:0",
            "rtp_ports": "31000-31099",
            "interval_seconds": 3600.0,
            "ring_limit_seconds": RING_LIMIT,
            "answer_limit_seconds": ANSWER_LIMIT,
            "hold_seconds": 0.3,
        },
    )
    runners: list[web.AppRunner] = []
    async with ClientSession() as http, aiomqtt.Client(mosquitto.host, mosquitto.port) as mqtt:
        await mqtt.subscribe(f"{prefix}/alerts/line", qos=1)
        alerts: list[dict[str, Any]] = []

        async def read() -> None:
            async for message in mqtt.messages:
                assert isinstance(message.payload, bytes)
                alerts.append(json.loads(message.payload))

        reader = asyncio.create_task(read())

        async def start() -> Service:
            # The agent and the lead exist before the service starts: its first probe
            # rings li.na's phone as it starts.
            engine = db.create_engine(settings.database_url)
            await db.upgrade(engine)
            clock = SystemClock()
            await auth_service.add_user(engine, clock, "li.na", "agent", "password1", "2001")
            await auth_service.add_user(engine, clock, "lead", "team_lead", "password1")
            token = await auth_service.create_token(engine, clock, "lead")
            await engine.dispose()
            app = build(settings, migrate=True)
            runner = web.AppRunner(app)
            await runner.setup()
            runners.append(runner)
            port = bench.free_tcp_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            svc = app[SERVICES]
            service = Service(
                svc, f"http://127.0.0.1:{port}", http, {"Authorization": f"Bearer {token}"}, alerts
            )
            # The probe at start: recorded once its call is over.
            await eventually(lambda: svc.probe is not None and svc.probe.probes >= 1, within=15)
            return service

        try:
            yield start
        finally:
            reader.cancel()
            for runner in runners:
                await runner.cleanup()


async def hotline(kamailio: bench.KamailioProxy, scenario: str, **variables: Any) -> Any:
    """The hotline's phone (the hunt group rings extension 2001) for one call."""
    uas = await bench.start_sipp(
        scenario,
        local_port=kamailio.agent_port(HOTLINE_EXTENSION),
        service=HOTLINE_EXTENSION,
        variables=variables,
        timeout_s=20,
    )
    await uas.wait_bound()
    return uas


async def test_line_up_rings_answers_and_hangs_up_through_the_proxy(
    start_service: StartService, kamailio: bench.KamailioProxy
) -> None:
    phone = await hotline(kamailio, "uas_answer.xml", answer_ms=300)
    service = await start_service()
    (result,) = await service.results()
    assert (result["outcome"], result["sip_status"], result["line"]) == ("answered", 200, "up")
    assert result["ring_seconds"] < 0.3 <= result["answer_seconds"] < ANSWER_LIMIT
    # The hotline's phone got the probe's ACK and BYE (pyVoIP's own never crossed the proxy).
    sipp = await phone.wait(10)
    assert sipp.ok, sipp.describe()
    assert [line.split()[1] for line in sipp.log_lines] == ["START", "ANSWERED", "HANGUP", "END"]
    assert service.alerts == []  # unknown → up raises nothing


async def test_the_probes_call_is_seen_on_the_mirror_and_never_counted(
    start_service: StartService, kamailio: bench.KamailioProxy
) -> None:
    await hotline(kamailio, "uas_no_answer.xml")
    service = await start_service()
    (result,) = await service.results()
    assert result["outcome"] == "no_answer"
    call = await service.closed_call(result["sip_call_id"])
    assert (call["caller"], call["direction"], call["agent"]) == (
        PROBE_EXTENSION,
        "outbound",
        "li.na",
    )
    assert call["legs"][0]["ring_seconds"] > 3 * CYCLE  # … past the ring limit …
    assert await service.get("/api/violations") == []  # … and nobody is blamed
    # A resident's call on the same line is counted: the figures are not simply empty.
    await bench.place_call(kamailio, HOTLINE_EXTENSION, answer_after_ms=200)
    stats = await eventually(lambda: _offered(service, 1))
    assert (stats["total"]["offered"], stats["total"]["answered"]) == (1, 1)


async def test_ringing_unanswered_takes_the_line_down_and_an_answer_brings_it_up(
    start_service: StartService, kamailio: bench.KamailioProxy
) -> None:
    phone = await hotline(kamailio, "uas_no_answer.xml")
    service = await start_service()
    (result,) = await service.results()
    assert (result["outcome"], result["sip_status"]) == ("no_answer", 487)
    assert result["ring_seconds"] < RING_LIMIT and result["answer_seconds"] is None
    assert (result["line"], result["alert"]) == ("down", "line_down")
    assert (await phone.wait(10)).ok  # the probe's CANCEL reached it
    (down,) = await eventually(lambda: service.alerts)
    assert (down["type"], down["number"], down["probe"]) == ("line_down", HOTLINE, PROBE_EXTENSION)
    assert (down["outcome"], down["sip_status"], down["result_id"]) == (
        "no_answer",
        487,
        result["id"],
    )
    assert down["since"] == result["started_at"] and down["failures"] == 1

    await hotline(kamailio, "uas_answer.xml", answer_ms=200)
    result = await service.probe_once()
    assert (result["outcome"], result["line"], result["alert"]) == ("answered", "up", "line_up")
    await eventually(lambda: len(service.alerts) == 2)
    up = service.alerts[1]
    assert (up["type"], up["since"], up["result_id"]) == ("line_up", down["since"], result["id"])
    assert up["down_seconds"] > 0


@pytest.mark.parametrize(
    ("code", "heard"),
    # A proxy never relays a 503 (RFC 3261 16.7): Kamailio turns the hotline's 503 into 500.
    [(486, 486), (503, 500)],
)
async def test_a_refusing_hotline_is_refused_with_the_status_the_probe_got(
    start_service: StartService, kamailio: bench.KamailioProxy, code: int, heard: int
) -> None:
    phone = await hotline(kamailio, "uas_reject.xml", reject_code=code, reject_after_ms=200)
    service = await start_service()
    (result,) = await service.results()
    assert (result["outcome"], result["sip_status"]) == ("refused", heard)
    assert result["ring_seconds"] is not None and result["answer_seconds"] is None
    assert (result["line"], result["alert"]) == ("down", "line_down")
    assert (await phone.wait(10)).ok
    (down,) = await eventually(lambda: service.alerts)
    assert (down["outcome"], down["sip_status"]) == ("refused", heard)
    # Refused again: the line stays down and nothing more is raised.
    await hotline(kamailio, "uas_reject.xml", reject_code=code, reject_after_ms=0)
    again = await service.probe_once()
    assert (again["outcome"], again["line"], again["alert"], again["failures"]) == (
        "refused", "down", None, 2,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # MQTT is asynchronous: a second alert would be here by now
    assert len(service.alerts) == 1


async def test_probe_once_on_the_command_line_prints_the_call(
    kamailio: bench.KamailioProxy, tmp_path: Path
) -> None:
    phone = await hotline(kamailio, "uas_answer.xml", answer_ms=200)
    (tmp_path / "cc.toml").write_text(
        f'[probe]\nregistrar = "{kamailio.address}"\nusername = "{PROBE_EXTENSION}"\n'
        f'number = "{HOTLINE}"\nrtp_ports = "31100-31119"\n'
    )
    env = {**os.environ, "CALLCENTER_PROBE_PASSWORD": "from-the-environment"}
    config = str(tmp_path / "cc.toml")
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcenter", "--config", config, "probe", "--once",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(done.communicate(), 30)
    assert done.returncode == 0, err.decode()
    printed = json.loads(out)
    assert (printed["outcome"], printed["sip_status"], printed["number"]) == (
        "answered",
        200,
        HOTLINE,
    )
    assert printed["ring_seconds"] < printed["answer_seconds"]
    assert "from-the-environment" not in (out + err).decode()
    assert (await phone.wait(10)).ok


async def _offered(service: Service, n: int) -> dict[str, Any] | None:
    stats: dict[str, Any] = await service.get("/api/stats/answers")
    return stats if stats["total"]["offered"] == n and stats["total"]["answered"] == n else None
