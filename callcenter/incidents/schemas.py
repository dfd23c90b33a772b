"""Incidents as JSON (API, live page, MQTT callcenter/incidents), and request bodies read
with errors that name the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.clock import iso_z
from callcenter.errors import Invalid
from callcenter.incidents.model import GRANULARITIES, Incident, Place
from callcenter.incidents.service import IncidentChanged, Opening
from callcenter.orders.model import Order
from callcenter.tickets.model import CATEGORIES
from callcenter.web.paging import EARLIEST, LATEST

MQTT_TOPIC = "incidents"
SCHEMA = "callcenter.incidents/1"
MAX_CAUSE = 500
MAX_ANNOUNCEMENT = 1000
MAX_PLACES = 50


def incident_json(i: Incident, counts: tuple[int, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": i.id,
        "status": i.status,
        "station": i.station,
        "area": [{"kind": p.kind, "name": p.name} for p in i.area],
        "area_label": i.area_label,
        "categories": list(i.categories),
        "cause": i.cause,
        "started_at": iso_z(i.started_at),
        "expected_repair_at": iso_z(i.expected_repair_at),
        "announcement": i.announcement,
        "created_at": iso_z(i.created_at),
        "created_by": i.created_by,
        "proposed": i.created_by == "service",
        "opened_at": iso_z(i.opened_at),
        "opened_by": i.opened_by,
        "closed_at": iso_z(i.closed_at),
        "closed_by": i.closed_by,
        "repaired_at": iso_z(i.repaired_at),
        "note": i.note,
        "ticket": i.ticket_id,
    }
    if counts is not None:
        body["tickets"], body["calls"] = counts
    return body


def order_brief(order: Order | None) -> dict[str, Any] | None:
    if order is None:
        return None
    return {
        "id": order.id,
        "status": order.status,
        "station": order.station,
        "dispatched_at": iso_z(order.dispatched_at),
        "accepted_at": iso_z(order.accepted_at),
        "returned_at": iso_z(order.returned_at),
    }


def live_json(
    event: IncidentChanged, live: list[tuple[Incident, tuple[int, int]]]
) -> dict[str, Any]:
    """The live page's message: what changed and every live incident with its counts."""
    return {
        "type": "incidents",
        "change": {"id": event.incident.id, "action": event.action, "by": event.by},
        "at": iso_z(event.at),
        "incidents": [incident_json(i, c) for i, c in live],
    }


def counts_json(live: list[tuple[Incident, tuple[int, int]]], at: datetime) -> dict[str, Any]:
    """The live page's incidents again: the tickets and calls each has taken by now."""
    return {
        "type": "incidents",
        "change": None,
        "at": iso_z(at),
        "incidents": [incident_json(i, c) for i, c in live],
    }


def mqtt_json(event: IncidentChanged | None, live: list[Incident], at: datetime) -> dict[str, Any]:
    """callcenter/incidents (retained): every open incident with what an IVR plays, so that a
    PBX connecting later learns the state at once. Proposals are not announced."""
    return {
        "schema": SCHEMA,
        "type": "incidents",
        "at": iso_z(at),
        "change": (
            {"id": event.incident.id, "action": event.action} if event is not None else None
        ),
        "open": [
            {
                "id": i.id,
                "station": i.station,
                "area": [p.name for p in i.area],
                "area_label": i.area_label,
                "categories": list(i.categories),
                "cause": i.cause,
                "started_at": iso_z(i.started_at),
                "expected_repair_at": iso_z(i.expected_repair_at),
                "announcement": {"zh-CN": i.announcement},
            }
            for i in live
            if i.status == "open"
        ],
    }


# -- reading requests ----------------------------------------------------------------------


def _refuse_unknown(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise Invalid("unknown-field", f"{key} is not an incident field here", key)


def _text(body: dict[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("bad-type", f"{key} must be a string", key)
    value = value.strip()
    if len(value) > limit:
        raise Invalid("too-long", f"{key}: at most {limit} characters", key)
    return value or None


def _time(body: dict[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("bad-time", f"{key} must be an ISO 8601 time with its offset", key)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("bad-time", f"{key}: {value[:40]!r} is not an ISO 8601 time", key) from None
    if parsed.tzinfo is None:
        raise Invalid("bad-time", f"{key} needs its offset (Z or +08:00)", key)
    if not EARLIEST <= parsed < LATEST:  # year 1 or 9999 would overflow in the zone's arithmetic
        raise Invalid(
            "bad-time", f"{key} must be between {EARLIEST.year} and {LATEST.year - 1}", key
        )
    return parsed


def area(body: dict[str, Any]) -> list[tuple[str, str]] | None:
    """[{kind, name}] as typed; the service reads each against the address book."""
    value = body.get("area")
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise Invalid("bad-area", "area: a list of {kind, name} places", "area")
    if len(value) > MAX_PLACES:
        raise Invalid("bad-area", f"area: at most {MAX_PLACES} places", "area")
    places = []
    for n, item in enumerate(value):
        if not isinstance(item, dict) or set(item) - {"kind", "name"}:
            raise Invalid("bad-area", f"area[{n}]: {{kind, name}}", "area")
        kind, name = item.get("kind"), item.get("name")
        if kind not in GRANULARITIES:
            raise Invalid("bad-area", f"area[{n}].kind: one of {', '.join(GRANULARITIES)}", "area")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise Invalid("bad-area", f"area[{n}].name: the place's name", "area")
        places.append((kind, name.strip()))
    return places


def categories(body: dict[str, Any]) -> tuple[str, ...] | None:
    value = body.get("categories")
    if value is None:
        return None
    if not isinstance(value, list) or not value or any(c not in CATEGORIES for c in value):
        raise Invalid(
            "bad-categories", f"categories: a list of {', '.join(CATEGORIES)}", "categories"
        )
    return tuple(dict.fromkeys(value))


_OPEN_FIELDS = (
    "area", "station", "categories", "cause", "started_at", "expected_repair_at", "announcement",
)  # fmt: skip


def opening(body: dict[str, Any], places: tuple[Place, ...] | None) -> Opening:
    _refuse_unknown(body, _OPEN_FIELDS)
    return Opening(
        area=places,
        station=_text(body, "station", 32),
        categories=categories(body),
        cause=_text(body, "cause", MAX_CAUSE),
        started_at=_time(body, "started_at"),
        expected_repair_at=_time(body, "expected_repair_at"),
        announcement=_text(body, "announcement", MAX_ANNOUNCEMENT),
    )


def patch(body: dict[str, Any]) -> dict[str, Any]:
    _refuse_unknown(body, ("cause", "expected_repair_at", "announcement"))
    values: dict[str, Any] = {}
    if "cause" in body:
        cause = _text(body, "cause", MAX_CAUSE)
        if not cause:
            raise Invalid("missing-field", "cause cannot be empty", "cause")
        values["cause"] = cause
    if "expected_repair_at" in body:
        values["expected_repair_at"] = _time(body, "expected_repair_at")
    if "announcement" in body:
        values["announcement"] = _text(body, "announcement", MAX_ANNOUNCEMENT) or ""
    if not values:
        raise Invalid("empty-patch", "nothing to change: cause, expected_repair_at, announcement")
    return values


def reason(body: dict[str, Any], key: str) -> str:
    _refuse_unknown(body, (key,))
    return _text(body, key, MAX_CAUSE) or ""


def closing(body: dict[str, Any]) -> tuple[str, datetime | None]:
    _refuse_unknown(body, ("note", "repaired_at"))
    return _text(body, "note", MAX_CAUSE) or "", _time(body, "repaired_at")
