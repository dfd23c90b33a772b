"""Tickets as JSON: the bodies the desk sends, checked field by field (every error names its
field), and one shape for what the API answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from callcenter.clock import iso_z
from callcenter.errors import Invalid
from callcenter.events import TicketTouched
from callcenter.privacy import mask_number
from callcenter.tickets import model
from callcenter.tickets.model import (
    CATEGORIES,
    KINDS,
    SEVERITIES,
    STATUSES,
    VULNERABILITIES,
    NewTicket,
    Patch,
    Ticket,
)
from callcenter.tickets.store import Found

MAX_NAME = 64
MAX_ADDRESS = 200
MAX_LOCATION = 200
MAX_DESCRIPTION = 2000
MAX_NOTE = 1000
MAX_CALL_ID = 64
CALL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

T = TypeVar("T", bound=str)


def text(
    body: dict[str, Any], key: str, longest: int, *, required: bool = False, lines: bool = False
) -> str | None:
    """A string field: None when absent (or null), refused when of another type, too long or
    holding control characters (new lines only where `lines`)."""
    value = body.get(key)
    if value is None:
        if required:
            raise Invalid("missing-field", f"{key} is required", key)
        return None
    if not isinstance(value, str):
        raise Invalid("bad-type", f"{key} must be a string", key)
    value = value.strip()
    if required and not value:
        raise Invalid("missing-field", f"{key} is required", key)
    if len(value) > longest:
        raise Invalid("too-long", f"{key} is longer than {longest} characters", key)
    allowed = "\n\t" if lines else ""
    if any((ord(c) < 32 and c not in allowed) or 0x7F <= ord(c) < 0xA0 for c in value):
        raise Invalid("bad-value", f"{key} holds control characters", key)
    return value


def choice(body: dict[str, Any], key: str, choices: tuple[T, ...]) -> T | None:
    value = body.get(key)
    if value is None:
        return None
    if value not in choices:
        raise Invalid(
            f"unknown-{key.replace('_', '-')}", f"{key} must be one of {', '.join(choices)}", key
        )
    return value  # type: ignore[no-any-return]


def phone(body: dict[str, Any], key: str = "phone") -> str | None:
    value = text(body, key, 32)
    if not value:
        return None
    number = model.normalize_phone(value)
    if number is None:
        raise Invalid(
            "bad-phone",
            f"{key} {value!r} is not a Chinese mobile (1[3-9] and 9 digits) "
            "or a landline with its area code (0xx-xxxxxxxx)",
            key,
        )
    return number


def _refuse_unknown(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key in model.READ_ONLY and key not in allowed:
            why = (
                "a ticket's history is append-only: a change adds a row, never rewrites one"
                if key in ("history", "timeline", "created_at", "agent", "agent_id")
                else f"{key} is not set by the client"
            )
            raise Invalid("read-only", why, key)
        if key not in allowed:
            raise Invalid("unknown-field", f"{key} is not a ticket field", key)


_NEW_FIELDS = (
    "kind", "reporter_name", "phone", "address", "station", "category", "fault_location",
    "severity", "description", "call", "incident", "vulnerability",
)  # fmt: skip


def new_ticket(body: dict[str, Any]) -> NewTicket:
    _refuse_unknown(body, _NEW_FIELDS)
    kind = choice(body, "kind", KINDS)
    if kind is None:
        raise Invalid("missing-field", f"kind is required: one of {', '.join(KINDS)}", "kind")
    return NewTicket(
        kind=kind,
        reporter_name=text(body, "reporter_name", MAX_NAME) or "",
        phone=phone(body),
        address=text(body, "address", MAX_ADDRESS) or None,
        station=text(body, "station", 32) or None,
        category=choice(body, "category", CATEGORIES),
        fault_location=text(body, "fault_location", MAX_LOCATION) or None,
        severity=choice(body, "severity", SEVERITIES),
        description=text(body, "description", MAX_DESCRIPTION, lines=True) or "",
        call=call_id(body),
        incident=text(body, "incident", 32) or None,
        vulnerability=choice(body, "vulnerability", VULNERABILITIES),
    )


def call_id(body: dict[str, Any]) -> str | None:
    """A call's id as this service gives them out; anything else names no call."""
    value = text(body, "call", MAX_CALL_ID)
    if not value:
        return None
    if not CALL_ID_RE.match(value):
        raise Invalid("no-such-call", f"no call {value!r}", "call")
    return value


_PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "kind": lambda b: choice(b, "kind", KINDS),
    "status": lambda b: choice(b, "status", STATUSES),
    "reporter_name": lambda b: text(b, "reporter_name", MAX_NAME) or "",
    "phone": phone,
    "address": lambda b: text(b, "address", MAX_ADDRESS) or None,
    "station": lambda b: text(b, "station", 32) or None,
    "category": lambda b: choice(b, "category", CATEGORIES),
    "fault_location": lambda b: text(b, "fault_location", MAX_LOCATION) or None,
    "severity": lambda b: choice(b, "severity", SEVERITIES),
    "description": lambda b: text(b, "description", MAX_DESCRIPTION, lines=True) or "",
    "vulnerability": lambda b: choice(b, "vulnerability", VULNERABILITIES),
}


def patch(body: dict[str, Any]) -> Patch:
    _refuse_unknown(body, (*model.EDITABLE, "note"))
    values = {key: parse(body) for key, parse in _PARSERS.items() if key in body}
    for key in ("kind", "status"):
        if key in values and values[key] is None:
            raise Invalid("missing-field", f"{key} cannot be cleared", key)
    note = text(body, "note", MAX_NOTE, lines=True) or None
    if not values and note is None:
        raise Invalid("empty-change", "send at least one field to change, or a note")
    return Patch(values, note)


def linked_call(body: dict[str, Any]) -> str:
    _refuse_unknown(body, ("call",))
    text(body, "call", MAX_CALL_ID, required=True)
    value = call_id(body)
    assert value is not None
    return value


# -- out -----------------------------------------------------------------------------------


def _number(value: str | None, full: bool) -> str | None:
    return value if full else mask_number(value)


def ticket_json(found: Found, full_number: bool) -> dict[str, Any]:
    t: Ticket = found.ticket
    return {
        "id": t.id,
        "kind": t.kind,
        "status": t.status,
        "next_statuses": sorted(model.next_statuses(t.kind, t.status)),
        "reporter_name": t.reporter_name,
        "phone": _number(t.phone, full_number),
        "address": t.address_typed,
        "address_standard": t.address_standard,
        "address_routing": t.address_routing,
        "address_reason": t.address_reason,
        "station_proposed": t.station_proposed,
        "station": t.station,
        "flags": t.address_flags,
        "category": t.category,
        "fault_location": t.fault_location,
        "severity": t.severity,
        "description": t.description,
        "vulnerability": t.vulnerability,
        "agent": found.agent_name,
        "agent_id": t.agent_id,
        "agent_work_number": t.agent_work_number,
        "created_at": iso_z(t.created_at),
        "updated_at": iso_z(t.updated_at),
        "incident": t.incident_id,
    }


def live_json(event: TicketTouched) -> dict[str, Any]:
    """A ticket taken or changed, for the live pages: no resident data (see TicketTouched)."""
    return {
        "type": "ticket",
        "action": event.action,
        "ticket_id": event.ticket_id,
        "kind": event.kind,
        "category": event.category,
        "status": event.status,
        "station": event.station,
        "agent_id": event.agent_id,
        "agent": event.agent,
        "by": event.by,
        "at": iso_z(event.at),
    }


def call_json(r: Any, full_number: bool) -> dict[str, Any]:
    return {
        "id": r.call_id,
        "linked_at": iso_z(r.linked_at),
        "how": r.how,
        "linked_by": r.linked_by,
        "caller": _number(r.caller, full_number),
        "direction": "inbound" if r.monitored else "outbound",
        "offered_at": iso_z(r.offered_at),
        "answered_at": iso_z(r.answered_at),
        "ended_at": iso_z(r.ended_at),
        "outcome": r.final,
        "agent": r.agent_name,
        "extension": r.extension,
    }


def event_json(row: dict[str, Any], full_number: bool) -> dict[str, Any]:
    detail = dict(row["detail"])
    if "changes" in detail and "phone" in detail["changes"]:
        detail["changes"] = {
            **detail["changes"],
            "phone": [_number(v, full_number) for v in detail["changes"]["phone"]],
        }
    if "phone" in detail:
        detail["phone"] = _number(detail["phone"], full_number)
    return {
        "id": row["id"],
        "at": iso_z(row["at"]),
        "by": row["user_name"],
        "work_number": row["work_number"],
        "action": row["action"],
        **detail,
    }
