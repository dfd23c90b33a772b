"""What /metrics reads from live objects at scrape time: legs ringing now, each PBX source's
counters, MQTT and the call writer, and the database figures read just before (store.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from callcenter.calls.rings import RingRule
from callcenter.calls.service import CallTracker
from callcenter.metrics.store import DatabaseFigures
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.telephony.hep.source import HepSource
from callcenter.telephony.source import PbxSource

Family = GaugeMetricFamily | CounterMetricFamily


@dataclass(frozen=True, slots=True)
class Live:
    """How the composition root lends its live objects (None / empty until started)."""

    tracker: Callable[[], CallTracker | None]
    sources: Callable[[], Iterable[PbxSource]]
    publisher: Callable[[], MqttPublisher | None]
    live_clients: Callable[[], int]
    now: Callable[[], datetime]
    rule: RingRule


@dataclass(frozen=True, slots=True)
class Scrape:
    """This scrape's database reading: None when the database did not answer."""

    figures: DatabaseFigures | None
    seconds: float


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def calls(live: Live) -> Iterator[Family]:
    tracker = live.tracker()
    if tracker is None:
        return
    now = live.now()
    ringing = past_limit = 0
    deadline = live.rule.deadline
    open_calls = sum(1 for call in tracker.calls.values() if not call.closed)
    for leg in tracker.ringing():
        ringing += 1
        if leg.ring_started_at is not None and now - leg.ring_started_at >= deadline:
            past_limit += 1
    yield _gauge("callcenter_legs_ringing", "Inbound calls' phones ringing now.", ringing)
    yield _gauge(
        "callcenter_legs_ringing_past_limit", "Phones ringing now past the ring limit.", past_limit
    )
    yield _gauge("callcenter_calls_open", "Calls open in memory (ringing or talking).", open_calls)
    writer = tracker.writer
    yield _gauge(
        "callcenter_calls_writer_lag_seconds",
        "How far saving call state is behind.",
        writer.lag_seconds(),
    )
    yield CounterMetricFamily(
        "callcenter_calls_save_failures",
        "Batches of call state the database refused or could not take.",
        value=writer.stats.failures,
    )
    refused = CounterMetricFamily(
        "callcenter_calls_refused",
        "Inputs changed or refused to keep memory and the database bounded, by kind.",
        labels=["kind"],
    )
    for kind, n in sorted(tracker.refused.items()):
        refused.add_metric([kind], n)
    yield refused
    yield CounterMetricFamily(
        "callcenter_source_events_handled",
        "Telephony events the call tracker applied, from every source.",
        value=tracker.events_handled,
    )


def sources(live: Live) -> Iterator[Family]:
    up = GaugeMetricFamily(
        "callcenter_source_up",
        "1: the PBX source is connected or listening.",
        labels=["source", "kind"],
    )
    events = CounterMetricFamily(
        "callcenter_source_events",
        "Events a PBX source handed to the core.",
        labels=["source", "kind"],
    )
    errors = CounterMetricFamily(
        "callcenter_source_errors",
        "Bad input or lost connections of a PBX source.",
        labels=["source", "kind"],
    )
    reconnects = CounterMetricFamily(
        "callcenter_source_reconnects", "Reconnections of a PBX source.", labels=["source", "kind"]
    )
    hep = CounterMetricFamily(
        "callcenter_hep_errors",
        "HEP input dropped, by reason (hep:auth-key, sip:dialog-evicted, …).",
        labels=["source", "error"],
    )
    for source in live.sources():
        st = source.status
        labels = [st.id, st.kind]
        up.add_metric(labels, 1.0 if st.state in ("connected", "listening") else 0.0)
        events.add_metric(labels, st.events)
        errors.add_metric(labels, st.errors)
        reconnects.add_metric(labels, st.reconnects)
        if isinstance(source, HepSource) and source.listener is not None:
            for error, n in sorted(source.listener.stats.errors.items()):
                hep.add_metric([st.id, error], n)
    yield from (up, events, errors, reconnects, hep)


def mqtt(live: Live) -> Iterator[Family]:
    publisher = live.publisher()
    if publisher is None:  # MQTT off
        return
    yield _gauge(
        "callcenter_mqtt_up", "1: connected to the MQTT broker.", float(publisher.connected)
    )
    yield _gauge(
        "callcenter_mqtt_queued", "MQTT messages waiting to be sent.", publisher.queue.qsize()
    )
    yield CounterMetricFamily(
        "callcenter_mqtt_published", "MQTT messages published.", value=publisher.published
    )
    yield CounterMetricFamily(
        "callcenter_mqtt_dropped", "MQTT messages dropped (queue full).", value=publisher.dropped
    )


def database(scrape: Scrape) -> Iterator[Family]:
    figures = scrape.figures
    yield _gauge(
        "callcenter_database_up",
        "1: the database answered this scrape.",
        float(figures is not None),
    )
    yield _gauge(
        "callcenter_metrics_database_seconds",
        "How long this scrape's database reading took.",
        scrape.seconds,
    )
    if figures is None:
        return
    orders = GaugeMetricFamily(
        "callcenter_orders_open", "Repair orders still at a station, by status.", labels=["status"]
    )
    for status, n in figures.orders_open.items():
        orders.add_metric([status], n)
    awaiting = GaugeMetricFamily(
        "callcenter_anomalies_awaiting_report",
        "Anomalies whose report to the department head is still due, by kind.",
        labels=["kind"],
    )
    for kind, n in sorted(figures.awaiting_report.items()):
        awaiting.add_metric([kind], n)
    complaints = GaugeMetricFamily(
        "callcenter_complaints_open", "Complaints not yet closed, by kind.", labels=["kind"]
    )
    for kind, n in figures.complaints_open.items():
        complaints.add_metric([kind], n)
    yield from (orders, awaiting, complaints)


class LiveCollector(Collector):
    """Registered once in the app's registry; `scrape` is set by the route for the one
    synchronous render that follows its database reading."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.scrape: Scrape | None = None

    def collect(self) -> Iterable[Family]:
        if self.scrape is None:  # registration (auto_describe): names only, no figures
            return []
        live = self.live
        return [
            *calls(live),
            *sources(live),
            *mqtt(live),
            *database(self.scrape),
            _gauge("callcenter_live_clients", "Live pages connected.", live.live_clients()),
        ]
