"""JSON of callbacks: the agent's list, one callback, the answers a callback records, and the
figures (callback rate, on time, satisfaction) per agent or station."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callcenter.callbacks.model import ATTITUDES, OUTCOMES, Answers, Callback, Outcome
from callcenter.clock import iso_z
from callcenter.errors import Invalid
from callcenter.web.paging import EARLIEST, LATEST

MAX_SUGGESTIONS = 2000
_FIELDS = {"outcome", "solved", "attitude", "charged", "score", "suggestions", "fee_reminded",
           "call_at", "call"}  # fmt: skip


def callback_json(c: Callback, now: datetime) -> dict[str, Any]:
    return {
        "id": c.id,
        "ticket_id": c.ticket_id,
        "order_id": c.order_id,
        "reason": c.reason,
        "agent_id": c.agent_id,
        "station": c.station,
        "status": c.status,
        "created_at": iso_z(c.created_at),
        "due_at": iso_z(c.due_at),
        "overdue": c.overdue(now),
        "booked_for": iso_z(c.booked_for),
        "attempts": c.attempts,
        "done_at": iso_z(c.done_at),
        "done_by": c.done_by,
        "on_time": c.on_time(),
        "call_id": c.call_id,
        "answers": None
        if c.status != "done"
        else {
            "solved": c.solved,
            "attitude": c.attitude,
            "charged": c.charged,
            "score": c.score,
            "suggestions": c.suggestions,
            "fee_reminded": c.fee_reminded,
        },
    }


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise Invalid("bad-field", f"{name} must be true or false", name)
    return value


def _time(body: dict[str, Any], name: str) -> datetime:
    text = body.get(name)
    try:
        if not isinstance(text, str):
            raise ValueError
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if value.tzinfo is None or not EARLIEST <= value < LATEST:
            raise ValueError
    except ValueError:
        raise Invalid(
            "bad-call-at", f"{name} must be an ISO 8601 time with its offset", name
        ) from None
    return value


def record(body: dict[str, Any]) -> tuple[Outcome, Answers | None, datetime | None, str | None]:
    """POST /api/callbacks/{id}: outcome answered (with a–f), rebooked (call_at) or
    no_answer; `call` names the call it was made on (else the agent's current one)."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise Invalid("unknown-field", f"unknown field {unknown[0]!r}", unknown[0])
    outcome = next((o for o in OUTCOMES if o == body.get("outcome")), None)
    if outcome is None:
        raise Invalid("bad-outcome", f"outcome must be one of {', '.join(OUTCOMES)}", "outcome")
    call = body.get("call")
    if call is not None and (not isinstance(call, str) or not 1 <= len(call) <= 64):
        raise Invalid("bad-field", "call must be a call's id", "call")
    if outcome == "rebooked":
        return outcome, None, _time(body, "call_at"), call
    if outcome == "no_answer":
        return outcome, None, None, call
    attitude = next((a for a in ATTITUDES if a == body.get("attitude")), None)
    if attitude is None:
        raise Invalid("bad-field", f"attitude must be one of {', '.join(ATTITUDES)}", "attitude")
    score = body.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 10:
        raise Invalid("bad-field", "score must be a whole number from 1 to 10", "score")
    suggestions = body.get("suggestions", "")
    if not isinstance(suggestions, str) or len(suggestions) > MAX_SUGGESTIONS:
        raise Invalid(
            "bad-field", f"suggestions: text of at most {MAX_SUGGESTIONS} characters", "suggestions"
        )
    answers = Answers(
        solved=_bool(body, "solved"),
        attitude=attitude,
        charged=_bool(body, "charged"),
        score=score,
        suggestions=suggestions.strip(),
        fee_reminded=bool(body.get("fee_reminded", False)),
    )
    return outcome, answers, None, call


def figures_json(rows: list[dict[str, Any]], names: dict[Any, str]) -> list[dict[str, Any]]:
    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    out = []
    for r in rows:
        owed, made = int(r["owed"]), int(r["made"])
        out.append(
            {
                "key": r["key"],
                "name": names.get(r["key"], str(r["key"]) if r["key"] is not None else None),
                "owed": owed,
                "made": made,
                "callback_rate": share(made, owed),
                "on_time": int(r["on_time"]),
                "on_time_rate": share(int(r["on_time"]), made),
                "satisfied": int(r["satisfied"]),
                "satisfaction": share(int(r["satisfied"]), made),
                "charged": int(r["charged"]),
                "mean_score": round(float(r["mean_score"]), 2)
                if r["mean_score"] is not None
                else None,
            }
        )
    return out


def live_json(event: Any) -> dict[str, Any]:
    """A callback made or re-booked (service.CallbackRecorded), for the live pages: no
    resident data. `charged` tells the department head a resident reports paying a fee."""
    c: Callback = event.callback
    return {
        "type": "callback",
        "outcome": event.outcome,
        "callback_id": c.id,
        "ticket_id": c.ticket_id,
        "station": c.station,
        "status": c.status,
        "satisfied": None if c.status != "done" else bool(c.solved and c.attitude != "unsatisfied"),
        "charged": c.charged,
        "rework_order": event.rework_order,
        "by": event.by,
        "at": iso_z(event.at),
    }
