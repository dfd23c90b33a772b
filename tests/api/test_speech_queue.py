"""The transcription queue on SQLite and PostgreSQL: every recording queued once, worked by a
real process pool, each outcome stored with its reason, a dead worker process replaced, a
restart losing nothing and doing nothing twice; the transcript route's access rule and audit
log, the said= search, the [speech] settings and `callcenter speech backfill`.

The worker processes run tests/speech_helpers.scripted, not the model: these tests are about
the queue, whatever the engine hears (the engine's tests run the real model)."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callcenter.clock import FakeClock
from callcenter.config import parse_settings
from callcenter.errors import ConfigError, StartupError
from callcenter.recordings.model import Recording
from callcenter.recordings.service import Inbound
from callcenter.recordings.store import audit as audit_table
from callcenter.speech import store
from callcenter.speech.model import Char
from callcenter.speech.queue import TranscriptionQueue
from callcenter.speech.said import SNIPPET_AROUND, first_said
from tests.api.test_recordings_api import answered_call
from tests.audio import audio
from tests.conftest import Hotline
from tests.speech_helpers import scripted, tone
from tests.waiting import eventually

Make = Any


async def add(h: Hotline, path: Path, call: str | None = None) -> Recording:
    stored = await h.svc.recording_service().add_file(path, Inbound("cli", "t", path.name, call))
    return stored.recording


async def job_of(h: Hotline, recording_id: str) -> store.Job | None:
    return await h.svc.transcript_service().job(recording_id)


async def settled(h: Hotline, recording_id: str) -> store.Job:
    async def finished() -> store.Job | None:
        job = await job_of(h, recording_id)
        return job if job is not None and job.state in ("done", "skipped", "failed") else None

    job: store.Job = await eventually(finished, within=30)
    return job


async def transcripts_of(h: Hotline, recording_id: str) -> int:
    async with h.svc.db().connect() as conn:
        stmt = select(func.count()).select_from(store.transcripts)
        return int(
            (
                await conn.execute(stmt.where(store.transcripts.c.recording_id == recording_id))
            ).scalar_one()
        )


async def audit_entries(h: Hotline, action: str) -> list[tuple[str | None, str, str]]:
    async with h.svc.db().connect() as conn:
        rows = await conn.execute(
            select(audit_table.c.recording_id, audit_table.c.actor, audit_table.c.detail)
            .where(audit_table.c.action == action)
            .order_by(audit_table.c.seq)
        )
        return [(r.recording_id, r.actor, r.detail) for r in rows]


# -- queueing ---------------------------------------------------------------------------------
async def test_a_recording_added_twice_is_one_queued_job(
    speech_hotline: Make, tmp_path: Path
) -> None:
    h = await speech_hotline()
    path, _ = tone(tmp_path, 440)
    rec = await add(h, path)
    again = await add(h, path)  # the same bytes: the stored recording answers
    assert again.id == rec.id
    assert await h.svc.transcript_service().enqueue(rec.id, empty=False) is False
    async with h.svc.db().connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(store.jobs))).scalar_one()
    job = await job_of(h, rec.id)
    assert count == 1 and job is not None and (job.state, job.attempts) == ("queued", 0)


async def test_without_the_extra_recordings_wait_and_health_says_transcription_is_off(
    speech_hotline: Make, tmp_path: Path
) -> None:
    h = await speech_hotline()
    rec = await add(h, tone(tmp_path, 500)[0])
    lead = await h.token("lead", "team_lead")
    health = await (await h.client.get("/api/health", headers=lead)).json()
    assert health["speech"] == {
        "enabled": False,
        "message": "transcription off: install callcenter[speech]",
    }
    missing = await h.client.get(f"/api/recordings/{rec.id}/transcript", headers=lead)
    body = await missing.json()
    assert missing.status == 404 and body["error"] == "no-transcript"
    assert body["state"] == "queued" and body["job"]["attempts"] == 0


async def test_an_empty_recording_is_skipped_at_once_as_no_speech(speech_hotline: Make) -> None:
    h = await speech_hotline()
    rec = await add(h, audio().silent)
    job = await job_of(h, rec.id)
    assert job is not None and job.state == "skipped" and job.finished_at is not None
    assert job.reason is not None and job.reason.startswith("no-speech: ")


async def test_with_speech_off_nothing_is_queued(speech_hotline: Make, tmp_path: Path) -> None:
    h = await speech_hotline(enabled="off")
    rec = await add(h, tone(tmp_path, 550)[0])
    assert await job_of(h, rec.id) is None


# -- the worker -------------------------------------------------------------------------------
async def test_the_worker_stores_the_transcript_at_a_lower_cpu_priority(
    speech_hotline: Make, tmp_path: Path
) -> None:
    path, sha = tone(tmp_path, 600)
    h = await speech_hotline({sha: ("text", "暖气漏水了")}, nice=7)
    rec = await add(h, path)
    job = await settled(h, rec.id)
    assert (job.state, job.attempts, job.reason, job.language) == ("done", 1, None, "zh")
    lead = await h.token("lead", "team_lead")
    response = await h.client.get(f"/api/recordings/{rec.id}/transcript", headers=lead)
    body = await response.json()
    assert response.status == 200 and body["text"] == "暖气漏水了"
    assert body["chars"][0] == ["暖", 0.5, 0.7] and len(body["chars"]) == 5
    assert (body["language"], body["model_sha256"]) == ("zh", "5" * 64)
    # The worker ran 7 steps below this process (os.nice is capped at 19), in SCHED_IDLE.
    assert body["model"] == f"scripted (nice {min(os.nice(0) + 7, 19)}, idle)"
    assert body["job"]["state"] == "done"
    # A recording of no call is listened to as an intake: nothing of the script was heard.
    findings = body["findings"]
    assert findings["sheet"] == "intake" and findings["items"]
    assert all(i["found"] is None for i in findings["items"])
    assert await transcripts_of(h, rec.id) == 1


async def test_skipped_failed_and_raising_jobs_keep_their_reasons_and_the_loop_goes_on(
    speech_hotline: Make, tmp_path: Path
) -> None:
    (spanish, s1), (corrupt, s2), (buggy, s3), (fine, s4) = (
        tone(tmp_path, hz) for hz in (700, 710, 720, 730)
    )
    h = await speech_hotline(
        {
            s1: ("skip", "not-mandarin", "es"),
            s2: ("fail", "corrupt-audio"),
            s3: ("raise", "index out of range"),
            s4: ("text", "好的"),
        }
    )
    jobs = [await settled(h, (await add(h, p)).id) for p in (spanish, corrupt, buggy, fine)]
    assert [(j.state, j.reason, j.language) for j in jobs] == [
        ("skipped", "not-mandarin: scripted", "es"),
        ("failed", "corrupt-audio: scripted", None),
        ("failed", "error: ValueError: index out of range", None),
        ("done", None, "zh"),
    ]
    assert h.svc.speech_queue is not None and h.svc.speech_queue.stats.pool_restarts == 0


async def test_a_dying_worker_process_is_replaced_its_job_retried_once_then_failed(
    speech_hotline: Make, tmp_path: Path
) -> None:
    (crashing, s1), (after, s2) = tone(tmp_path, 800), tone(tmp_path, 810)
    h = await speech_hotline({s1: ("exit",), s2: ("text", "再见")})
    job = await settled(h, (await add(h, crashing)).id)
    assert (job.state, job.attempts) == ("failed", 2)
    assert job.reason is not None and job.reason.startswith("worker-died: ")
    queue = h.svc.speech_queue
    assert queue is not None and (queue.stats.retried, queue.stats.pool_restarts) == (1, 2)
    # The loop lived through it: the next recording is transcribed by a new process.
    later = await settled(h, (await add(h, after)).id)
    assert later.state == "done"


async def test_a_job_left_running_by_a_dead_service_is_taken_again_after_its_lease_once(
    speech_hotline: Make, tmp_path: Path
) -> None:
    path, sha = tone(tmp_path, 900)
    first = await speech_hotline()
    rec = await add(first, path)
    clock: FakeClock = first.clock  # type: ignore[assignment]
    # The first service's worker claimed it, then the service died (no one gives it back).
    async with first.svc.db().begin() as conn:
        assert await store.claim(
            conn, rec.id, "dead-host:1:x", clock.now(), clock.now() + timedelta(seconds=60)
        )
    await first.client.close()
    second = await speech_hotline(
        {sha: ("text", "您好")}
    )  # the restart: a new service, same database
    queue = second.svc.speech_queue
    assert queue is not None
    held = await job_of(second, rec.id)
    assert held is not None and (held.state, held.claimed_by) == ("running", "dead-host:1:x")
    clock.advance(61)  # the lease passes
    queue.wake()
    job = await settled(second, rec.id)
    assert (job.state, job.attempts) == ("done", 2)
    # The dead worker's late answer is refused: the job is not its own any more.
    async with second.svc.db().begin() as conn:
        assert not await store.finish(conn, rec.id, "dead-host:1:x", clock.now(), "done")
    assert await transcripts_of(second, rec.id) == 1


async def test_shutdown_gives_an_unfinished_job_back_to_the_queue(
    speech_hotline: Make, tmp_path: Path
) -> None:
    path, sha = tone(tmp_path, 950)
    h = await speech_hotline()  # no worker of its own: the queue below is driven by hand
    rec = await add(h, path)
    queue = TranscriptionQueue(
        h.svc.db, h.clock, tmp_path / "rec", functools.partial(scripted, {sha: ("sleep", "60")})
    )
    loop_task = asyncio.get_running_loop().create_task(queue.run())

    async def running() -> bool:
        job = await job_of(h, rec.id)
        return job is not None and job.state == "running"

    await eventually(running, within=30)
    loop_task.cancel()
    await asyncio.gather(loop_task, return_exceptions=True)
    await queue.close(grace=0.2)
    job = await job_of(h, rec.id)
    assert job is not None and (job.state, job.attempts, job.claimed_by) == ("queued", 0, None)
    assert await transcripts_of(h, rec.id) == 0


# -- reading and searching --------------------------------------------------------------------
async def test_who_may_hear_a_recording_may_read_its_transcript_and_each_read_is_audited(
    speech_hotline: Make, tmp_path: Path
) -> None:
    path, sha = tone(tmp_path, 1000)
    h = await speech_hotline({sha: ("text", "请问您家地址")})
    li, wang = await h.token("li.na", "agent", "2001"), await h.token("wang.wei", "agent", "2002")
    lead = await h.token("lead", "team_lead")
    rec = await add(h, path, await answered_call(h, "sip-tr-1", "2001"))
    await settled(h, rec.id)
    url = f"/api/recordings/{rec.id}/transcript"
    assert (await h.client.get(url, headers=li)).status == 200
    refused = await h.client.get(url, headers=wang)
    assert refused.status == 403 and (await refused.json())["error"] == "not-your-recording"
    assert (await h.client.get(url, headers=lead)).status == 200
    station = await h.token("station1", "station")
    assert (await h.client.get(url, headers=station)).status == 403
    unknown = await h.client.get("/api/recordings/nope/transcript", headers=lead)
    assert unknown.status == 404 and (await unknown.json())["error"] == "no-such-recording"
    reads = await audit_entries(h, "transcript")
    assert [(r, who) for r, who, _ in reads] == [(rec.id, "li.na"), (rec.id, "lead")]


async def test_said_finds_recordings_by_their_words_for_those_who_may_search(
    speech_hotline: Make, tmp_path: Path
) -> None:
    (a, s1), (b, s2), (c, s3) = (tone(tmp_path, hz) for hz in (1100, 1110, 1120))
    h = await speech_hotline(
        {s1: ("text", "我家暖气漏水了"), s2: ("text", "屋里不热"), s3: ("text", "漏水50%了")}
    )
    ids = []
    for p in (a, b, c):
        ids.append((await add(h, p)).id)
        await settled(h, ids[-1])
        h.clock.advance(1)  # type: ignore[attr-defined]
    qa = await h.token("qa", "qa_lead")
    found = await (await h.client.get("/api/recordings?said=漏水", headers=qa)).json()
    assert [r["id"] for r in found] == [ids[2], ids[0]]  # newest first
    for role in ("supervisor", "admin"):
        who = await h.token(f"{role}1", role)
        response = await h.client.get("/api/recordings?said=不热", headers=who)
        assert [r["id"] for r in await response.json()] == [ids[1]]
    # LIKE's wildcards are the characters themselves: "%" matches only a "%" said.
    percent = await (await h.client.get("/api/recordings?said=50%25", headers=qa)).json()
    assert [r["id"] for r in percent] == [ids[2]]
    for role in ("team_lead", "agent"):
        who = await h.token(f"{role}2", role, "2009" if role == "agent" else None)
        assert (await h.client.get("/api/recordings?said=漏水", headers=who)).status == 403
    mixed = await h.client.get("/api/recordings?said=漏水&unlinked=true", headers=qa)
    assert mixed.status == 400 and (await mixed.json())["field"] == "said"
    searches = await audit_entries(h, "search")
    assert searches[0] == (None, "qa", "said=漏水 found=2")
    assert len(searches) == 4  # the three allowed searches and the percent one


async def test_said_names_where_the_words_were_first_said_and_who_answered(
    speech_hotline: Make, tmp_path: Path
) -> None:
    """A supervisor goes straight to the words: the second they were first said (the
    scripted transcript says a character every quarter second from 0.5 s), the words around
    them, how often, and the agent whose phone answered; a recording with no call has none."""
    (a, s1), (b, s2) = tone(tmp_path, 1200), tone(tmp_path, 1210)
    said = "您好请问漏水在哪里楼上也漏水了"
    h = await speech_hotline({s1: ("text", said), s2: ("text", "漏水")})
    await h.add_user("li.na", "agent", "2001")
    answered = await add(h, a, await answered_call(h, "sip-said-1", "2001"))
    await settled(h, answered.id)
    h.clock.advance(1)  # type: ignore[attr-defined]
    no_call = await add(h, b)
    await settled(h, no_call.id)
    boss = await h.token("boss", "supervisor")
    found = await (await h.client.get("/api/recordings?said=漏水", headers=boss)).json()
    assert [r["id"] for r in found] == [no_call.id, answered.id]
    first, second = found[1], found[0]
    assert first["agent"] == {"name": "li.na", "work_number": None}
    assert first["said"] == {
        "at": pytest.approx(0.5 + 4 * 0.25),
        "end": pytest.approx(0.7 + 5 * 0.25),
        "snippet": said,  # shorter than the context either side: all of it, no ellipsis
        "count": 2,
    }
    assert second["agent"] is None and second["said"]["at"] == pytest.approx(0.5)
    assert first["audio_url"] == f"/api/recordings/{answered.id}/audio"  # a recording still


def test_a_long_transcript_is_cut_to_the_words_and_a_clause_either_side() -> None:
    text = "一二三四五六七八九十" * 3 + "暖气漏水" + "甲乙丙丁戊己庚辛壬癸" * 3
    chars = [Char(c, i * 0.1, i * 0.1 + 0.1) for i, c in enumerate(text)]
    start, end, snippet, count = first_said(text, chars, "漏水")
    assert (start, end, count) == (pytest.approx(3.2), pytest.approx(3.4), 1)
    assert snippet == "…" + text[32 - SNIPPET_AROUND : 34 + SNIPPET_AROUND] + "…"


def test_words_inside_a_several_letter_character_are_placed_on_it() -> None:
    chars = [Char("连", 1.0, 1.2), Char("WiFi", 1.2, 1.8), Char("了", 1.8, 2.0)]
    start, end, _snippet, count = first_said("连WiFi了", chars, "wifi")
    assert (start, end, count) == (1.2, 1.8, 1)


# -- settings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"enabled": "yes"}, "speech.enabled"),
        ({"workers": 0}, "speech.workers"),
        ({"workers": True}, "speech.workers"),
        ({"nice": 20}, "speech.nice"),
        ({"nice": -1}, "speech.nice"),
        ({"idle": "yes"}, "speech.idle"),
        ({"chunk_seconds": 5}, "speech.chunk_seconds"),
        ({"pinyin_tolerance": 1.0}, "speech.pinyin_tolerance"),
        ({"pinyin_tolerance": "0.2"}, "speech.pinyin_tolerance"),
        ({"model": "large"}, "speech.model"),
    ],
)
def test_a_bad_speech_setting_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"speech": raw})
    assert err.value.key == key


def test_speech_settings_read_true_as_required_and_false_as_off() -> None:
    assert parse_settings({"speech": {"enabled": True}}).speech.enabled == "required"
    assert parse_settings({"speech": {"enabled": False}}).speech.enabled == "off"
    default = parse_settings({}).speech
    assert (default.enabled, default.workers, default.nice, default.pinyin_tolerance) == (
        "auto",
        1,
        10,
        0.2,
    )
    assert default.idle is True


async def test_speech_required_without_the_extra_stops_start_up_naming_the_key(
    speech_hotline: Make,
) -> None:
    with pytest.raises(StartupError, match=r"^speech\.enabled: true, but transcription off"):
        await speech_hotline(enabled=True)


# -- the command line -------------------------------------------------------------------------
def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "--config", "cc.toml", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_backfill_queues_the_stored_recordings_that_have_no_job_and_says_how_many(
    db_url: str, tmp_path: Path
) -> None:
    def configure(enabled: str) -> None:
        (tmp_path / "cc.toml").write_text(
            f'[database]\nurl = "{db_url}"\n[recordings]\nroot = "{tmp_path}/rec"\n'
            f'[speech]\nenabled = "{enabled}"\n'
        )

    configure("off")
    assert cli(tmp_path, "db", "upgrade").returncode == 0
    for path in (tone(tmp_path, 1200)[0], audio().silent):
        assert cli(tmp_path, "recording", "add", str(path)).returncode == 0
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    span = ["--from", str(today - timedelta(days=1)), "--to", str(today + timedelta(days=1))]
    first = cli(tmp_path, "speech", "backfill", *span)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("queued 1 recordings of ")
    assert "1 empty ones recorded as skipped" in first.stdout
    assert 'speech.enabled is "off"' in first.stderr
    again = cli(tmp_path, "speech", "backfill", *span)
    assert again.stdout.startswith("queued 0 recordings")
    earlier = cli(tmp_path, "speech", "backfill", "--from", "2020-01-01", "--to", "2020-01-31")
    assert earlier.stdout.startswith("queued 0 recordings")
    # With transcription on, `recording add` (MixMonitor's post-command) queues by itself.
    configure("auto")
    assert cli(tmp_path, "recording", "add", str(tone(tmp_path, 1210)[0])).returncode == 0
    assert cli(tmp_path, "speech", "backfill", *span).stdout.startswith("queued 0 recordings")
    backwards = cli(tmp_path, "speech", "backfill", "--from", str(today), "--to", "2020-01-01")
    assert backwards.returncode == 2 and "is before --from" in backwards.stderr
