"""The line probe inside the service, on a scripted phone: each probe recorded and listed, the
line going down and up on the live page exactly once each, a restart resuming the line, and
the probe's own calls kept out of the statistics and violations."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from callcenter.app import SERVICES, build
from callcenter.clock import FakeClock
from callcenter.errors import StartupError
from callcenter.probe.model import Heard
from callcenter.probe.settings import ProbeSettings
from tests.api.test_calls_api import Phone, get
from tests.conftest import Hotline, settings_for

PROBE = {
    "enabled": True,
    "registrar": "127.0.0.1:5060",
    "username": "8999",
    "number": "96069",
    "interval_seconds": 3600.0,  # the first probe at start; the tests place the others
}
ANSWERED = Heard(sip_call_id="p-ok", first_response=0.01, ring=0.2, answer=3.1, final_status=200)
NO_ANSWER = Heard(
    sip_call_id="p-na", first_response=0.01, ring=0.2, final_status=487, cancelled=True
)
BUSY = Heard(sip_call_id="p-busy", first_response=0.01, ring=0.2, final_status=486)

MakeHotline = Callable[..., Awaitable[Hotline]]


class ScriptedPhone:
    """Answers each probe call with the next Heard of the script."""

    def __init__(self, *script: Heard) -> None:
        self.script = list(script)
        self.placed = 0

    async def __call__(self, settings: ProbeSettings) -> Heard:
        assert settings.number == "96069"
        self.placed += 1
        return self.script.pop(0)


@pytest.fixture
def make_hotline(db_url: str, aiohttp_client: Any) -> MakeHotline:
    async def make(phone: ScriptedPhone, **sections: Any) -> Hotline:
        clock = FakeClock()
        settings = settings_for(db_url, probe=PROBE, **sections)
        app = build(settings, clock=clock, migrate=True, mqtt=False, hep=False, probe_call=phone)
        hotline = Hotline(await aiohttp_client(app), app[SERVICES], clock)
        await until(lambda: phone.placed >= 1 and probe(hotline).probes >= 1)
        return hotline

    return make


def probe(h: Hotline) -> Any:
    assert h.svc.probe is not None
    return h.svc.probe


async def until(done: Callable[[], bool]) -> None:
    for _ in range(500):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first probe never ran")


async def test_each_probe_is_recorded_with_its_timings_newest_first(
    make_hotline: MakeHotline,
) -> None:
    h = await make_hotline(ScriptedPhone(ANSWERED, NO_ANSWER, BUSY, ANSWERED))
    for _ in range(3):
        await probe(h).probe_once()
    lead = await h.token("lead", "team_lead")
    rows = await get(h, "/api/probe/results", lead)
    assert [r["outcome"] for r in rows] == ["answered", "refused", "no_answer", "answered"]
    assert [r["alert"] for r in rows] == ["line_up", None, "line_down", None]
    assert [r["line"] for r in rows] == ["up", "down", "down", "up"]
    assert [r["sip_status"] for r in rows] == [200, 486, 487, 200]
    first = rows[-1]
    assert (first["ring_seconds"], first["answer_seconds"], first["ok"]) == (0.2, 3.1, True)
    assert first["number"] == "96069" and first["sip_call_id"] == "p-ok"
    assert first["started_at"].endswith("Z")


async def test_results_are_paged_by_the_link_header(make_hotline: MakeHotline) -> None:
    h = await make_hotline(ScriptedPhone(ANSWERED, ANSWERED, ANSWERED))
    for _ in range(2):
        h.clock.advance(300)  # type: ignore[attr-defined]
        await probe(h).probe_once()
    lead = await h.token("lead", "supervisor")
    page = await h.client.get("/api/probe/results?limit=2", headers=lead)
    assert len(await page.json()) == 2
    rest = await h.client.get(page.links["next"]["url"].path_qs, headers=lead)
    assert len(await rest.json()) == 1
    bad = await h.client.get("/api/probe/results?cursor=eA", headers=lead)
    assert bad.status == 400 and (await bad.json())["field"] == "cursor"


async def test_only_leads_read_the_results(make_hotline: MakeHotline) -> None:
    h = await make_hotline(ScriptedPhone(ANSWERED))
    assert (await h.client.get("/api/probe/results")).status == 401
    agent = await h.token("li.na", "agent", "2001")
    assert (await h.client.get("/api/probe/results", headers=agent)).status == 403


async def test_the_live_page_hears_line_down_once_and_line_up(make_hotline: MakeHotline) -> None:
    h = await make_hotline(ScriptedPhone(ANSWERED, NO_ANSWER, BUSY, ANSWERED))
    agent = await h.token("li.na", "agent", "2001")
    ws = await h.client.ws_connect("/api/live", headers=agent)
    snapshot = await ws.receive_json(timeout=5)
    assert snapshot["line"]["state"] == "up" and snapshot["line"]["number"] == "96069"
    await probe(h).probe_once()
    down = await ws.receive_json(timeout=5)
    assert (down["type"], down["number"], down["outcome"]) == ("line_down", "96069", "no_answer")
    assert (down["probe"], down["failures"], down["sip_status"]) == ("8999", 1, 487)
    await probe(h).probe_once()  # still down: nothing more is said
    await probe(h).probe_once()
    up = await ws.receive_json(timeout=5)
    await ws.close()
    assert (up["type"], up["since"], up["outcome"]) == ("line_up", down["since"], "answered")
    assert up["down_seconds"] >= 0


async def test_a_page_opened_while_the_line_is_down_shows_it(make_hotline: MakeHotline) -> None:
    h = await make_hotline(ScriptedPhone(BUSY))
    agent = await h.token("li.na", "agent", "2001")
    ws = await h.client.ws_connect("/api/live", headers=agent)
    line = (await ws.receive_json(timeout=5))["line"]
    await ws.close()
    assert (line["state"], line["failures"]) == ("down", 1)
    assert line["last"]["outcome"] == "refused" and line["last"]["sip_status"] == 486


async def test_a_restart_neither_raises_line_down_again_nor_forgets_it(
    make_hotline: MakeHotline,
) -> None:
    first = await make_hotline(ScriptedPhone(NO_ANSWER))
    await first.client.close()
    second = await make_hotline(ScriptedPhone(NO_ANSWER, ANSWERED))
    await probe(second).probe_once()
    lead = await second.token("lead", "team_lead")
    rows = await get(second, "/api/probe/results", lead)
    assert [r["alert"] for r in rows] == ["line_up", None, "line_down"]
    assert [r["failures"] for r in rows] == [0, 2, 1]


async def test_health_tells_the_line_as_the_probe_saw_it(make_hotline: MakeHotline) -> None:
    h = await make_hotline(ScriptedPhone(BUSY))
    admin = await h.token("root", "admin")
    body = await (await h.client.get("/api/health", headers=admin)).json()
    assert (body["probe"]["line"], body["probe"]["last_outcome"]) == ("down", "refused")
    assert body["status"] == "ok"  # the hotline is down, not this service


async def test_the_probes_own_call_is_kept_but_never_counted_or_blamed(
    make_hotline: MakeHotline,
) -> None:
    h = await make_hotline(ScriptedPhone(ANSWERED), rings={"cycle_seconds": 1.0, "limit": 3})
    await h.add_user("li.na", "agent", "2001")
    lead = await h.token("lead", "team_lead")
    probe_call = Phone(h, "probe-call", caller="8999")
    probe_call.ring()
    probe_call.after(20)  # far past the ring limit, then the probe gives up
    probe_call.ring_out()
    resident = Phone(h, "resident-call")
    resident.ring()
    resident.after(2)
    resident.answer()
    calls = {c["sip_call_id"]: c for c in await get(h, "/api/calls", lead)}
    assert calls["probe-call"]["direction"] == "outbound"
    assert calls["resident-call"]["direction"] == "inbound"
    assert await get(h, "/api/violations", lead) == []
    stats = await get(h, "/api/stats/answers", lead)
    assert (stats["total"]["offered"], stats["total"]["answered"]) == (1, 1)


async def test_probe_enabled_without_pyvoip_stops_start_up_naming_the_key(
    db_url: str, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyVoIP" else real(name, *a)
    )
    app = build(settings_for(db_url, probe=PROBE), migrate=True, mqtt=False, hep=False)
    with pytest.raises(StartupError, match=r"probe\.enabled: .*callcenter\[probe\]"):
        await aiohttp_client(app)
