"""Spot-check samples (录音抽查) on SQLite and PostgreSQL, from calls and recordings made
through the real services: a team lead's day holds daily_per_agent of each agent's
recordings, drawing it again gives it back, each reviewer draws on their own, a recording
never comes back to a reviewer, empty ones never come, a callback's call gets the callback
sheet; the command prints the draw, coverage counts it, and the service draws at the hour."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import wave
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callcenter import signals as t
from callcenter.auth import store as auth_store
from callcenter.calls.model import new_id
from callcenter.calls.store import calls
from callcenter.clock import FakeClock
from callcenter.qa.model import Evaluation
from callcenter.qa.store import evaluation_row, qa_evaluations, qa_samples
from tests.api.test_callbacks_api import SATISFIED, due_list
from tests.api.test_recordings_api import answered_call, stored
from tests.api.test_tickets_api import take
from tests.audio import audio
from tests.conftest import Hotline, HotlineFactory
from tests.waiting import eventually

DAY = "2026-11-23"  # the FakeClock starts at 09:00 on this day (Asia/Shanghai), a Monday
AFTER_DAY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 01:00 the next day: the day is over


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str, tmp_path: Path) -> Hotline:
    h: Hotline = await hotline_factory(
        db_url, recordings={"root": str(tmp_path / "rec")}, qa={"daily_per_agent": 2}
    )
    return h


def variant(source: Path, n: int, folder: Path) -> Path:
    """A distinct recording (its own SHA-256): `source` with n more silent frames."""
    with wave.open(str(source), "rb") as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    target = folder / f"{source.stem}-{n}.wav"
    with wave.open(str(target), "wb") as w:
        w.setparams(params)
        w.writeframes(frames + b"\x00" * params.sampwidth * (n + 1))
    return target


class Calls:
    """Answered calls with one recording each, numbered so every file differs."""

    def __init__(self, h: Hotline, folder: Path) -> None:
        self.h, self.folder, self.n = h, folder, 0

    async def recorded(self, extension: str, empty: bool = False) -> dict[str, str]:
        self.n += 1
        call = await answered_call(self.h, f"sip-qa-{self.n}", extension)
        source = audio().silent if empty else audio().pcm
        rec = await stored(self.h, variant(source, self.n, self.folder), call)
        return {"call": call, "recording": rec["id"]}


async def post(h: Hotline, path: str, who: dict[str, str], body: Any, status: int = 200) -> Any:
    response = await h.client.post(path, json=body, headers=who)
    assert response.status == status, await response.text()
    return await response.json()


async def get(h: Hotline, path: str, who: dict[str, str], status: int = 200) -> Any:
    response = await h.client.get(path, headers=who)
    assert response.status == status, await response.text()
    return await response.json()


def over(h: Hotline, until: datetime = AFTER_DAY) -> None:
    clock: FakeClock = h.clock  # type: ignore[assignment]
    clock.advance((until - clock.now()).total_seconds())


async def two_agents_three_calls_each(h: Hotline, tmp_path: Path) -> dict[str, list[str]]:
    await h.token("li.na", "agent", "2001")
    await h.token("wang.wei", "agent", "2002")
    made = Calls(h, tmp_path)
    out: dict[str, list[str]] = {"li.na": [], "wang.wei": []}
    for _ in range(3):
        for name, ext in (("li.na", "2001"), ("wang.wei", "2002")):
            out[name].append((await made.recorded(ext))["recording"])
    return out


async def test_a_team_leads_day_has_daily_per_agent_of_each_agent_and_is_drawn_once(
    hotline: Hotline, tmp_path: Path
) -> None:
    recordings = await two_agents_three_calls_each(hotline, tmp_path)
    lead = await hotline.token("lead", "team_lead")
    early = await post(hotline, "/api/qa/draw", lead, {"period": DAY}, 400)
    assert early["error"] == "period-not-over"
    over(hotline)
    drawn = await post(hotline, "/api/qa/draw", lead, {"period": DAY})
    samples = drawn["samples"]
    assert (drawn["scope"], drawn["period"]) == ("daily", DAY)
    assert Counter(s["agent"]["name"] for s in samples) == {"li.na": 2, "wang.wei": 2}
    for s in samples:
        assert s["recording_id"] in recordings[s["agent"]["name"]]
        assert (s["sheet"], s["status"], s["reviewer"]["name"]) == ("intake", "queued", "lead")
        assert s["seed"].startswith(f"{DAY}|lead|") and s["call_at"] is not None
    again = await post(hotline, "/api/qa/draw", lead, {"period": DAY})
    assert [s["id"] for s in again["samples"]] == [s["id"] for s in samples]
    queue = await get(hotline, "/api/qa/samples?status=queued", lead)
    assert sorted(s["id"] for s in queue) == sorted(s["id"] for s in samples)
    assert await get(hotline, "/api/qa/samples?status=scored", lead) == []


async def test_each_reviewer_draws_their_own_sample(hotline: Hotline, tmp_path: Path) -> None:
    await two_agents_three_calls_each(hotline, tmp_path)
    lead = await hotline.token("lead", "team_lead")
    other = await hotline.token("lead2", "team_lead")
    boss = await hotline.token("boss", "supervisor")
    over(hotline)
    mine = (await post(hotline, "/api/qa/draw", lead, {}))["samples"]  # default: yesterday
    theirs = (await post(hotline, "/api/qa/draw", other, {"scope": "daily"}))["samples"]
    assert len(mine) == len(theirs) == 4
    assert {s["seed"] for s in theirs} == {theirs[0]["seed"]} != {mine[0]["seed"]}
    assert not {s["id"] for s in mine} & {s["id"] for s in theirs}
    listed = await get(hotline, "/api/qa/samples?reviewer=lead2", boss)
    assert sorted(s["id"] for s in listed) == sorted(s["id"] for s in theirs)
    wrong = await post(hotline, "/api/qa/draw", lead, {"scope": "weekly"}, 400)
    assert wrong["error"] == "wrong-scope"
    assert (await get(hotline, "/api/qa/samples", boss, 400))["field"] == "reviewer"
    peeking = await get(hotline, "/api/qa/samples?reviewer=lead2", lead, 403)
    assert peeking["error"] == "not-your-samples"


async def test_a_recording_never_comes_back_to_a_reviewer(hotline: Hotline, tmp_path: Path) -> None:
    recordings = await two_agents_three_calls_each(hotline, tmp_path)
    lead = await hotline.token("lead", "team_lead")
    # Had before in another period's sample (its call was linked late, say).
    had = recordings["li.na"][0]
    async with hotline.svc.db().begin() as conn:
        reviewer = await auth_store.user_by_name(conn, "lead")
        assert reviewer is not None
        lead_id = reviewer.id
        await conn.execute(
            qa_samples.insert().values(
                id=new_id(), reviewer_id=lead_id, scope="daily", period="2026-11-20",
                seed="2026-11-20|lead|x", recording_id=had, call_id=None, agent_id=None,
                ticket_id=None, sheet="intake", weight=1.0, drawn_at=hotline.clock.now(),
                status="queued",
            )
        )  # fmt: skip
    over(hotline)
    samples = (await post(hotline, "/api/qa/draw", lead, {"period": DAY}))["samples"]
    li_na = {s["recording_id"] for s in samples if s["agent"]["name"] == "li.na"}
    assert li_na == set(recordings["li.na"][1:])
    # The next day's calls: none of the first day's recordings again.
    made = Calls(hotline, tmp_path)
    made.n = 100
    for _ in range(2):
        await made.recorded("2001")
    over(hotline, datetime(2026, 11, 24, 17, 0, tzinfo=UTC))
    later = (await post(hotline, "/api/qa/draw", lead, {"period": "2026-11-24"}))["samples"]
    assert len(later) == 2
    assert not {s["recording_id"] for s in later} & {s["recording_id"] for s in samples}


async def test_empty_recordings_are_never_drawn(hotline: Hotline, tmp_path: Path) -> None:
    await hotline.token("li.na", "agent", "2001")
    lead = await hotline.token("lead", "team_lead")
    made = Calls(hotline, tmp_path)
    spoken = (await made.recorded("2001"))["recording"]
    for _ in range(3):
        await made.recorded("2001", empty=True)
    over(hotline)
    samples = (await post(hotline, "/api/qa/draw", lead, {"period": DAY}))["samples"]
    assert [s["recording_id"] for s in samples] == [spoken]


async def test_a_callbacks_call_gets_the_callback_sheet_and_a_complaint_leans(
    hotline: Hotline, tmp_path: Path
) -> None:
    agent = await hotline.token("li.na", "agent", "2001")
    lead = await hotline.token("lead", "team_lead")
    made = Calls(hotline, tmp_path)
    first = await made.recorded("2001")
    await take(
        hotline, agent, kind="complaint", description="维修人员态度差", address=None,
        category=None, call=first["call"],
    )  # fmt: skip
    [callback] = await due_list(hotline, agent)
    # li.na calls the resident back from her phone: an outbound call, answered by them.
    clock: FakeClock = hotline.clock  # type: ignore[assignment]
    tracker = hotline.svc.calls()
    resident = "13800000001"
    tracker.handle(t.CallOffered("hep", "sip-callback", "cb", clock.now(), "2001", resident))
    tracker.handle(t.LegRinging("hep", "sip-callback", "cb", "b", resident, clock.now()))
    clock.advance(5)
    tracker.handle(t.LegAnswered("hep", "sip-callback", "cb", "b", resident, clock.now()))
    clock.advance(90)
    tracker.handle(t.CallEnded("hep", "sip-callback", "cb", clock.now(), "caller"))
    await tracker.settled()
    back_call = await answered_call_id(hotline, "sip-callback")
    await post(hotline, f"/api/callbacks/{callback['id']}", agent, {**SATISFIED, "call": back_call})
    back = await stored(hotline, variant(audio().pcm, 50, tmp_path), back_call)
    over(hotline)
    samples = (await post(hotline, "/api/qa/draw", lead, {"period": DAY}))["samples"]
    by_recording = {s["recording_id"]: s for s in samples}
    assert by_recording[back["id"]]["sheet"] == "callback"
    assert by_recording[back["id"]]["agent"]["name"] == "li.na"
    assert by_recording[first["recording"]]["sheet"] == "intake"
    assert "complaint" in by_recording[first["recording"]]["reasons"]
    assert by_recording[first["recording"]]["ticket_id"] is not None
    # li.na joined today: her first month leans too.
    assert "new_agent" in by_recording[first["recording"]]["reasons"]


async def answered_call_id(h: Hotline, sip_call_id: str) -> str:
    async with h.svc.db().connect() as conn:
        row = (
            await conn.execute(select(calls.c.id).where(calls.c.sip_call_id == sip_call_id))
        ).one()
    return str(row.id)


def cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", "--config", str(workdir / "cc.toml"), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_prints_the_draw_and_refuses_a_bad_date_or_reviewer(
    hotline: Hotline, tmp_path: Path, db_url: str
) -> None:
    recordings = await two_agents_three_calls_each(hotline, tmp_path)
    lead = await hotline.token("lead", "team_lead")
    (tmp_path / "cc.toml").write_text(f'[database]\nurl = "{db_url}"\n')
    done = await asyncio.to_thread(
        cli, tmp_path, "qa", "sample", "--date", DAY, "--reviewer", "lead"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"lead (team_lead), daily sample of {DAY}: 4 recordings, seed ")
    printed = {line.split()[1] for line in lines[1:]}
    assert len(printed) == 4 and printed <= set(recordings["li.na"] + recordings["wang.wei"])
    assert all("intake" in line and "new agent" in line for line in lines[1:])
    over(hotline)
    stored_draw = (await post(hotline, "/api/qa/draw", lead, {"period": DAY}))["samples"]
    assert {s["recording_id"] for s in stored_draw} == printed  # the CLI's draw, stored
    audit = await asyncio.to_thread(
        cli, tmp_path, "qa", "sample", "--date", DAY, "--reviewer", "lead", "--audit"
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert f"lead, daily sample of {DAY}: the same 4 recordings drawn again" in audit.stdout
    bad = await asyncio.to_thread(cli, tmp_path, "qa", "sample", "--date", "2026-13-01")
    assert bad.returncode == 2 and "--date" in bad.stderr
    nobody = await asyncio.to_thread(
        cli, tmp_path, "qa", "sample", "--date", DAY, "--reviewer", "no.one"
    )
    assert nobody.returncode == 2 and "no.one" in nobody.stderr


async def test_coverage_counts_drawn_and_checked_against_the_rule(
    hotline: Hotline, tmp_path: Path
) -> None:
    await two_agents_three_calls_each(hotline, tmp_path)
    lead = await hotline.token("lead", "team_lead")
    qa = await hotline.token("qa", "qa_lead")
    over(hotline)
    samples = (await post(hotline, "/api/qa/draw", lead, {"period": DAY}))["samples"]
    scored = next(s for s in samples if s["agent"]["name"] == "li.na")
    async with hotline.svc.db().begin() as conn:
        await conn.execute(
            qa_evaluations.insert().values(
                evaluation_row(
                    Evaluation(
                        id=new_id(), sample_id=scored["id"], recording_id=scored["recording_id"],
                        call_id=scored["call_id"], agent_id=scored["agent"]["id"],
                        reviewer_id=scored["reviewer"]["id"], sheet="intake",
                        checklist_version=1, checklist_sha256="0" * 64, scores=(), deducted=0,
                        comment="", good_example=False, status="open",
                        scored_at=hotline.clock.now(),
                    )
                )
            )
        )  # fmt: skip
    body = await get(hotline, "/api/qa/coverage?week=2026-W48&month=2026-11", qa)
    assert body["week"] == {"name": "2026-W48", "first": "2026-11-23", "last": "2026-11-29"}
    assert body["rule"] == {
        "daily_per_agent": 2, "weekly_per_agent": 5, "team_leads": 1, "qa_leads": 1
    }  # fmt: skip
    rows = {r["agent"]["name"]: r for r in body["agents"]}
    assert set(rows) == {"li.na", "wang.wei"}
    # One day of the week is over (the 23rd), and 23 of the month; no week has ended.
    assert rows["li.na"]["week"]["daily"] == {"drawn": 2, "checked": 1, "expected": 2}
    assert rows["wang.wei"]["week"]["daily"] == {"drawn": 2, "checked": 0, "expected": 2}
    assert rows["li.na"]["month"]["daily"] == {"drawn": 2, "checked": 1, "expected": 46}
    assert rows["li.na"]["week"]["weekly"] == {"drawn": 0, "checked": 0, "expected": 0}
    agent = await hotline.token("zhao.lei", "agent", "2003")
    assert (await get(hotline, "/api/qa/coverage", agent, 403))["error"] == "forbidden"
    bad = await get(hotline, "/api/qa/coverage?week=49", qa, 400)
    assert bad["field"] == "week"


async def test_the_service_draws_once_a_day_at_the_hour(
    hotline_factory: HotlineFactory, db_url: str, tmp_path: Path
) -> None:
    h: Hotline = await hotline_factory(
        db_url, recordings={"root": str(tmp_path / "rec")}, qa={"draw_hour": 6}
    )
    draws = h.svc.draw_service()
    # Started at 09:00, past the hour: the day's draw is made at once (nobody to draw for).
    await eventually(lambda: draws.scheduled_runs == 1)
    await two_agents_three_calls_each(h, tmp_path)
    lead = await h.token("lead", "team_lead")
    over(h, datetime(2026, 11, 23, 21, 59, tzinfo=UTC))  # 05:59 the next day
    await asyncio.sleep(0.1)
    assert draws.scheduled_runs == 1
    over(h, datetime(2026, 11, 23, 22, 0, tzinfo=UTC))  # 06:00
    await eventually(lambda: draws.scheduled_runs == 2)
    queue = await get(h, "/api/qa/samples", lead)
    assert len(queue) == 4 and {s["period"] for s in queue} == {DAY}
    over(h, datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    await asyncio.sleep(0.1)
    assert draws.scheduled_runs == 2
    over(h, datetime(2026, 11, 24, 22, 0, tzinfo=UTC))  # 06:00 the day after
    await eventually(lambda: draws.scheduled_runs == 3)
    assert len(await get(h, "/api/qa/samples", lead)) == 4  # the 24th had no calls


async def test_a_restart_after_the_hour_draws_the_missed_day_at_once(
    hotline: Hotline, hotline_factory: HotlineFactory, db_url: str, tmp_path: Path
) -> None:
    await two_agents_three_calls_each(hotline, tmp_path)
    lead = await hotline.token("lead", "team_lead")
    # The service was down at 06:00 on the 24th and starts again at 10:00.
    restarted: Hotline = await hotline_factory(
        db_url,
        clock=FakeClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC)),
        recordings={"root": str(tmp_path / "rec")},
        qa={"daily_per_agent": 2},
    )
    draws = restarted.svc.draw_service()
    await eventually(lambda: draws.scheduled_runs == 1)
    queue = await get(restarted, "/api/qa/samples", lead)
    assert len(queue) == 4 and {s["period"] for s in queue} == {DAY}
