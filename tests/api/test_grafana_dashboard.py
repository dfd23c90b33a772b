"""The Grafana dashboard in docker/grafana reads only metrics the service really exports:
every name in its panels' queries is looked up in a real /metrics scrape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from callcenter.mqtt.publisher import MqttPublisher
from tests.conftest import Hotline, HotlineFactory

DASHBOARD = Path(__file__).resolve().parents[2] / "docker/grafana/callcenter-dashboard.json"
TOKEN = "scrape-me-0123456789abcdef"
NAME = re.compile(r"\bcallcenter_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def dashboard() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return body


async def exported_names(h: Hotline) -> set[str]:
    response = await h.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200, await response.text()
    names: set[str] = set()
    for family in text_string_to_metric_families(await response.text()):
        # A labelled family nothing has happened to yet has no samples, but is exported.
        names |= {family.name} | {family.name + s for s in SUFFIXES.get(family.type, ())}
        names |= {s.name for s in family.samples}
    return names


def test_the_dashboard_asks_for_its_prometheus_datasource() -> None:
    body = dashboard()
    variables = {v["name"]: v for v in body["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert body["panels"], "a dashboard with no panels"
    for panel in body["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


async def test_every_panel_reads_only_metrics_the_service_exports(
    hotline_factory: HotlineFactory, sqlite_url: str
) -> None:
    h: Hotline = await hotline_factory(sqlite_url, hep=True, metrics={"token": TOKEN})
    h.svc.publisher = MqttPublisher("127.0.0.1", 1)  # MQTT on (not connected): its metrics too
    exported = await exported_names(h)
    assert "callcenter_calls_offered_total" in exported
    unknown = {
        (panel["title"], name)
        for panel in dashboard()["panels"]
        for target in panel["targets"]
        for name in NAME.findall(target["expr"])
        if name not in exported
    }
    assert unknown == set()
    read = {n for p in dashboard()["panels"] for t in p["targets"] for n in NAME.findall(t["expr"])}
    for needed in (
        "callcenter_calls_answered_within_limit_total",
        "callcenter_ring_seconds_bucket",
        "callcenter_legs_ringing",
        "callcenter_violations_total",
        "callcenter_ring_limit_alert_lateness_seconds_bucket",
        "callcenter_source_events_total",
        "callcenter_source_errors_total",
        "callcenter_anomalies_awaiting_report",
        "callcenter_orders_open",
        "callcenter_mqtt_up",
        "callcenter_database_up",
    ):
        assert needed in read, f"no panel shows {needed}"
