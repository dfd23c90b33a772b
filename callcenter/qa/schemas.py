"""Spot checks as JSON: the sheets, a sample on the scoring desk, an evaluation and its
history, and the bodies a reviewer, an agent and the QA lead send (each error names its
field: `scores[3].deducted`, `comment`)."""

from __future__ import annotations

from typing import Any

from callcenter.clock import iso_z
from callcenter.errors import Invalid
from callcenter.qa.checklists import Checklist
from callcenter.qa.model import FINDINGS, Finding, Score
from callcenter.qa.service import Decision, Listed, SampleView
from callcenter.recordings.schemas import recording_json
from callcenter.speech.findings import listened_json
from callcenter.tickets.schemas import ticket_json

MAX_COMMENT = 2000
MAX_ITEM_COMMENT = 500
MAX_SCORES = 100
# What the desk's player offers (the audio route serves HTTP Range, so it can seek).
PLAYER = {"speeds": [1.0, 1.25, 1.5, 1.75, 2.0], "skip_silence": True}


def checklist_json(c: Checklist) -> dict[str, Any]:
    return {
        "sheet": c.sheet,
        "version": c.version,
        "sha256": c.sha256,
        "zh": c.zh,
        "en": c.en,
        "total": c.total,
        "items": [
            {
                "key": i.key,
                "points": i.points,
                "zh": i.zh,
                "en": i.en,
                "phrases": list(i.phrases),
                "known": i.known,
                "holiday_opening": i.holiday_opening,
            }
            for i in c.items
        ],
    }


def sample_json(view: SampleView, full_number: bool) -> dict[str, Any]:
    s, ctx = view.sample, view.context
    rec = ctx.recording
    return {
        "id": s.id,
        "status": s.status,
        "scope": s.scope,
        "period": s.period,
        "sheet": s.sheet,
        "reviewer_id": s.reviewer_id,
        "agent_id": s.agent_id,
        "call_id": s.call_id,
        "ticket_id": s.ticket_id,
        "weight": s.weight,
        "drawn_at": iso_z(s.drawn_at),
        "evaluation_id": view.evaluation_id,
        "recording": recording_json(rec) if rec is not None else None,
        "player": PLAYER,
        "tickets": [ticket_json(f, full_number) for f in ctx.tickets],
        "checklist": checklist_json(view.checklist) if view.checklist else None,
        "prefill": {
            "items": [
                {"key": p.key, "deducted": p.deducted, "evidence": p.evidence}
                for p in view.suggestions
            ],
            "call": view.facts,
            "opening": view.opening,
            # Where the transcript heard the script: evidence and suggestions to confirm.
            "speech": listened_json(
                view.heard, view.checklist, s.recording_id, masked=not full_number
            ),
        },
    }


def _score_json(s: Score, checklist: Checklist | None) -> dict[str, Any]:
    item = checklist.item(s.key) if checklist is not None else None
    return {
        "key": s.key,
        "zh": item.zh if item else None,
        "en": item.en if item else None,
        "points": item.points if item else None,
        "deducted": s.deducted,
        "comment": s.comment,
        "prefilled": s.prefilled,
        "confirmed": s.confirmed,
        "evidence": s.evidence,
    }


def evaluation_json(
    listed: Listed,
    checklist: Checklist | None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    e = listed.evaluation
    # Item names and points from the sheet it was scored against, when that is still loaded.
    same = checklist if checklist is not None and checklist.sha256 == e.checklist_sha256 else None
    out: dict[str, Any] = {
        "id": e.id,
        "sample_id": e.sample_id,
        "recording_id": e.recording_id,
        "audio_url": f"/api/recordings/{e.recording_id}/audio",
        "call_id": e.call_id,
        "agent_id": e.agent_id,
        "agent": listed.agent,
        "reviewer_id": e.reviewer_id,
        "reviewer": listed.reviewer,
        "sheet": e.sheet,
        "checklist_version": e.checklist_version,
        "checklist_sha256": e.checklist_sha256,
        "points": same.total if same else None,
        "deducted": e.deducted,
        "scores": [_score_json(s, same) for s in e.scores],
        "comment": e.comment,
        "good_example": e.good_example,
        "findings": list(e.findings),
        "status": e.status,
        "scored_at": iso_z(e.scored_at),
        "signed_at": iso_z(e.signed_at),
    }
    if history is not None:
        out["history"] = [{**h, "at": iso_z(h["at"])} for h in history]
    return out


# -- bodies ----------------------------------------------------------------------------------


def _unknown(body: dict[str, Any], known: set[str], where: str = "") -> None:
    unknown = sorted(str(k) for k in set(body) - known)
    if unknown:
        raise Invalid("unknown-field", f"unknown field {unknown[0][:64]!r}", where + unknown[0])


def _text(body: dict[str, Any], key: str, most: int, field: str, required: bool = False) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > most:
        raise Invalid("bad-field", f"{key} must be text of at most {most} characters", field)
    # Control characters break the printed sheet; NUL and lone surrogates (JSON may carry
    # "\ud800") are not text PostgreSQL stores.
    if any((ord(c) < 32 and c not in "\n\t") or 0xD800 <= ord(c) < 0xE000 for c in value):
        raise Invalid("bad-field", f"{key} holds control characters", field)
    if required and not value.strip():
        raise Invalid("comment-required", f"{key} is required: say why", field)
    return value.strip()


def scores(raw: Any, field: str = "scores") -> tuple[Score, ...]:
    """[{key, deducted, comment, confirmed}]: the shape only; the sheet's rules are
    model.score_error, the transcript's suggestions qa/heard.keep."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SCORES:
        raise Invalid("bad-field", f"{field} must be a list of 1-{MAX_SCORES} items", field)
    out = []
    for n, item in enumerate(raw):
        where = f"{field}[{n}]"
        if not isinstance(item, dict):
            raise Invalid("bad-field", f"{where} must be an object", where)
        _unknown(item, {"key", "deducted", "comment", "confirmed"}, f"{where}.")
        key = item.get("key")
        if not isinstance(key, str) or not 1 <= len(key) <= 32:
            raise Invalid("bad-field", f"{where}.key must name a checklist item", f"{where}.key")
        deducted = item.get("deducted")
        if isinstance(deducted, bool) or not isinstance(deducted, int):
            # The item names the field: an out-of-range whole number is model.score_error's.
            raise Invalid("bad-score", f"{key[:32]}: deducted must be a whole number", key)
        comment = _text(item, "comment", MAX_ITEM_COMMENT, f"{where}.comment")
        confirmed = item.get("confirmed", False)
        if not isinstance(confirmed, bool):
            why = f"{where}.confirmed must be true or false"
            raise Invalid("bad-field", why, f"{where}.confirmed")
        out.append(Score(key=key, deducted=deducted, comment=comment, confirmed=confirmed))
    return tuple(out)


def findings(raw: Any) -> tuple[Finding, ...]:
    """["bad_attitude", …]: the findings marked, each once, in the order of FINDINGS."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise Invalid("bad-field", f"findings must be a list of {', '.join(FINDINGS)}", "findings")
    unknown = [f for f in raw if f not in FINDINGS]
    if unknown:
        raise Invalid(
            "unknown-finding",
            f"no finding {unknown[0][:32]!r}: one of {', '.join(FINDINGS)}",
            "findings",
        )
    if len(set(raw)) != len(raw):
        raise Invalid("bad-field", "a finding is marked once", "findings")
    return tuple(f for f in FINDINGS if f in raw)


def evaluation_body(
    body: dict[str, Any],
) -> tuple[tuple[Score, ...], str, bool, tuple[Finding, ...]]:
    """POST /api/qa/samples/{id}/evaluation: every item's deduction, an overall comment,
    whether the call is a good example (闪光点), and the findings no item scores."""
    _unknown(body, {"scores", "comment", "good_example", "findings"})
    good = body.get("good_example", False)
    if not isinstance(good, bool):
        raise Invalid("bad-field", "good_example must be true or false", "good_example")
    found = findings(body.get("findings"))
    return scores(body.get("scores")), _text(body, "comment", MAX_COMMENT, "comment"), good, found


def dispute_body(body: dict[str, Any]) -> str:
    _unknown(body, {"comment"})
    return _text(body, "comment", MAX_COMMENT, "comment", required=True)


Resolution = tuple[Decision, str, tuple[Score, ...] | None, tuple[Finding, ...] | None]


def resolve_body(body: dict[str, Any]) -> Resolution:
    """{decision: uphold|revise, comment, scores (revise), findings (revise, else kept)}:
    the QA lead's answer, in words."""
    _unknown(body, {"decision", "comment", "scores", "findings"})
    decision = body.get("decision")
    if decision not in ("uphold", "revise"):
        raise Invalid("bad-decision", "decision must be uphold or revise", "decision")
    comment = _text(body, "comment", MAX_COMMENT, "comment", required=True)
    if decision == "uphold":
        for kept in ("scores", "findings"):
            if body.get(kept) is not None:
                raise Invalid("bad-field", f"an upheld evaluation keeps its {kept}", kept)
        return "uphold", comment, None, None
    if body.get("scores") is None:
        raise Invalid("scores-required", "a revision gives every item's new deduction", "scores")
    found = findings(body["findings"]) if body.get("findings") is not None else None
    return "revise", comment, scores(body["scores"]), found
