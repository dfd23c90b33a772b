"""The anomaly routes never answer 5xx, on SQLite and PostgreSQL: bodies and queries drawn by
hypothesis near what the desk sends (each field valid, odd, of the wrong type, very long,
NUL-bearing, or unknown), on a real ticket, a late step the service raised and a complaint,
get a 2xx or a 4xx whose JSON names the problem."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.app import SERVICES, build
from callcenter.auth import service as auth_service
from callcenter.clock import FakeClock
from tests.conftest import settings_for
from tests.integration import bench

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "名" * 3000, "' OR 1=1 --", "\u202e", "\x7f"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "kind": st.sampled_from(
        ["complaint_repairman", "complaint_fee_collector", "forwarded", "praise_repairman",
         "suggestion", "station_unreachable", "accept_late", "x"]
    ),
    "detail": st.sampled_from(["王师傅态度恶劣", "3号楼12户", ""]),
    "class": st.sampled_from(["valid", "assisted", "invalid", "collective", "x"]),
    "households": st.sampled_from([1, 4, 5, 12, 0, -1, 10**12, 2**63]),
    "note": st.sampled_from(["已联系住户", ""]),
    "resolution": st.sampled_from(["已道歉", ""]),
}  # fmt: skip
QUERIES = {
    "from": st.sampled_from(["2026-11-23T00:00:00Z", "0001-01-01T00:00:00", "x"]),
    "to": st.sampled_from(["2026-11-24T00:00:00", "9999-12-31T23:59:59-12:00"]),
    "kind": st.sampled_from(["accept_late", "accept_late,suggestion", ",", "x"]),
    "agent": st.sampled_from(["root", "nobody", "\x00"]),
    "ticket": st.sampled_from(["0" * 32, "\x00", "x" * 65]),
    "state": st.sampled_from(["open", "closed"]),
    "limit": st.sampled_from(["1", "1000", "1001", "-1", "١"]),
    "cursor": st.sampled_from(["x", "MjAyNi0xMS0yM1QwMTowMTowMCswMDowMHxh"]),
}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    keys = draw(st.lists(st.sampled_from([*VALID, "junk"]), unique=True, max_size=len(VALID)))
    body = {
        key: draw(ODD if key == "junk" or draw(st.integers(0, 4)) == 0 else VALID[key])
        for key in keys
    }
    return json.dumps(body).encode()


Running = tuple[asyncio.AbstractEventLoop, TestClient, dict[str, str], dict[str, str]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    """A lead's token and ids: a repair ticket, its accept_late, a complaint on it."""
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
        svc = app[SERVICES]

        async def start() -> tuple[TestClient, dict[str, str], dict[str, str]]:
            client = TestClient(TestServer(app))
            await client.start_server()
            await auth_service.add_user(svc.db(), svc.clock, "root", "team_lead", "long enough pw")
            secret = await auth_service.create_token(svc.db(), clock, "root")
            token = {"Authorization": f"Bearer {secret}"}
            response = await client.post(
                "/api/tickets",
                json={"kind": "repair", "phone": "13800000001", "address": "幸福里3号楼2单元502",
                      "category": "leak"},
                headers=token,
            )  # fmt: skip
            ticket = (await response.json())["id"]
            assert (
                await client.post(f"/api/tickets/{ticket}/dispatch", headers=token)
            ).status == 201
            clock.advance(31 * 60)
            assert svc.deadlines is not None
            await svc.deadlines.settled()
            complaint = await client.post(
                f"/api/tickets/{ticket}/anomalies",
                json={"kind": "complaint_repairman", "detail": "x", "class": "valid"},
                headers=token,
            )
            (late,) = await (
                await client.get("/api/anomalies?kind=accept_late", headers=token)
            ).json()
            ids = {
                "ticket": ticket,
                "late": late["id"],
                "complaint": (await complaint.json())["id"],
            }
            return client, token, ids

        client, token, ids = loop.run_until_complete(start())
        try:
            yield loop, client, token, ids
        finally:
            loop.run_until_complete(client.close())
            loop.close()
            if cluster is not None:
                cluster.drop_database(name)


def _check(status: int, content_type: str, raw: bytes) -> None:
    assert status < 500, (status, raw[:300])
    if status >= 400:
        assert content_type == "application/json"
        assert "error" in json.loads(raw)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/api/tickets/{id}/anomalies", "ticket"),
        ("/api/anomalies/{id}/report", "late"),
        ("/api/anomalies/{id}/report", "complaint"),
        ("/api/anomalies/{id}/follow-up", "complaint"),
        ("/api/anomalies/{id}/close", "complaint"),
        ("/api/anomalies/{id}/close", "late"),
    ],
)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies())
def test_no_anomaly_body_answers_5xx(running: Running, path: str, target: str, body: bytes) -> None:
    loop, client, headers, ids = running

    async def call() -> tuple[int, str, bytes]:
        response = await client.post(
            path.format(id=ids[target]),
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        return response.status, response.content_type, await response.read()

    _check(*loop.run_until_complete(call()))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_anomaly_search_answers_5xx(running: Running, data: st.DataObject) -> None:
    loop, client, headers, _ids = running
    names = data.draw(st.lists(st.sampled_from(sorted(QUERIES)), unique=True, max_size=4))
    query = {name: data.draw(QUERIES[name], label=name) for name in names}

    async def call() -> tuple[int, str, bytes]:
        response = await client.get("/api/anomalies", params=query, headers=headers)
        return response.status, response.content_type, await response.read()

    _check(*loop.run_until_complete(call()))
