"""`serve --demo` writes yesterday's and last week's shift (calls through the calls store,
recordings spoken by espeak-ng, tickets as agents type them) and draws the demo team lead's
and QA lead's samples, so the spot-check desk has a queue to score the moment the demo
starts: each sample can be opened with its recording and ticket, and scored. Running the
demo again writes nothing twice."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callcenter import demo_history
from callcenter.calls.store import calls
from callcenter.clock import SystemClock
from callcenter.qa import periods
from callcenter.recordings.store import recordings
from tests.conftest import Hotline, HotlineFactory

pytestmark = pytest.mark.integration


async def _get(h: Hotline, path: str, who: dict[str, str]) -> Any:
    response = await h.client.get(path, headers=who)
    assert response.status == 200, await response.text()
    return await response.json()


async def _count(h: Hotline, table: Any) -> int:
    async with h.svc.db().connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_the_demo_starts_with_a_sample_queue_a_qa_lead_can_score(
    hotline_factory: HotlineFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two agents and one call each a day keep the espeak-ng work small; the path is the same.
    monkeypatch.setattr(demo_history, "CALLS_PER_AGENT_YESTERDAY", 2)
    monkeypatch.setattr(demo_history, "CALLS_PER_AGENT_LAST_WEEK", 1)
    h: Hotline = await hotline_factory(db_url, clock=SystemClock())
    await h.add_user("agent2001", "agent", "2001")
    await h.add_user("agent2002", "agent", "2002")
    lead = await h.token("lead", "team_lead")
    qa = await h.token("qa", "qa_lead")

    await demo_history.seed_history(h.svc, random.Random(4))

    tz = ZoneInfo(h.svc.settings.web.timezone)
    today = periods.today(h.svc.clock.now(), tz)
    yesterday = (today - timedelta(days=1)).isoformat()
    daily = await _get(h, "/api/qa/samples", lead)
    assert {s["period"] for s in daily} == {yesterday}
    # daily_per_agent (2) of each agent's two calls of yesterday: all four.
    assert len(daily) == 4
    assert {s["agent"]["name"] for s in daily} == {"agent2001", "agent2002"}
    weekly = await _get(h, "/api/qa/samples", qa)
    assert weekly, "the QA lead's weekly sample of last week is drawn"
    last_week = periods.due("weekly", h.svc.clock.now(), tz).key
    assert {s["period"] for s in weekly} == {last_week}

    # Each sample opens on the scoring desk with its recording, and most with the ticket.
    tickets = 0
    for s in daily:
        detail = await _get(h, f"/api/qa/samples/{s['id']}", lead)
        assert detail["sheet"] == "intake"
        assert detail["recording"]["duration_seconds"] > 5, "a spoken call, not a blip"
        assert not detail["recording"]["empty"]
        tickets += len(detail["tickets"])
        audio = await h.client.get(f"/api/recordings/{s['recording_id']}/audio", headers=lead)
        assert audio.status == 200
        assert len(await audio.read()) > 8000

    assert tickets >= 1

    # Yesterday's report form holds the shift: its tickets, some sent to their station and
    # returned (the seed makes it so), the rest unfinished.
    form = await _get(h, f"/api/reports/daily?date={yesterday}", lead)
    assert form["summary"]["repair_reports"] >= tickets
    assert form["summary"]["repaired"] >= 1
    assert form["total"]["unfinished"] == (
        form["total"]["cumulative_reports"] - form["total"]["cumulative_repairs"]
    )

    # The lead scores the first sample as it stands.
    first = daily[0]
    detail = await _get(h, f"/api/qa/samples/{first['id']}", lead)
    scores = [{"key": i["key"], "deducted": 0, "comment": ""} for i in detail["checklist"]["items"]]
    scored = await h.client.post(
        f"/api/qa/samples/{first['id']}/evaluation",
        json={"scores": scores, "comment": "demo", "good_example": False},
        headers=lead,
    )
    assert scored.status in (200, 201), await scored.text()

    # A second start writes no second shift and draws nothing new.
    before = (await _count(h, calls), await _count(h, recordings))
    await demo_history.seed_history(h.svc, random.Random(5))
    assert (await _count(h, calls), await _count(h, recordings)) == before
    again = await _get(h, "/api/qa/samples", lead)
    assert {s["id"] for s in again} == {s["id"] for s in daily}
