"""The one clock as JSON (a ticket's timeline, the clock report) and the report as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from callcenter.clock import iso_z
from callcenter.timeline.figures import PERCENTILES, ReportRow, Summary
from callcenter.timeline.model import METRICS, Round, Step, Timeline
from callcenter.timeline.pauses import Pause

METHOD = "nearest-rank"


def step_json(step: Step) -> dict[str, Any]:
    return {
        "step": step.name,
        "at": iso_z(step.at),
        "deadline": iso_z(step.deadline),
        "met": step.met,
        "late_seconds": None if step.late_seconds is None else round(step.late_seconds, 3),
        "paused": step.paused,
    }


def pause_json(pause: Pause, now: datetime) -> dict[str, Any]:
    return {
        "started_at": iso_z(pause.started_at),
        "ended_at": iso_z(pause.ended_at),
        "seconds": round(pause.seconds(now), 3),
        "reason": pause.reason,
        "note": pause.note,
        "by": pause.by,
        "ended_by": pause.ended_by,
    }


def round_json(r: Round, now: datetime) -> dict[str, Any]:
    order = r.order
    return {
        "round": order.round,
        "order_id": order.id,
        "station": order.station,
        "status": order.status,
        "result": order.result,
        "paused_since": iso_z(order.paused_since),
        "steps": [step_json(s) for s in r.steps],
        "pauses": [pause_json(p, now) for p in r.pauses],
    }


def timeline_json(timeline: Timeline, now: datetime) -> dict[str, Any]:
    f = timeline.figures
    return {
        "ticket_id": timeline.ticket.id,
        "kind": timeline.ticket.kind,
        "status": timeline.ticket.status,
        "incident_id": timeline.ticket.incident_id,
        "call_id": timeline.call.id if timeline.call is not None else None,
        "as_of": iso_z(now),
        "steps": [step_json(s) for s in timeline.steps],
        "rounds": [round_json(r, now) for r in timeline.rounds],
        "measured_order": timeline.measured,
        "figures": {
            **{m: f.get(m) for m in METRICS},
            "paused_seconds": f.paused_seconds,
        },
    }


def summary_json(s: Summary) -> dict[str, Any]:
    return {"count": s.count, "p50": s.p50, "p90": s.p90, "p99": s.p99, "max": s.max}


def row_json(row: ReportRow) -> dict[str, Any]:
    return {
        "date": row.day.isoformat() if row.day is not None else None,
        "station": row.station,
        "tickets": row.tickets,
        "without_call": row.without_call,
        **{m: summary_json(row.metrics[m]) for m in METRICS},
    }


def report_json(
    rows: list[ReportRow], first: str, last: str, station: str | None, tz: str, now: datetime
) -> dict[str, Any]:
    return {
        "from": first,
        "to": last,
        "station": station,
        "timezone": tz,
        "method": METHOD,
        "unit": "seconds",
        "generated_at": iso_z(now),
        "rows": [row_json(r) for r in rows],
    }


def _cells(s: Summary) -> list[Any]:
    values = [s.count, s.p50, s.p90, s.p99, s.max]
    return ["" if v is None else v for v in values]


def report_csv(rows: list[ReportRow]) -> bytes:
    """One line per row of the JSON; the date empty for the whole period, the station
    empty for every station (and "-" for the tickets no station has)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    head = ["date", "station", "tickets", "without_call"]
    for metric in METRICS:
        head += [f"{metric}_{c}" for c in ("count", *(f"p{p}" for p in PERCENTILES), "max")]
    writer.writerow(head)
    for row in rows:
        station = "" if row.station is None else row.station or "-"
        line: list[Any] = [row.day.isoformat() if row.day else "", station]
        line += [row.tickets, row.without_call]
        for metric in METRICS:
            line += _cells(row.metrics[metric])
        writer.writerow(line)
    # With a byte-order mark: a spreadsheet opens the UTF-8 as such.
    return ("\ufeff" + out.getvalue()).encode("utf-8")
