"""A service dying mid-transcription, on the real model: its transcription queue (the real
engine in its worker process) is killed with SIGKILL while a job runs — nothing is given
back — and the next service's queue finishes every recording, each with one transcript that
matches the clip. The queue's tests with a scripted worker are in tests/api/test_speech_queue.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import callcenter.app.resources as app_resources
from callcenter.app import SERVICES, build
from callcenter.clock import FakeClock
from callcenter.db import create_engine
from callcenter.recordings.service import Inbound
from callcenter.speech import engine, store, weights
from callcenter.speech.chars import character_error_rate
from callcenter.speech.queue import LEASE, TranscriptionQueue
from callcenter.speech.service import OFF, engine_transcriber
from tests.conftest import Hotline, settings_for
from tests.speech.test_engine import CLIPS, MAX_CER, clip
from tests.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
FIRST = "first-service"
# Three recordings: both clips as a PBX records them, and one again at 16 kHz (other bytes:
# another recording).
RECORDINGS = (
    ("BAC009S0764W0121", "8k"),
    ("BAC009S0764W0122", "8k"),
    ("BAC009S0764W0121", "16k"),
)


async def serve_transcripts(url: str, root: str) -> None:
    """The first service, reduced to its transcription queue on the real engine, until it is
    killed. Its clock is the test's (FakeClock's start), so the lease it takes ends a minute
    after the test's now."""
    transcribe, why = engine_transcriber(engine.CHUNK_SECONDS)
    assert transcribe is not None, why
    db = create_engine(url)
    await TranscriptionQueue(lambda: db, FakeClock(), Path(root), transcribe, name=FIRST).run()


SERVE = """
import asyncio, sys
from tests.speech.test_queue_restart import serve_transcripts
asyncio.run(serve_transcripts(sys.argv[1], sys.argv[2]))
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The weights assembled once for every worker process of the module (XDG_CACHE_HOME)."""
    home = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_CACHE_HOME", str(home))
        weights.prepare(weights.default_cache())
    return home


class FirstService:
    """The first service's process, in a process group of its own with its workers."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, url: str, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, url, str(root)],
            cwd=REPO,
            env=os.environ | {"XDG_CACHE_HOME": str(self.cache)},
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL to the group, as a machine losing power: nothing is given back."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def first_service(cache: Path) -> Iterator[FirstService]:
    service = FirstService(cache)
    yield service
    service.kill()  # whatever happened in the test


async def test_a_service_killed_mid_job_loses_nothing_and_transcribes_nothing_twice(
    sqlite_url: str,
    tmp_path: Path,
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    cache: Path,
    first_service: FirstService,
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))  # for the worker processes started here
    # The app stores and queues the recordings; the queues below are the services' workers.
    monkeypatch.setattr(app_resources, "engine_transcriber", lambda _chunk: (None, OFF))
    root = tmp_path / "rec"
    clock = FakeClock()
    settings = settings_for(sqlite_url, recordings={"root": str(root)}, speech={"enabled": "auto"})
    app = build(settings, clock=clock, migrate=True, mqtt=False, hep=False)
    h = Hotline(await aiohttp_client(app), app[SERVICES], clock)
    expected: dict[str, str] = {}
    for name, rate in RECORDINGS:
        path = clip(name, rate)
        stored = await h.svc.recording_service().add_file(path, Inbound("cli", "t", path.name))
        expected[stored.recording.id] = CLIPS[name]

    async def job(rid: str) -> store.Job:
        found = await h.svc.transcript_service().job(rid)
        assert found is not None
        return found

    async def running_in_first() -> str | None:
        for rid in expected:
            if (await job(rid)).claimed_by == FIRST:
                return rid
        return None

    first_service.start(sqlite_url, root)
    cut: str = await eventually(running_in_first, within=60)
    first_service.kill()
    left = await job(cut)
    assert (left.state, left.attempts, left.claimed_by) == ("running", 1, FIRST)

    transcribe, _ = engine_transcriber(engine.CHUNK_SECONDS)
    assert transcribe is not None
    second = TranscriptionQueue(h.svc.db, clock, root, transcribe, name="second")
    loop = asyncio.get_running_loop().create_task(second.run())
    try:
        others = [r for r in expected if r != cut]

        async def settled(rids: list[str]) -> bool:
            states = [(await job(r)).state for r in rids]
            return all(s not in ("queued", "running") for s in states)

        await eventually(lambda: settled(others), within=90)
        # Until its lease passes, the cut job is the dead service's: nobody takes it.
        assert (await job(cut)).claimed_by == FIRST
        clock.advance(LEASE.total_seconds() + 1)
        second.wake()
        await eventually(lambda: settled([cut]), within=60)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await second.close(grace=1)

    for rid, reference in expected.items():
        done = await job(rid)
        # The dead service's try counts: the cut job was tried twice, stored once.
        assert (done.state, done.attempts) == ("done", 2 if rid == cut else 1), done
        async with h.svc.db().connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(store.transcripts)
                .where(store.transcripts.c.recording_id == rid)
            )
            stored = await store.transcript(conn, rid)
        assert count == 1 and stored is not None
        assert character_error_rate(reference, stored.transcript.text) <= MAX_CER, stored
