"""GET /metrics through the real app on SQLite and PostgreSQL: calls, violations, a ring-limit
alert, orders and an anomaly made through the real services, then read back with the
Prometheus client's own parser; the token guards it; metrics.listen serves it alone."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from callcenter.config import parse_settings
from callcenter.errors import ConfigError
from tests.api.test_anomalies_api import MINUTE, advance, anomalies, desk
from tests.api.test_calls_api import Phone
from tests.api.test_orders_api import dispatch, station_account
from tests.api.test_tickets_api import take
from tests.conftest import Hotline, HotlineFactory

TOKEN = "scrape-me-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def scrape(h: Hotline, headers: dict[str, str] | None = None) -> Samples:
    await h.svc.calls().settled()
    response = await h.client.get("/metrics", headers=BEARER if headers is None else headers)
    assert response.status == 200, await response.text()
    assert response.content_type == "text/plain"
    return parse(await response.text())


async def metered(factory: HotlineFactory, db_url: str, **sections: Any) -> Hotline:
    h: Hotline = await factory(db_url, metrics={"token": TOKEN}, **sections)
    await h.add_user("li.na", "agent", "2001")
    await h.add_user("wang.wei", "agent", "2002")
    return h


async def test_calls_rings_and_violations_are_counted_as_they_happened(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await metered(hotline_factory, db_url)
    on_time = Phone(h, "on-time")
    on_time.ring()
    on_time.after(7)  # the limit is 3 rings of 5 s: 15 s
    on_time.answer()
    on_time.after(30)
    on_time.hang_up()
    late = Phone(h, "late")
    late.ring("2002")
    late.after(15)  # the ring-limit alert fires at 15 s: a ring_limit violation
    await h.svc.calls().settled()  # published before the fake clock moves on
    late.after(5)
    late.answer("2002")
    gave_up = Phone(h, "quick")
    gave_up.ring()
    gave_up.after(4)
    gave_up.abandon()  # hung up in time: not counted against the rate
    Phone(h, "ringing").ring("2002")  # still ringing at the scrape
    h.clock.advance(3)

    m = await scrape(h)
    assert value(m, "callcenter_calls_offered_total") == 4
    assert value(m, "callcenter_calls_answered_total") == 2
    assert value(m, "callcenter_calls_answered_within_limit_total") == 1
    assert value(m, "callcenter_calls_closed_total", outcome="answered") == 1
    assert value(m, "callcenter_calls_closed_total", outcome="abandoned") == 1
    assert value(m, "callcenter_calls_abandoned_in_time_total") == 1
    assert value(m, "callcenter_violations_total", kind="ring_limit") == 1
    assert value(m, "callcenter_ring_limit_alerts_total", late="false") == 1
    assert value(m, "callcenter_legs_ringing") == 1
    assert value(m, "callcenter_legs_ringing_past_limit") == 0
    # Ring seconds: 7 s answered, 20 s answered, 4 s abandoned.
    assert value(m, "callcenter_ring_seconds_count", outcome="answered") == 2
    assert value(m, "callcenter_ring_seconds_sum", outcome="answered") == 27
    assert value(m, "callcenter_ring_seconds_bucket", outcome="answered", le="15.0") == 1
    assert value(m, "callcenter_ring_seconds_sum", outcome="abandoned") == 4
    # The fake clock fires the alert exactly at its deadline: published 0 s late.
    assert value(m, "callcenter_ring_limit_alert_lateness_seconds_count") == 1
    assert value(m, "callcenter_ring_limit_alert_lateness_seconds_sum") == 0
    assert value(m, "callcenter_database_up") == 1


async def test_orders_and_anomalies_are_read_from_the_database(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h: Hotline = await hotline_factory(db_url, metrics={"token": TOKEN})
    agent, _head = await desk(h)
    xingfu = await station_account(h, "station.xingfu", "xingfu")
    first = await dispatch(h, agent, (await take(h, agent))["id"])
    await dispatch(h, agent, (await take(h, agent, address="幸福里3号楼2单元502"))["id"])
    accepted = await h.client.post(f"/api/orders/{first['id']}/accept", headers=xingfu)
    assert accepted.status == 200, await accepted.text()
    advance(h, 30 * MINUTE)  # the second was not accepted in time: accept_late
    await anomalies(h, agent)

    m = await scrape(h)
    assert value(m, "callcenter_orders_open", status="sent") == 1
    assert value(m, "callcenter_orders_open", status="accepted") == 1
    assert value(m, "callcenter_orders_open", status="contacted") == 0
    assert value(m, "callcenter_order_changes_total", status="sent") == 2
    assert value(m, "callcenter_order_changes_total", status="accepted") == 1
    assert value(m, "callcenter_anomalies_awaiting_report", kind="accept_late") == 1
    assert value(m, "callcenter_anomalies_raised_total", kind="accept_late") == 1


async def test_without_the_token_it_is_a_401_in_json_and_never_echoes_it(
    hotline_factory: HotlineFactory, sqlite_url: str
) -> None:
    h: Hotline = await hotline_factory(sqlite_url, metrics={"token": TOKEN})
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    for headers in ({}, wrong, {"Authorization": TOKEN}):  # the last: no "Bearer"
        response = await h.client.get("/metrics", headers=headers)
        assert response.status == 401
        body = await response.json()
        assert body["error"] == "not-authenticated"
        assert TOKEN not in await response.text()
    # A user's session or API token is not the metrics token.
    lead = await h.token("lead", "team_lead")
    assert (await h.client.get("/metrics", headers=lead)).status == 401
    assert (await h.client.get("/metrics", headers=BEARER)).status == 200


async def test_metrics_are_off_unless_configured(
    hotline_factory: HotlineFactory, sqlite_url: str
) -> None:
    h: Hotline = await hotline_factory(sqlite_url)
    assert (await h.client.get("/metrics", headers=BEARER)).status == 404


async def test_the_separate_listener_serves_only_metrics_without_a_token(
    hotline_factory: HotlineFactory, sqlite_url: str
) -> None:
    h: Hotline = await hotline_factory(sqlite_url, metrics={"listen": "127.0.0.1:0"})
    assert h.svc.metrics is not None and h.svc.metrics.address is not None
    host, port = h.svc.metrics.address
    Phone(h, "one").ring()
    h.clock.advance(16)  # past the 15 s limit, still ringing
    await h.svc.calls().settled()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://{host}:{port}/metrics") as response:
            assert response.status == 200
            m = parse(await response.text())
        async with session.get(f"http://{host}:{port}/api/health") as other:
            assert other.status == 404
    assert value(m, "callcenter_calls_offered_total") == 1
    assert value(m, "callcenter_legs_ringing") == 1
    assert value(m, "callcenter_legs_ringing_past_limit") == 1
    # Only the listener: the main one has no /metrics without a token configured.
    assert (await h.client.get("/metrics")).status == 404


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"token": "short"}, "metrics.token"),
        ({"token": "has a space in it, long enough"}, "metrics.token"),
        ({"token": 12345678901234567}, "metrics.token"),
        ({"listen": "9464"}, "metrics.listen"),
        ({"listen": "127.0.0.1:99999"}, "metrics.listen"),
        ({"port": 9464}, "metrics.port"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_key_not_the_token(
    section: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"metrics": section})
    assert caught.value.key == key
    assert "short" not in str(caught.value) and "space in it" not in str(caught.value)
