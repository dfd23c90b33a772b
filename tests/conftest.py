"""Shared fixtures: settings on a temporary database, and the real app behind a test client."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import callcenter.app.resources as app_resources
from callcenter.app import SERVICES, Services, build
from callcenter.auth import service as auth_service
from callcenter.clock import Clock, FakeClock
from callcenter.config import Settings, parse_settings
from callcenter.speech.service import OFF
from tests.integration import bench
from tests.speech_helpers import Script, scripted

PASSWORD = "correct horse battery"


def settings_for(db_url: str, **sections: Any) -> Settings:
    raw: dict[str, Any] = {
        "database": {
            "url": db_url,
            "spill_dir": tempfile.mkdtemp(prefix="cc-spill-"),
            "shutdown_flush_seconds": 1.0,
        },
        "sip": {"hep_listen": "127.0.0.1:0"},
        "rings": {"cycle_seconds": 5.0, "limit": 3},
        # Never the repository's recordings/: an upload in a test lands in a temporary store.
        "recordings": {"root": tempfile.mkdtemp(prefix="cc-rec-")},
        # With callcenter[speech] installed every recording a test stores would be
        # transcribed by the real model; the speech tests turn it on themselves.
        "speech": {"enabled": "off"},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return parse_settings(raw)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/callcenter.sqlite3"


# A throw-away PostgreSQL cluster for the whole run (it refuses to run as root: the bench
# starts it as the postgres user); each test that asks gets a fresh database.
@pytest.fixture(scope="session")
def postgres() -> Iterator[bench.PostgresCluster]:
    cluster = bench.PostgresCluster()
    try:
        cluster.start()
        cluster.create_database("callcenter_test")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres: bench.PostgresCluster) -> str:
    return postgres.url("callcenter_test")


@pytest.fixture
def fresh_postgres_url(postgres: bench.PostgresCluster) -> Iterator[str]:
    name = postgres.create_database()
    try:
        yield postgres.url(name)
    finally:
        postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every API test runs on both engines the service supports."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/callcenter.sqlite3"
    return str(request.getfixturevalue("fresh_postgres_url"))


@dataclass
class Hotline:
    """The running app, its services and helpers to log people in."""

    client: TestClient
    svc: Services
    clock: Clock

    async def add_user(self, name: str, role: str, extension: str | None = None) -> None:
        # A station's account acts for one station: the sample book's first, unless named.
        station = "hongcheng" if role == "station" else None
        await auth_service.add_user(
            self.svc.db(), self.clock, name, role, PASSWORD, extension=extension, station=station
        )
        await self.svc.directory.reload(self.svc.db())

    async def token(self, name: str, role: str, extension: str | None = None) -> dict[str, str]:
        await self.add_user(name, role, extension)
        token = await auth_service.create_token(self.svc.db(), self.clock, name)
        return {"Authorization": f"Bearer {token}"}


HotlineFactory = Callable[..., Any]


@pytest.fixture
def hotline_factory(db_url: str, aiohttp_client: Any) -> HotlineFactory:
    # db_url first: the database outlives the apps built on it, so their shutdown can save.
    async def make(
        db_url: str, clock: Clock | None = None, hep: bool = False, **sections: Any
    ) -> Hotline:
        clock = clock or FakeClock()
        app = build(
            settings_for(db_url, **sections), clock=clock, migrate=True, mqtt=False, hep=hep
        )
        client = await aiohttp_client(app)
        return Hotline(client, app[SERVICES], clock)

    return make


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str) -> AsyncIterator[Hotline]:
    yield await hotline_factory(db_url)


@pytest.fixture
def speech_hotline(
    db_url: str, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    """A service on the test's database and recordings store with transcription on: with a
    script (tests/speech_helpers), its workers run it; without, it is a machine without
    callcenter[speech] (whatever this one has)."""
    clock = FakeClock()

    async def make(script: Script | None = None, **speech: Any) -> Hotline:
        if script is None:
            monkeypatch.setattr(app_resources, "engine_transcriber", lambda _chunk: (None, OFF))
        settings = settings_for(
            db_url, recordings={"root": str(tmp_path / "rec")}, speech={"enabled": "auto", **speech}
        )
        app = build(
            settings,
            clock=clock,
            migrate=True,
            mqtt=False,
            hep=False,
            transcribe=functools.partial(scripted, script) if script is not None else None,
        )
        return Hotline(await aiohttp_client(app), app[SERVICES], clock)

    return make
