"""The wallboard's JSON: its tokens as the API lists them (never the token but at creation)
and its figures, the same object over HTTP and on the WebSocket (callcenter.wallboard/1)."""

from __future__ import annotations

from typing import Any

from callcenter.calls.rings import RingRule
from callcenter.clock import iso_z
from callcenter.wallboard.model import Figures, WallboardToken

SCHEMA = "callcenter.wallboard/1"


def token_json(token: WallboardToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "state": "revoked" if token.revoked else "active",
        "created_by": token.created_by,
        "created_at": iso_z(token.created_at),
        "revoked_by": token.revoked_by,
        "revoked_at": iso_z(token.revoked_at),
        "last_seen_at": iso_z(token.last_seen_at),
    }


def created_json(token: WallboardToken, secret: str, url: str) -> dict[str, Any]:
    """The one answer that carries the token: it is not stored and cannot be shown again."""
    return {**token_json(token), "token": secret, "url": url}


def figures_json(figures: Figures, rule: RingRule, timezone: str) -> dict[str, Any]:
    ringing = figures.ringing
    return {
        "schema": SCHEMA,
        "type": "figures",
        "day": figures.day,
        "timezone": timezone,
        "from": iso_z(figures.start),
        "to": iso_z(figures.end),
        "now": iso_z(figures.now),
        "ring_limit": rule.limit,
        "cycle_seconds": rule.cycle_seconds,
        # /api/stats/answers' and the daily report's figures for today's calls, as they are.
        "calls": dict(figures.calls),
        "rule": figures.verdict,
        "ringing": {
            "legs": ringing.legs,
            "past_limit": ringing.past_limit,
            "longest_since": iso_z(ringing.longest_since),
            "longest_seconds": ringing.longest_seconds,
            "longest_rings": ringing.longest_rings,
        },
        "violations": {
            "total": sum(figures.violations.values()),
            "by_kind": dict(figures.violations),
        },
        "anomalies": {
            "open": figures.anomalies_open,
            "today": sum(figures.anomalies_today.values()),
            "today_by_kind": dict(figures.anomalies_today),
        },
        "orders": {
            "open": sum(s.open for s in figures.orders),
            "by_station": [
                {"code": s.code, "name": s.name, "open": s.open} for s in figures.orders
            ],
        },
        "callbacks": {"due_today": figures.callbacks_due, "overdue": figures.callbacks_overdue},
    }
