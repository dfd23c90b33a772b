"""Probe results and line alerts as JSON: the same payload on HTTP, the live WebSocket and
MQTT (`<prefix>/alerts/line`)."""

from __future__ import annotations

from typing import Any

from callcenter.clock import iso_z
from callcenter.probe.model import Line, LineAlerted, ProbeResult


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def result_json(r: ProbeResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "started_at": iso_z(r.started_at),
        "number": r.number,
        "outcome": r.outcome,
        "ok": r.ok,
        "sip_status": r.sip_status,
        "ring_seconds": _seconds(r.ring_seconds),
        "answer_seconds": _seconds(r.answer_seconds),
        "detail": r.detail,
        "sip_call_id": r.sip_call_id,
        "line": r.line.state,
        "failures": r.line.failures,
        "alert": r.alert,
    }


def alert_json(event: LineAlerted, probe: str) -> dict[str, Any]:
    """`line_down` / `line_up` (the README documents it): on MQTT and on the live page."""
    r = event.result
    message: dict[str, Any] = {
        "type": event.kind,
        "number": r.number,
        "probe": probe,
        "since": iso_z(event.since),
        "raised_at": iso_z(event.raised_at),
        "failures": r.line.failures,
        "result_id": r.id,
        "outcome": r.outcome,
        "sip_status": r.sip_status,
        "ring_seconds": _seconds(r.ring_seconds),
        "answer_seconds": _seconds(r.answer_seconds),
        "detail": r.detail,
    }
    if event.kind == "line_up":
        message["down_seconds"] = round((r.started_at - event.since).total_seconds(), 3)
    return message


def line_json(line: Line, last: ProbeResult | None, number: str) -> dict[str, Any]:
    """The line as the live page's snapshot shows it (its banner while down)."""
    return {
        "state": line.state,
        "number": number,
        "since": iso_z(line.since),
        "failures": line.failures,
        "last": result_json(last) if last is not None else None,
    }
