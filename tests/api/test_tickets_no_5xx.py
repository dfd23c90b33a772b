"""The ticket routes never answer 5xx, on SQLite and PostgreSQL: bodies drawn by hypothesis
near what the desk sends (each field valid, odd, of the wrong type, very long, NUL-bearing,
or unknown) get a 2xx or a 4xx whose JSON names the problem."""

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
from tests.conftest import settings_for
from tests.integration import bench

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "名" * 300, "' OR 1=1 --", "%00", "0" * 40, "\u202e"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "kind": st.sampled_from(["repair", "consultation", "complaint", "praise", "suggestion"]),
    "reporter_name": st.sampled_from(["张秀英", "李", ""]),
    "phone": st.sampled_from(["13800000001", "+86 139 0000 0002", "0316-5210101", "110"]),
    "address": st.sampled_from(
        [
            "幸福里三栋2-502",
            "火星路1号",
            "幸福里",
            "万科城99号楼",
            "幸福里对面龙府花园3号楼",
            "，。",
        ]
    ),
    "station": st.sampled_from(["xingfu", "mapo", "nowhere", ""]),
    "category": st.sampled_from(["not_hot", "ice_cold", "temperature_check", "leak", "other"]),
    "fault_location": st.sampled_from(["卧室", "客厅暖气片"]),
    "severity": st.sampled_from(["minor", "major", "urgent"]),
    "description": st.sampled_from(["整屋不热", "滴水\n很急"]),
    "status": st.sampled_from(["open", "dispatched", "repaired", "closed", "cancelled"]),
    "note": st.sampled_from(["已联系", ""]),
    "call": st.sampled_from(["0" * 32, "nope"]),
    "history": st.just([]),
    "created_at": st.just("2020-01-01T00:00:00Z"),
}


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    keys = draw(st.lists(st.sampled_from([*VALID, "junk"]), unique=True, max_size=len(VALID)))
    body = {
        key: draw(ODD if key == "junk" or draw(st.integers(0, 4)) == 0 else VALID[key])
        for key in keys
    }
    return json.dumps(body).encode()


QUERIES = {
    "phone": st.sampled_from(["13800000001", "138", "１３８００００００01", "\x00"]),
    "address": st.sampled_from(["幸福里", "幸福里3号楼", "，", "\U0010ffff", "名" * 300]),
    "station": st.sampled_from(["xingfu", "x"]),
    "status": st.sampled_from(["open", "open,closed", ",", "x"]),
    "kind": st.sampled_from(["repair", "x"]),
    "agent": st.sampled_from(["root", "nobody", "\x00"]),
    "from": st.sampled_from(["2026-11-23T00:00:00Z", "0001-01-01T00:00:00", "x"]),
    "to": st.sampled_from(["2026-11-24T00:00:00", "9999-12-31T23:59:59-12:00"]),
    "limit": st.sampled_from(["1", "1000", "1001", "-1", "١"]),
    "cursor": st.sampled_from(["x", "MjAyNi0xMS0yM1QwMTowMTowMCswMDowMHxh"]),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[asyncio.AbstractEventLoop, TestClient, dict[str, str], str]]:
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
        app = build(settings_for(url), migrate=True, mqtt=False, hep=False)
        svc = app[SERVICES]

        async def start() -> tuple[TestClient, str, str]:
            client = TestClient(TestServer(app))
            await client.start_server()
            await auth_service.add_user(
                svc.db(), svc.clock, "root", "agent", "long enough pw", extension="2001"
            )
            token = await auth_service.create_token(svc.db(), svc.clock, "root")
            response = await client.post(
                "/api/tickets",
                json={"kind": "repair", "phone": "13800000001", "address": "幸福里3号楼",
                      "category": "leak"},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert response.status == 201
            return client, token, (await response.json())["id"]

        client, token, ticket_id = loop.run_until_complete(start())
        try:
            yield loop, client, {"Authorization": f"Bearer {token}"}, ticket_id
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
    ("method", "path"),
    [("post", "/api/tickets"), ("patch", "/api/tickets/{id}"), ("post", "/api/tickets/{id}/calls")],
)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies())
def test_no_ticket_body_answers_5xx(
    running: tuple[asyncio.AbstractEventLoop, TestClient, dict[str, str], str],
    method: str,
    path: str,
    body: bytes,
) -> None:
    loop, client, headers, ticket_id = running

    async def call() -> tuple[int, str, bytes]:
        response = await client.request(
            method,
            path.format(id=ticket_id),
            data=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        return response.status, response.content_type, await response.read()

    _check(*loop.run_until_complete(call()))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_ticket_search_answers_5xx(
    running: tuple[asyncio.AbstractEventLoop, TestClient, dict[str, str], str],
    data: st.DataObject,
) -> None:
    loop, client, headers, _ticket_id = running
    names = data.draw(st.lists(st.sampled_from(sorted(QUERIES)), unique=True, max_size=4))
    query = {name: data.draw(QUERIES[name], label=name) for name in names}

    async def call() -> tuple[int, str, bytes]:
        response = await client.get("/api/tickets", params=query, headers=headers)
        return response.status, response.content_type, await response.read()

    _check(*loop.run_until_complete(call()))
