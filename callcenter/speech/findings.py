"""Phrase spotting's results as the scoring desk and the transcript route give them, pure: per
checklist item listened for, the evidence heard (or null: listened for, not heard) and the
deduction it suggests. A suggestion is never a score: the reviewer confirms or overrides each
one before an evaluation is accepted (qa/heard.py), and only evaluations reach the monthly
assessment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.privacy import mask_number
from callcenter.qa.checklists import Checklist
from callcenter.speech.model import Found
from callcenter.speech.readback import READ_BACK_ITEMS

# Heard this surely (every clause, or all but a short one by its pinyin), the item is
# suggested as done; heard less surely, the desk shows the evidence and suggests nothing: the
# reviewer listens at the marked second. Not heard at all: the item's full deduction.
DONE_AT = 0.8


def suggested(points: int, found: Found | None) -> int | None:
    if found is None:
        return points
    return 0 if found.confidence >= DONE_AT else None


def found_json(found: Found, masked: bool = False) -> dict[str, Any]:
    heard = found.heard
    if masked and READ_BACK_ITEMS.get(found.item) == "phone":
        # A reader who sees numbers masked on the ticket sees the read-back masked too.
        heard = mask_number("".join(ch for ch in heard if not ch.isspace())) or ""
    return {
        "phrase": found.phrase if not masked or found.how != "readback" else None,
        "heard": heard,
        "start": round(found.start, 2),
        "end": round(found.end, 2),
        "confidence": round(found.confidence, 2),
        "how": found.how,
        "clauses": found.clauses,
        "missing": list(found.missing),
    }


def items_json(
    checklist: Checklist, evidence: Mapping[str, Found | None], *, masked: bool = False
) -> list[dict[str, Any]]:
    """The items listened for, in the sheet's order."""
    out = []
    for item in checklist.items:
        if item.key not in evidence:
            continue
        found = evidence[item.key]
        out.append(
            {
                "key": item.key,
                "zh": item.zh,
                "en": item.en,
                "points": item.points,
                "found": found_json(found, masked) if found is not None else None,
                "suggested": suggested(item.points, found),
            }
        )
    return out


def evidence_text(found: Found | None) -> str:
    """One line kept beside the reviewer's score (the evaluation's record of what the service
    heard), in the language of the sheet's own words."""
    if found is None:
        return "speech: not heard in the transcript"
    where = f"{_clock(found.start)}–{_clock(found.end)}"
    heard = found_json(found, masked=True)["heard"]  # kept where agents read it: masked
    missing = f"; not heard: {'，'.join(found.missing)}" if found.missing else ""
    return (
        f"speech: heard 「{heard}」 at {where} ({found.how}, "
        f"{round(found.confidence * 100)} %){missing}"
    )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}.{int((seconds - whole) * 10)}"


@dataclass(frozen=True, slots=True)
class Listened:
    """What the transcript says about a sample's items: `state` is the recording's job state
    (None: never queued; "off": transcription not installed or off); `evidence` only for a
    Mandarin transcript with a loaded sheet."""

    state: str | None
    reason: str | None = None
    language: str | None = None
    evidence: Mapping[str, Found | None] | None = None

    def suggestions(self, checklist: Checklist) -> dict[str, tuple[int, Found | None]]:
        """{item: (suggested deduction, evidence)} for the items the transcript decides."""
        out: dict[str, tuple[int, Found | None]] = {}
        for item in checklist.items:
            if self.evidence is None or item.key not in self.evidence:
                continue
            found = self.evidence[item.key]
            deduction = suggested(item.points, found)
            if deduction is not None:
                out[item.key] = (deduction, found)
        return out


def listened_json(
    listened: Listened, checklist: Checklist | None, recording_id: str, *, masked: bool
) -> dict[str, Any]:
    items = None
    if listened.evidence is not None and checklist is not None:
        items = items_json(checklist, listened.evidence, masked=masked)
    return {
        "state": listened.state,
        "reason": listened.reason,
        "language": listened.language,
        "transcript_url": f"/api/recordings/{recording_id}/transcript",
        "items": items,
    }
