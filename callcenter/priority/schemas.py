"""Priority and the outdoor temperature as JSON: the `priority` of a ticket or an order, and
GET /api/temperature. Each reason has its factor, value and points (pages translate them)
and an English `text` for everyone else."""

from __future__ import annotations

from typing import Any

from callcenter.clock import iso_z
from callcenter.priority.model import Priority, Reading, Reason, TemperatureNow
from callcenter.priority.service import OutdoorTemperature, SourceError


def _hours(value: float) -> str:
    if value < 1:
        return f"{round(value * 60)} min"
    return f"{value:.1f} h".replace(".0 h", " h")


def reason_text(r: Reason) -> str:
    if r.factor == "category":
        return str(r.value) if r.value is not None else "no fault category"
    if r.factor == "outdoor":
        return "outdoor temperature unknown" if r.value is None else f"outdoor {r.value:g} °C"
    if r.factor == "vulnerability":
        return f"vulnerable: {r.value}"
    assert isinstance(r.value, float | int)
    return f"waiting {_hours(float(r.value))}"


def priority_json(p: Priority | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "score": p.score,
        "band": p.band,
        # "unknown" whenever the outdoor temperature did not count: the score is then a
        # lower bound, and the pages say so.
        "temperature": "ok" if p.outdoor.known else "unknown",
        "outdoor": {"state": p.outdoor.state, "celsius": p.outdoor.celsius},
        "reasons": [
            {"factor": r.factor, "value": r.value, "points": r.points, "text": reason_text(r)}
            for r in p.reasons
        ],
    }


def reading_json(r: Reading | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"celsius": r.celsius, "at": iso_z(r.at), "received_at": iso_z(r.received_at)}


def _error_json(e: SourceError | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"at": iso_z(e.at), "kind": e.kind, "code": e.code, "reason": e.reason}


def temperature_json(t: OutdoorTemperature) -> dict[str, Any]:
    now: TemperatureNow = t.now()
    p = t.settings.plausible
    return {
        "state": now.state,
        "celsius": now.celsius,
        "reason": now.reason,
        "source": t.source,
        "where": t.where,
        "last_good": reading_json(now.last_good),
        "stale_after_minutes": t.settings.stale_after_minutes,
        "plausible": {"min_celsius": p.min_celsius, "max_celsius": p.max_celsius},
        "last_error": _error_json(t.last_error),
        "counts": {"readings": t.readings, "invalid": dict(t.invalid), "failures": t.failures},
    }
