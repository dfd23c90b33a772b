"""The service's own running totals and histograms for /metrics, in one registry per app
(tests build many apps in a process: never prometheus_client's global registry).

The call tracker tells `call_changed` of every change as it applies it (ring seconds are
timed there, from the capture timestamps); the bus hands `published` its domain events, the
ring-limit alert first of all its handlers, so its lateness is measured as it goes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from callcenter.anomalies.model import AnomalyOverdue, AnomalyRaised
from callcenter.calls.model import CallState
from callcenter.calls.rings import RingRule
from callcenter.calls.stats import AnswerStats
from callcenter.events import CallClosed, PhoneStopped, RingLimitReached, ViolationRecorded
from callcenter.orders.service import OrderChanged

# Published − deadline: the benchmark's target is tens of milliseconds.
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def ring_buckets(rule: RingRule) -> tuple[float, ...]:
    """Whole ring cycles up to twice the limit (the limit itself is a bucket edge, so the
    histogram reads "answered within the limit" exactly), then the long tail."""
    cycle = rule.cycle_us / 1_000_000
    edges = {round(cycle * n, 3) for n in range(1, 2 * rule.limit + 1)}
    edges |= {60.0, 120.0, 180.0, 300.0}
    return tuple(sorted(edges))


class Metrics:
    def __init__(self, rule: RingRule) -> None:
        self.rule = rule
        # Where metrics.listen bound (set by http.separate_listener once it listens).
        self.address: tuple[str, int] | None = None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.offered = Counter(
            "callcenter_calls_offered", "Inbound calls offered to the hotline.", registry=r
        )
        self.answered = Counter(
            "callcenter_calls_answered", "Inbound calls answered (counted at the answer).",
            registry=r,
        )  # fmt: skip
        self.within_limit = Counter(
            "callcenter_calls_answered_within_limit",
            "Inbound calls answered within the ring limit, no phone of theirs rung past it.",
            registry=r,
        )
        self.closed = Counter(
            "callcenter_calls_closed",
            "Inbound calls by final outcome (answered, abandoned, unanswered, lost), at close.",
            ["outcome"],
            registry=r,
        )
        self.abandoned_in_time = Counter(
            "callcenter_calls_abandoned_in_time",
            "Callers who hung up before the ring-limit deadline: not counted in the rate.",
            registry=r,
        )
        self.ring_seconds = Histogram(
            "callcenter_ring_seconds",
            "How long an inbound call's phone rang, by how the leg ended.",
            ["outcome"],
            buckets=ring_buckets(rule),
            registry=r,
        )
        self.alerts = Counter(
            "callcenter_ring_limit_alerts",
            "Ring-limit alerts published; late=true: raised at start for a deadline that fell "
            "while the service was down.",
            ["late"],
            registry=r,
        )
        self.alert_lateness = Histogram(
            "callcenter_ring_limit_alert_lateness_seconds",
            "Live ring-limit alerts: published − deadline.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.violations = Counter(
            "callcenter_violations", "Violations recorded, by kind.", ["kind"], registry=r
        )
        self.order_changes = Counter(
            "callcenter_order_changes",
            "Repair orders by the status they entered (sent: dispatched; recalled; accepted, "
            "contacted, returned, refused by their station).",
            ["status"],
            registry=r,
        )
        self.anomalies = Counter(
            "callcenter_anomalies_raised", "Anomalies recorded, by kind.", ["kind"], registry=r
        )
        self.overdue = Counter(
            "callcenter_anomalies_overdue",
            "Anomalies whose own deadline passed unmet (unreported, follow_up_missed).",
            ["what"],
            registry=r,
        )

    # -- from the call tracker, as each change is applied (the hot path: cheap) -------------
    def call_offered(self, call: CallState) -> None:
        if call.monitored:
            self.offered.inc()

    def call_changed(self, call: CallState, events: Sequence[object], now: datetime) -> None:
        if not call.monitored:
            return  # outbound (callbacks): no ring rule, not in the statistics
        for event in events:
            if isinstance(event, PhoneStopped):
                self._leg_stopped(call, event, now)
            elif isinstance(event, CallClosed):
                self.closed.labels(event.outcome).inc()
                if event.outcome == "abandoned":
                    verdict = AnswerStats()
                    verdict.add(call, self.rule, now)
                    if verdict.abandoned_in_time:
                        self.abandoned_in_time.inc()

    def _leg_stopped(self, call: CallState, event: PhoneStopped, now: datetime) -> None:
        leg = next((x for x in call.legs.values() if x.id == event.leg_pk), None)
        if leg is not None and leg.ring_started_at is not None:
            seconds = (event.at - leg.ring_started_at).total_seconds()
            self.ring_seconds.labels(event.outcome).observe(max(seconds, 0.0))
        if event.outcome == "answered":
            # The same verdict as the statistics: any phone of the call past the limit fails it.
            verdict = AnswerStats()
            verdict.add(call, self.rule, now)
            self.answered.inc()
            if verdict.answered_within_limit:
                self.within_limit.inc()

    # -- from the bus, as each event is published ------------------------------------------
    def published(self, event: object, now: datetime) -> None:
        if isinstance(event, RingLimitReached):
            self.alerts.labels("true" if event.late else "false").inc()
            if not event.late:
                lateness = (now - event.deadline_at).total_seconds()
                self.alert_lateness.observe(max(lateness, 0.0))
        elif isinstance(event, ViolationRecorded):
            self.violations.labels(event.kind).inc()
        elif isinstance(event, OrderChanged):
            # A pause or its end (callcenter/timeline) enters no status.
            if event.action not in ("paused", "resumed"):
                self.order_changes.labels(event.order.status).inc()
        elif isinstance(event, AnomalyRaised):
            self.anomalies.labels(event.anomaly.kind).inc()
        elif isinstance(event, AnomalyOverdue):
            self.overdue.labels(event.what).inc()
