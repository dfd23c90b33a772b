"""Calls, violations and alerts as JSON: one shape for HTTP, WebSocket and MQTT."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.calls.model import CallState, LegState
from callcenter.calls.rings import RingRule
from callcenter.clock import iso_z as iso
from callcenter.events import (
    CallClosed,
    OverflowAttempted,
    PhoneRang,
    PhoneStopped,
    RingLimitReached,
    ViolationRecorded,
)
from callcenter.privacy import mask_number


def number(value: str | None, full: bool) -> str | None:
    return value if full else mask_number(value)


def leg_ring_seconds(leg: LegState, now: datetime) -> float | None:
    if leg.ring_started_at is None:
        return None
    stop = leg.stopped_at() or now
    return round(max(0.0, (stop - leg.ring_started_at).total_seconds()), 3)


def within_limit(leg: LegState, rule: RingRule, now: datetime) -> bool | None:
    """True: answered in time. False: answered late, or rang past the limit. None: no verdict
    (never rang, or stopped ringing unanswered before the limit)."""
    if leg.ring_started_at is None:
        return None
    if leg.answered_at is not None:
        return rule.within_limit(leg.ring_started_at, leg.answered_at)
    if leg.ring_limit_recorded or not rule.within_limit(
        leg.ring_started_at, leg.stopped_at() or now
    ):
        return False
    return None


def leg_json(leg: LegState, rule: RingRule, now: datetime) -> dict[str, Any]:
    seconds = leg_ring_seconds(leg, now)
    return {
        "id": leg.id,
        "extension": leg.extension,
        "agent": leg.agent.name if leg.agent else None,
        "ring_started_at": iso(leg.ring_started_at),
        "answered_at": iso(leg.answered_at),
        "ended_at": iso(leg.ended_at),
        "ring_seconds": seconds,
        "rings": rule.rings(seconds) if seconds is not None else None,
        "outcome": leg.outcome or ("ringing" if leg.ringing else None),
        "end_cause": leg.end_cause,
    }


def call_json(call: CallState, rule: RingRule, now: datetime, full_numbers: bool) -> dict[str, Any]:
    leg = call.primary_leg()
    seconds = leg_ring_seconds(leg, now) if leg else None
    return {
        "id": call.id,
        "sip_call_id": call.call_id,
        "source": call.source,
        "direction": "inbound" if call.monitored else "outbound",
        "caller": number(call.caller, full_numbers),
        "dialed": call.dialed,
        "agent": leg.agent.name if leg and leg.agent else None,
        "extension": leg.extension if leg else None,
        "offered_at": iso(call.offered_at),
        "ring_started_at": iso(leg.ring_started_at) if leg else None,
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "ring_seconds": seconds,
        "rings": rule.rings(seconds) if seconds is not None else None,
        "outcome": call.outcome,
        "within_ring_limit": within_limit(leg, rule, now) if leg else None,
        "hung_up_by": call.hung_up_by,
        "legs": [leg_json(x, rule, now) for x in call.legs.values()],
    }


def violation_json(
    *,
    id: str,
    kind: str,
    occurred_at: datetime,
    call_pk: str,
    sip_call_id: str | None,
    extension: str | None,
    agent: str | None,
    caller: str | None,
    rings: int | None,
    ring_seconds: float | None,
    detail: str,
    full_numbers: bool,
    leg_outcome: str | None = None,
    leg_end_cause: str | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "kind": kind,
        "occurred_at": iso(occurred_at),
        "call_id": call_pk,
        "sip_call_id": sip_call_id,
        "extension": extension,
        "agent": agent,
        "caller": number(caller, full_numbers),
        "rings": rings,
        "ring_seconds": None if ring_seconds is None else round(ring_seconds, 3),
        "detail": detail,
        # How the phone's leg ended (null while it rings): a ring_limit row whose phone then
        # rang out says so here instead of a second violation.
        "leg_outcome": leg_outcome,
        "leg_end_cause": leg_end_cause,
    }


def violation_row_json(row: Any, full_numbers: bool) -> dict[str, Any]:
    return violation_json(
        id=row.id,
        kind=row.kind,
        occurred_at=row.occurred_at,
        call_pk=row.call_pk,
        sip_call_id=row.sip_call_id,
        extension=row.extension,
        agent=row.agent_name,
        caller=row.caller,
        rings=row.rings,
        ring_seconds=row.ring_seconds,
        detail=row.detail,
        full_numbers=full_numbers,
        leg_outcome=row.leg_outcome,
        leg_end_cause=row.leg_end_cause,
    )


def alert_json(alert: RingLimitReached, rule: RingRule) -> dict[str, Any]:
    """The ring-limit alert (MQTT callcenter/alerts/ring-limit, WebSocket type ring_limit).
    The resident's number is masked: alert consumers are wallboards and other systems."""
    return {
        "type": "ring_limit",
        "violation_id": alert.violation_id,
        "call_id": alert.call_pk,
        "leg_id": alert.leg_pk,
        "sip_call_id": alert.sip_call_id,
        "extension": alert.extension,
        "agent": alert.agent,
        "caller": mask_number(alert.caller),
        "ring_started_at": iso(alert.ring_started_at),
        "deadline_at": iso(alert.deadline_at),
        "raised_at": iso(alert.raised_at),
        "rings": alert.rings,
        # true when the deadline fell while the service was down: raised once, at start.
        "late": alert.late,
        "limit": rule.limit,
        "cycle_seconds": rule.cycle_seconds,
    }


def live_json(event: object, rule: RingRule) -> dict[str, Any] | None:
    """A domain event as a live WebSocket message (callers in full; the hub masks per role)."""
    if isinstance(event, PhoneRang):
        return {
            "type": "phone_rang",
            "call_id": event.call_pk,
            "leg_id": event.leg_pk,
            "extension": event.extension,
            "agent": event.agent,
            "caller": event.caller,
            "ring_started_at": iso(event.ring_started_at),
            "monitored": event.monitored,
            "state": "ringing",
        }
    if isinstance(event, PhoneStopped):
        return {
            "type": "phone_stopped",
            "call_id": event.call_pk,
            "leg_id": event.leg_pk,
            "extension": event.extension,
            "agent": event.agent,
            "outcome": event.outcome,
            "at": iso(event.at),
            "rings": event.rings,
        }
    if isinstance(event, CallClosed):
        return {
            "type": "call_closed",
            "call_id": event.call_pk,
            "outcome": event.outcome,
            "at": iso(event.at),
        }
    if isinstance(event, ViolationRecorded):
        return {
            "type": "violation",
            **violation_json(
                id=event.id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                call_pk=event.call_pk,
                sip_call_id=None,
                extension=event.extension,
                agent=event.agent,
                caller=event.caller,
                rings=event.rings,
                ring_seconds=event.ring_seconds,
                detail=event.detail,
                full_numbers=True,
            ),
        }
    if isinstance(event, RingLimitReached):
        return {**alert_json(event, rule), "caller": event.caller}
    if isinstance(event, OverflowAttempted):
        return {
            "type": "overflow" if event.ok else "overflow_failed",
            "id": event.id,
            "call_id": event.call_pk,
            "leg_id": event.leg_pk,
            "source": event.source,
            "extension": event.extension,
            "agent": event.agent,
            "target": event.target,
            "at": iso(event.at),
            "ok": event.ok,
            "response": event.response,
        }
    return None
