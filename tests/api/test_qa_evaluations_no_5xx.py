"""Scoring bodies never answer 5xx, on SQLite and PostgreSQL: evaluation and resolve bodies
drawn by hypothesis near what the scoring desk sends (every item, each deduction valid, out
of range, of the wrong type, a comment very long, NUL- or surrogate-bearing, unknown fields)
get a 2xx or a 4xx whose JSON names the problem; a valid one scores a fresh sample."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.app import SERVICES, build
from callcenter.clock import FakeClock
from tests.api.test_qa_evaluations_api import INTAKE, all_zero, sample_of, taken_call
from tests.audio import audio
from tests.conftest import Hotline, settings_for
from tests.integration import bench

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "\ud800", "名" * 3000, "\u202e", "10", "1e309"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


@st.composite
def evaluation_bodies(draw: st.DrawFn) -> bytes:
    """The desk's body (every item once), with up to three things changed."""
    body: dict[str, Any] = {**all_zero(), "good_example": False}
    scores: list[dict[str, Any]] = body["scores"]
    for item, score in zip(INTAKE.items, scores, strict=True):
        score["deducted"] = draw(st.integers(0, item.points), label=item.key)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "score", "drop", "dup"]))
        if where == "top":
            body[draw(st.sampled_from(["scores", "comment", "good_example", "junk"]))] = draw(ODD)
        elif where == "score" and isinstance(body["scores"], list) and scores:
            score = draw(st.sampled_from(scores))
            score[draw(st.sampled_from(["key", "deducted", "comment", "junk"]))] = draw(ODD)
        elif where == "drop" and scores:
            scores.pop(draw(st.integers(0, len(scores) - 1)))
        elif scores:
            scores.append(dict(draw(st.sampled_from(scores))))
    # ensure_ascii: a lone surrogate travels as the JSON escape a browser would send.
    return json.dumps(body).encode()


@dataclass
class Running:
    loop: asyncio.AbstractEventLoop
    client: TestClient
    hotline: Hotline
    people: dict[str, dict[str, str]]
    # Fresh samples (reviewer's name, sample id); a valid body takes the first.
    samples: list[tuple[str, str]] = field(default_factory=list)
    disputed: str = ""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as tmp:
        cluster: bench.PostgresCluster | None = None
        name = ""
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'cc.sqlite3'}"
        else:
            cluster = request.getfixturevalue("postgres")
            name = cluster.create_database()
            url = cluster.url(name)
        clock = FakeClock()
        app = build(settings_for(url), clock=clock, migrate=True, mqtt=False, hep=False)

        async def start() -> Running:
            client = TestClient(TestServer(app))
            await client.start_server()
            h = Hotline(client, app[SERVICES], clock)
            people = {"li.na": await h.token("li.na", "agent", "2001")}
            for n in range(3):
                people[f"lead{n}"] = await h.token(f"lead{n}", "team_lead")
            people["qa"] = await h.token("qa", "qa_lead")
            paths = [*audio().alaw, audio().ulaw, audio().mp3, audio().pcm, audio().gsm]
            recs = [
                await taken_call(h, people["li.na"], f"sip-fuzz-{n}", p)
                for n, p in enumerate(paths)
            ]
            run = Running(loop, client, h, people)
            for rec in recs[1:]:
                for n in range(3):
                    run.samples.append((f"lead{n}", await sample_of(h, f"lead{n}", rec, "li.na")))
            # One evaluation disputed, for the QA lead's bodies.
            first = await sample_of(h, "lead0", recs[0], "li.na")
            scored = await client.post(
                f"/api/qa/samples/{first}/evaluation", json=all_zero(), headers=people["lead0"]
            )
            run.disputed = (await scored.json())["id"]
            disputed = await client.post(
                f"/api/qa/evaluations/{run.disputed}/dispute",
                json={"comment": "不同意"},
                headers=people["li.na"],
            )
            assert disputed.status == 200
            return run

        run = loop.run_until_complete(start())
        try:
            yield run
        finally:
            loop.run_until_complete(run.client.close())
            loop.close()
            if cluster is not None:
                cluster.drop_database(name)


def _check(status: int, content_type: str, raw: bytes) -> None:
    assert status < 500, (status, raw[:300])
    if status >= 400:
        assert content_type == "application/json"
        assert "error" in json.loads(raw)


async def _post(run: Running, path: str, body: bytes, who: str) -> tuple[int, str, bytes]:
    response = await run.client.post(
        path, data=body, headers={**run.people[who], "Content-Type": "application/json"}
    )
    return response.status, response.content_type, await response.read()


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=evaluation_bodies())
def test_no_evaluation_body_answers_5xx(running: Running, body: bytes) -> None:
    reviewer, sample = running.samples[0]
    path = f"/api/qa/samples/{sample}/evaluation"
    status, content_type, raw = running.loop.run_until_complete(
        _post(running, path, body, reviewer)
    )
    _check(status, content_type, raw)
    if status == 201 and len(running.samples) > 1:
        running.samples.pop(0)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "decision": st.sampled_from(["uphold", "revise", "x"]) | ODD,
            "comment": st.sampled_from(["已复听", ""]) | ODD,
            "scores": evaluation_bodies().map(lambda b: json.loads(b).get("scores")) | ODD,
            "junk": ODD,
        },
    ).map(lambda b: json.dumps(b).encode())
)
def test_no_resolve_body_answers_5xx(running: Running, body: bytes) -> None:
    path = f"/api/qa/evaluations/{running.disputed}/resolve"
    _check(*running.loop.run_until_complete(_post(running, path, body, "qa")))
