"""Which events are the alerts a pair raises exactly once, with the MQTT message of each, and
the witness on their topics. The composition root names the topics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from callcenter.anomalies import schemas as anomalies_schemas
from callcenter.anomalies.model import AnomalyOverdue, AnomalyRaised
from callcenter.calls import schemas as calls_schemas
from callcenter.calls.rings import RingRule
from callcenter.config import MqttSettings
from callcenter.events import RingLimitReached
from callcenter.ha.alerts import AlertSpec, Describe
from callcenter.ha.witness import Witness


def describe_alerts(
    rule: RingRule, ring_topic: str, anomaly_topic: str, now: Callable[[], datetime]
) -> Describe:
    """A ring limit per leg; per anomaly its raising, its missed report (漏报) and its missed
    follow-up: each with the message MQTT carries."""

    def describe(event: object) -> AlertSpec | None:
        if isinstance(event, RingLimitReached):
            message = calls_schemas.alert_json(event, rule)
            due, at = event.deadline_at, event.raised_at
            return AlertSpec("ring_limit", event.leg_pk, ring_topic, message, due, at,
                             event.late, id=event.violation_id)  # fmt: skip
        if isinstance(event, AnomalyRaised | AnomalyOverdue):
            a = event.anomaly
            if isinstance(event, AnomalyRaised):
                kind, due, at = "anomaly", a.occurred_at, a.raised_at
            else:
                kind, due = event.what, a.report_due or a.follow_up_due or a.raised_at
                at = a.unreported_at or a.follow_up_late_at or now()
            message = anomalies_schemas.live_json(event, at)
            return AlertSpec(kind, a.id, anomaly_topic, message, due, at, event.late)
        return None

    return describe


def witness_for(mqtt: MqttSettings, instance: str, topics: list[str]) -> Witness | None:
    """The instance's eye on the broker (witness.py); none with the embedded broker (a pair
    needs an external one)."""
    if mqtt.embedded:
        return None
    barrier = f"{mqtt.topic_prefix}/ha/barrier/{instance}"
    return Witness(mqtt.broker.host, mqtt.broker.port, mqtt.username, mqtt.password,
                   f"callcenter-{instance}-witness", topics, barrier)  # fmt: skip
