"""Spot checks (录音抽查), pure: samples drawn for reviewers, evaluations scored against a
checklist by deduction, and their sign-off (签字确认) — the agent acknowledges, or disputes
with a comment and the QA lead upholds or revises the evaluation. Every step is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from callcenter.auth.model import Role
from callcenter.qa.checklists import Checklist, Sheet

# A team lead checks each agent every day; the QA lead (客服部长) every week.
Scope = Literal["daily", "weekly"]
SCOPES: tuple[Scope, ...] = ("daily", "weekly")
SCOPE_OF: dict[Role, Scope] = {Role.TEAM_LEAD: "daily", Role.QA_LEAD: "weekly"}
REVIEWERS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD})
# Who reads every evaluation (the agent reads their own).
QA_READERS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})

SampleStatus = Literal["queued", "scored", "void"]  # void: the recording was deleted
EvaluationStatus = Literal["open", "acknowledged", "disputed", "upheld", "revised"]
# open: waiting for the agent; disputed: back with the QA lead; upheld / revised: the QA
# lead's answer to a dispute (final); acknowledged: signed by the agent (final).
FINAL: frozenset[EvaluationStatus] = frozenset({"acknowledged", "upheld", "revised"})
# What the reviewer hears that no checklist item scores (004 录音抽查 问题): 接听电话态度不好,
# 对外进行无效承诺 (a serious violation), 错误引导. Marked on the evaluation, fined monthly.
Finding = Literal["bad_attitude", "invalid_promise", "wrong_guidance"]
FINDINGS: tuple[Finding, ...] = ("bad_attitude", "invalid_promise", "wrong_guidance")


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    reviewer_id: int
    scope: Scope
    period: str  # "2026-12-03" (daily) or "2026-W49" (weekly)
    seed: str
    recording_id: str
    call_id: str | None
    agent_id: int | None
    ticket_id: str | None
    sheet: Sheet
    weight: float
    drawn_at: datetime
    status: SampleStatus = "queued"


@dataclass(frozen=True, slots=True)
class Score:
    """One checklist item: points deducted (0 … the item's points), a comment, and the
    evidence the service had for it when it pre-filled it (the ticket's fields, the call's
    facts, where the transcript heard the script)."""

    key: str
    deducted: int
    comment: str = ""
    evidence: str | None = None
    prefilled: bool = False
    # The reviewer confirmed the transcript's suggestion for this item (qa/heard.py).
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class Evaluation:
    id: str
    sample_id: str
    recording_id: str
    call_id: str | None
    agent_id: int | None
    reviewer_id: int
    sheet: Sheet
    checklist_version: int
    checklist_sha256: str
    scores: tuple[Score, ...]
    deducted: int
    comment: str
    good_example: bool  # 闪光点: a call to learn from
    status: EvaluationStatus
    scored_at: datetime
    signed_at: datetime | None = None
    findings: tuple[Finding, ...] = ()  # in the order of FINDINGS


def score_error(checklist: Checklist, scores: tuple[Score, ...]) -> tuple[str, str] | None:
    """(field, why) when the scores do not fit the sheet: an unknown or repeated item, a
    deduction beyond the item's points, an item left out."""
    seen: set[str] = set()
    for s in scores:
        item = checklist.item(s.key)
        if item is None:
            return s.key, f"no item {s.key!r} on the {checklist.sheet} sheet"
        if s.key in seen:
            return s.key, f"item {s.key!r} is scored twice"
        seen.add(s.key)
        if not 0 <= s.deducted <= item.points:
            return s.key, f"{item.zh} ({s.key}) is worth {item.points}: deduct 0-{item.points}"
    missing = [i.key for i in checklist.items if i.key not in seen]
    if missing:
        return missing[0], f"every item is scored: {missing[0]!r} is missing"
    return None
