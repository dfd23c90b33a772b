"""The HTTP source of the outdoor temperature against a small weather endpoint of the test's
own: a good answer counts; a 500, a timeout or a refused connection keep the last good reading
until it is stale, then the temperature is unknown; nonsense is refused at once. What the
pages see (/api/temperature, health, each priority) always says which."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from callcenter.clock import FakeClock
from tests.api.test_tickets_api import person, take
from tests.conftest import Hotline, HotlineFactory
from tests.integration.bench.processes import free_tcp_port
from tests.waiting import eventually

SECRET = "APPKEY-do-not-log-me"
STALE_MINUTES = 10


class Weather:
    """A weather endpoint whose answer the test sets: a body, a status, or a stall."""

    def __init__(self) -> None:
        self.status = 200
        self.body = '{"celsius": -9.5}'
        self.stall = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        assert request.query.get("key") == SECRET  # the service sends the URL as configured
        if self.stall:
            await asyncio.sleep(self.stall)
        return web.Response(status=self.status, text=self.body, content_type="application/json")


@contextlib.asynccontextmanager
async def serving(weather: Weather, port: int) -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_get("/now", weather.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def service(factory: HotlineFactory, db_url: str, port: int) -> Hotline:
    h: Hotline = await factory(
        db_url,
        priority={
            "temperature_source": "http",
            "http_url": f"http://127.0.0.1:{port}/now?key={SECRET}",
            "http_interval_seconds": 0.1,
            "http_timeout_seconds": 0.5,
            "stale_after_minutes": STALE_MINUTES,
        },
    )
    return h


async def temperature(h: Hotline, who: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = await (await h.client.get("/api/temperature", headers=who)).json()
    return body


async def when(h: Hotline, who: dict[str, str], check: Callable[[Any], Any]) -> dict[str, Any]:
    """/api/temperature once `check(body)` holds (the source is polled every 0.1 s)."""

    async def ready() -> dict[str, Any] | None:
        body = await temperature(h, who)
        return body if check(body) else None

    found: dict[str, Any] = await eventually(ready, within=10)
    return found


def error_code(body: dict[str, Any]) -> str | None:
    return (body["last_error"] or {}).get("code")


def refused(words: str) -> Callable[[Any], bool]:
    return lambda body: body["state"] == "invalid" and words in body["reason"]


def go_stale(h: Hotline) -> None:
    assert isinstance(h.clock, FakeClock)
    h.clock.advance(STALE_MINUTES * 60 + 1)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_good_answer_counts_and_a_500_counts_until_the_reading_is_stale(
    hotline_factory: HotlineFactory, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    weather, port = Weather(), free_tcp_port()
    async with serving(weather, port):
        h = await service(hotline_factory, db_url, port)
        agent = await person(h, "li.na", "agent", "2001", "007")
        now = await when(h, agent, lambda b: b["state"] == "ok")
        assert (now["celsius"], now["where"]) == (-9.5, f"http://127.0.0.1:{port}/now")
        ticket = await take(h, agent, category="ice_cold")
        assert ticket["priority"]["temperature"] == "ok"

        weather.status, weather.body = 500, "upstream down"
        now = await when(h, agent, lambda b: error_code(b) == "http-status")
        # Down is not nonsense: the last good reading still counts, until it is stale.
        assert (now["state"], now["celsius"]) == ("ok", -9.5)
        go_stale(h)
        now = await temperature(h, agent)
        assert (now["state"], now["celsius"]) == ("stale", None)
        assert "answered HTTP 500" in now["reason"]
        assert now["last_good"]["celsius"] == -9.5
        again = await (await h.client.get(f"/api/tickets/{ticket['id']}", headers=agent)).json()
        assert again["priority"]["temperature"] == "unknown"
        assert again["priority"]["outdoor"] == {"state": "stale", "celsius": None}

        weather.status, weather.body = 200, '{"celsius": -11}'
        now = await when(h, agent, lambda b: b["state"] == "ok" and b["celsius"] == -11)
    assert SECRET not in caplog.text and SECRET not in str(now)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_source_that_does_not_answer_in_time_or_at_all_goes_stale(
    hotline_factory: HotlineFactory, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    weather, port = Weather(), free_tcp_port()
    async with serving(weather, port):
        h = await service(hotline_factory, db_url, port)
        agent = await person(h, "li.na", "agent", "2001", "007")
        await when(h, agent, lambda b: b["state"] == "ok")
        weather.stall = 2.0
        now = await when(h, agent, lambda b: error_code(b) == "timeout")
        assert now["state"] == "ok"
        weather.stall = 0.0
    # The endpoint is gone: the connection is refused.
    now = await when(h, agent, lambda b: error_code(b) == "unreachable")
    go_stale(h)
    now = await temperature(h, agent)
    assert now["state"] == "stale" and now["counts"]["failures"] >= 2
    lead = await h.token("lead", "team_lead")
    health = await (await h.client.get("/api/health", headers=lead)).json()
    # Shown, but the hotline is not "degraded" for its weather feed.
    assert (health["status"], health["temperature"]["state"]) == ("ok", "stale")
    assert SECRET not in caplog.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_nonsense_from_the_source_is_refused_at_once_and_shown(
    hotline_factory: HotlineFactory, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="callcenter.priority.service")
    weather, port = Weather(), free_tcp_port()
    async with serving(weather, port):
        h = await service(hotline_factory, db_url, port)
        agent = await person(h, "li.na", "agent", "2001", "007")
        await when(h, agent, lambda b: b["state"] == "ok")
        for body, code, words in (
            ('{"celsius": -80}', "implausible", "-80 °C is outside -50…45 °C"),
            ("abc", "not-a-number", "not a number or JSON: 'abc'"),
            ('{"temp": -5}', "not-a-number", "no number at 'celsius'"),
        ):
            weather.body = body
            now = await when(h, agent, refused(words))
            assert now["last_error"]["code"] == code and now["counts"]["invalid"][code] >= 1
            assert (now["state"], now["celsius"]) == ("invalid", None)
            ticket = await take(h, agent, category="ice_cold")
            assert ticket["priority"]["temperature"] == "unknown"
            assert ticket["priority"]["outdoor"]["state"] == "invalid"
        assert now["last_good"]["celsius"] == -9.5
    assert "reason=implausible" in caplog.text and "reason=not-a-number" in caplog.text
