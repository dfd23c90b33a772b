"""While the database is up, no request answers 5xx: every route of the OpenAPI document,
with query parameters and JSON bodies drawn by hypothesis (extreme dates, odd numbers,
deeply nested JSON, text of any kind), answers 2xx/3xx/4xx with a JSON error body."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.app import SERVICES, build
from callcenter.auth import service as auth_service
from callcenter.web.routes import openapi_document
from tests.conftest import Hotline, settings_for

ODD_VALUES = [
    "",
    "0",
    "-1",
    "1e309",
    "NaN",
    "99999999999999999999",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "2026-02-30T00:00:00",
    "2026-11-23T09:00:00Z",
    "Z",
    "agent",
    "hour",
    "\x00",
    "%00",
    "../../etc/passwd",
    "' OR 1=1 --",
    "李娜",
]


def operations() -> list[tuple[str, str, list[str]]]:
    """(method, path, query parameter names) of every documented HTTP operation."""
    doc = openapi_document()
    shared = doc["components"]["parameters"]
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete") or path == "/api/live":
                continue
            names = []
            for param in op.get("parameters", []):
                param = shared[param["$ref"].rsplit("/", 1)[1]] if "$ref" in param else param
                if param.get("in") == "query":
                    names.append(param["name"])
            out.append((method, path, names))
    return out


def nested(depth: int) -> bytes:
    """{"name": {"name": … "x" …}} `depth` deep, as text (json.dumps could not write it)."""
    return ('{"name":' * depth + '"x"' + "}" * depth).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"name": st.text(max_size=70) | st.sampled_from(ODD_VALUES), "password": st.text()}
    ).map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=100, max_value=100_000).map(nested),
)
query_values = st.one_of(st.sampled_from(ODD_VALUES), st.text(max_size=40))


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[asyncio.AbstractEventLoop, TestClient, dict[str, str]]]:
    """The real app on SQLite, in a loop of its own (hypothesis drives it synchronously)."""
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'cc.sqlite3'}"
        app = build(settings_for(url), migrate=True, mqtt=False, hep=False)
        svc = app[SERVICES]

        async def start() -> tuple[TestClient, str]:
            client = TestClient(TestServer(app))
            await client.start_server()
            await auth_service.add_user(svc.db(), svc.clock, "root", "admin", "long enough pw")
            return client, await auth_service.create_token(svc.db(), svc.clock, "root")

        client, token = loop.run_until_complete(start())
        try:
            yield loop, client, {"Authorization": f"Bearer {token}"}
        finally:
            loop.run_until_complete(client.close())
            loop.close()


@pytest.mark.parametrize(("method", "path", "names"), operations())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_no_request_answers_5xx(
    running: tuple[asyncio.AbstractEventLoop, TestClient, dict[str, str]],
    method: str,
    path: str,
    names: list[str],
    data: st.DataObject,
) -> None:
    loop, client, headers = running
    chosen = data.draw(
        st.lists(st.sampled_from([*names, "junk"]), unique=True) if names else st.just([])
    )
    query = {name: data.draw(query_values, label=name) for name in chosen}
    body = data.draw(bodies) if method != "get" else None
    signed_in = data.draw(st.booleans(), label="signed_in")

    async def call() -> tuple[int, str, bytes]:
        response = await client.request(
            method,
            path,
            params=query,
            data=body,
            headers={**(headers if signed_in else {}), "Content-Type": "application/json"},
        )
        return response.status, response.content_type, await response.read()

    status, content_type, raw = loop.run_until_complete(call())
    assert status < 500, (status, raw[:300])
    if status >= 400:
        assert content_type == "application/json"
        assert "error" in json.loads(raw)


@pytest.mark.parametrize("path", ["/api/calls", "/api/stats/answers", "/api/violations"])
async def test_a_range_beyond_what_dates_hold_is_a_400_naming_the_field(
    hotline: Hotline, path: str
) -> None:
    lead = await hotline.token("lead", "team_lead")
    query = "from=0001-01-01T00:00:00&to=9999-12-31T23:59:59"
    response = await hotline.client.get(f"{path}?{query}", headers=lead)
    assert response.status == 400
    assert (await response.json())["field"] == "from"


async def test_a_deeply_nested_login_body_is_a_400(hotline: Hotline) -> None:
    response = await hotline.client.post(
        "/api/login", data=nested(100_000), headers={"Content-Type": "application/json"}
    )
    assert response.status == 400 and (await response.json())["error"] == "bad-json"
