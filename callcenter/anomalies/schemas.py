"""JSON of anomalies: the API's (with the agent's detail text), and the one message the live
page and MQTT `<prefix>/anomalies` carry (no detail: it may hold what a resident said, and
never a resident's name, number or address; docs/anomalies.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.anomalies.model import (
    ANOMALY_KINDS,
    COMPLAINT_CLASSES,
    Anomaly,
    AnomalyKind,
    AnomalyOverdue,
    AnomalyRaised,
    ComplaintClass,
)
from callcenter.anomalies.service import Named, NewAnomaly
from callcenter.clock import iso_z
from callcenter.errors import Invalid

ANOMALY_SCHEMA = "callcenter.anomaly/1"
MAX_DETAIL = 2000
MAX_HOUSEHOLDS = 100_000


def _late(done: datetime | None, due: datetime | None) -> bool | None:
    if due is None or done is None:
        return None
    return done > due


def _common(a: Anomaly, agent: str | None) -> dict[str, Any]:
    return {
        "id": a.id,
        "number": a.number,
        "kind": a.kind,
        "source": a.source,
        "occurred_at": iso_z(a.occurred_at),
        "raised_at": iso_z(a.raised_at),
        "ticket_id": a.ticket_id,
        "order_id": a.order_id,
        "station": a.station,
        "agent_id": a.agent_id,
        "agent": agent,
        "report_due": iso_z(a.report_due),
        "class": a.complaint_class,
        "households": a.households,
        "follow_up_due": iso_z(a.follow_up_due),
        "escalated_at": iso_z(a.escalated_at),
    }


def anomaly_json(named: Named) -> dict[str, Any]:
    a = named.anomaly
    return {
        **_common(a, named.agent),
        "detail": a.detail,
        "reported_at": iso_z(a.reported_at),
        "reported_by": a.reported_by,
        # Reported after its due: the report counts, the 漏报 stays recorded.
        "report_late": _late(a.reported_at, a.report_due),
        "unreported_at": iso_z(a.unreported_at),
        "followed_up_at": iso_z(a.followed_up_at),
        "followed_up_by": a.followed_up_by,
        "follow_up_late_at": iso_z(a.follow_up_late_at),
        "status": ("closed" if a.closed_at else "open") if a.is_complaint else None,
        "closed_at": iso_z(a.closed_at),
        "closed_by": a.closed_by,
        "resolution": a.resolution,
    }


def live_json(event: AnomalyRaised | AnomalyOverdue, at: datetime) -> dict[str, Any]:
    """For the department head's live page and MQTT: `event` raised, unreported (漏报) or
    follow_up_missed; `late` when raised at start-up for a deadline passed while down."""
    a = event.anomaly
    return {
        "schema": ANOMALY_SCHEMA,
        "type": "anomaly",
        "event": "raised" if isinstance(event, AnomalyRaised) else event.what,
        "late": event.late,
        **_common(a, event.agent),
        "at": iso_z(at),
    }


# -- the request body ------------------------------------------------------------------------


def text(body: dict[str, Any], name: str, most: int = MAX_DETAIL) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("bad-field", f"{name} must be text", name)
    value = value.strip()
    if len(value) > most:
        raise Invalid("too-long", f"{name} is longer than {most} characters", name)
    if any((ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in value):
        raise Invalid("bad-field", f"{name} holds control characters", name)
    return value or None


def required_text(body: dict[str, Any], name: str, what: str) -> str:
    value = text(body, name)
    if value is None:
        raise Invalid("missing-field", what, name)
    return value


def kind_of(value: Any, name: str = "kind") -> AnomalyKind:
    kind = next((k for k in ANOMALY_KINDS if k == value), None)
    if kind is None:
        raise Invalid("unknown-kind", f"{name} must be one of {', '.join(ANOMALY_KINDS)}", name)
    return kind


def new_anomaly(body: dict[str, Any]) -> NewAnomaly:
    kind = kind_of(body.get("kind"))
    detail = required_text(body, "detail", "say what happened (who, about whom, what)")
    raw_class = body.get("class")
    cls: ComplaintClass | None = None
    if raw_class is not None:
        cls = next((c for c in COMPLAINT_CLASSES if c == raw_class), None)
        if cls is None:
            raise Invalid(
                "unknown-class", f"class must be one of {', '.join(COMPLAINT_CLASSES)}", "class"
            )
    households = body.get("households")
    if households is not None and (
        isinstance(households, bool)
        or not isinstance(households, int)
        or not 1 <= households <= MAX_HOUSEHOLDS
    ):
        raise Invalid(
            "bad-field", f"households must be a whole number 1-{MAX_HOUSEHOLDS}", "households"
        )
    return NewAnomaly(kind, detail, cls, households)
