"""The scoring desk's use cases: a sample with what the service knows about its call, scoring
it once against its checklist, and the evaluation's sign-off (签字确认): the agent
acknowledges, or disputes and the QA lead upholds or revises. Every step is a history row,
written in the same transaction as the change it records.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.model import Principal, Role
from callcenter.auth.store import users
from callcenter.calls.rings import RingRule
from callcenter.clock import Clock
from callcenter.config import Holiday
from callcenter.db import keyset_before, locked_row
from callcenter.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.qa import store
from callcenter.qa.checklists import Checklist, Sheet
from callcenter.qa.context import SampleContext, load_context
from callcenter.qa.heard import OFF, keep, listen
from callcenter.qa.model import (
    QA_READERS,
    Evaluation,
    EvaluationStatus,
    Finding,
    Sample,
    Score,
    score_error,
)
from callcenter.qa.prefill import Suggestion, call_facts_json, opening_json
from callcenter.speech.evidence import Spotter
from callcenter.speech.findings import Listened

log = logging.getLogger(__name__)

Decision = Literal["uphold", "revise"]
Cursor = tuple[datetime, str]
# Who may open any sample besides its reviewer (to follow the reviewers' work).
SAMPLE_OVERSEERS = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Listed:
    """An evaluation with the names of the agent and the reviewer."""

    evaluation: Evaluation
    agent: str | None
    reviewer: str | None


@dataclass(frozen=True, slots=True)
class SampleView:
    sample: Sample
    context: SampleContext
    checklist: Checklist | None
    suggestions: list[Suggestion]
    facts: dict[str, Any]  # answered within the ring limit, who hung up first
    opening: dict[str, Any] | None  # the greeting the script asked for on the call's date
    evaluation_id: str | None
    heard: Listened = OFF  # where the transcript heard the script


def new_id() -> str:
    return uuid.uuid4().hex


def _not_found(evaluation_id: str) -> NotFound:
    return NotFound("no-such-evaluation", f"no evaluation {evaluation_id[:64]!r}", "id")


class Evaluations:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        checklists: Callable[[], dict[Sheet, Checklist]],
        station_name: Callable[[str], str],
        rule: RingRule,
        holidays: tuple[Holiday, ...],
        timezone: str,
        spotter: Spotter | None = None,
    ) -> None:
        self.db = db
        self.spotter = spotter
        self.clock = clock
        self.checklists = checklists
        self.station_name = station_name
        self.rule = rule
        self.holidays = holidays
        self.timezone = ZoneInfo(timezone)

    # -- the desk -----------------------------------------------------------------------------
    async def _sample(self, conn: AsyncConnection, sample_id: str, lock: bool = False) -> Sample:
        table, where = store.qa_samples, store.qa_samples.c.id == sample_id
        stmt = select(table).where(where)
        if lock:
            result = await locked_row(conn, table, where, stmt)
        else:
            result = await conn.execute(stmt)
        row = result.mappings().first()
        if row is None:
            raise NotFound("no-such-sample", f"no sample {sample_id[:64]!r}", "id")
        return store.sample_from_row(row)

    async def sample(self, user: Principal, sample_id: str) -> SampleView:
        """One sample for its reviewer (or a supervisor or admin), with the recording, the
        tickets as typed and the pre-fill."""
        async with self.db().connect() as conn:
            sample = await self._sample(conn, sample_id)
            if sample.reviewer_id != user.id and user.role not in SAMPLE_OVERSEERS:
                raise Forbidden("not-your-sample", "this sample was drawn for another reviewer")
            context = await load_context(conn, sample)
            scored = await conn.scalar(
                select(store.qa_evaluations.c.id).where(
                    store.qa_evaluations.c.sample_id == sample.id
                )
            )
            checklist = self.checklists().get(sample.sheet)
            heard = await listen(conn, self.spotter, sample, context, checklist)
        suggested = context.suggestions(checklist, self.station_name) if checklist else []
        opening = None
        if checklist is not None and context.offered_at is not None:
            on = context.offered_at.astimezone(self.timezone).date()
            opening = opening_json(checklist, on, self.holidays, context.work_number)
        facts = call_facts_json(context.facts, self.rule)
        return SampleView(sample, context, checklist, suggested, facts, opening, scored, heard)

    async def score(
        self,
        user: Principal,
        sample_id: str,
        scores: tuple[Score, ...],
        comment: str,
        good_example: bool,
        findings: tuple[Finding, ...] = (),
    ) -> Evaluation:
        """Score a sample once, against the current sheet; the service's evidence is kept
        beside each item it pre-filled, whether the reviewer kept its suggestion or not."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            sample = await self._sample(conn, sample_id, lock=True)
            if sample.reviewer_id != user.id:
                raise Forbidden("not-your-sample", "this sample was drawn for another reviewer")
            if sample.status == "scored":
                raise Conflict("already-scored", "this sample has been scored already")
            context = await load_context(conn, sample)
            if sample.status == "void" or context.recording_deleted:
                raise Conflict("recording-deleted", "the sample's recording was deleted")
            checklist = self.checklists().get(sample.sheet)
            if checklist is None:
                raise Conflict("spot-checks-off", f"no {sample.sheet} checklist is loaded")
            problem = score_error(checklist, scores)
            if problem is not None:
                raise Invalid("bad-score", problem[1], problem[0])
            suggested = {s.key: s for s in context.suggestions(checklist, self.station_name)}
            heard = await listen(conn, self.spotter, sample, context, checklist)
            kept = keep(checklist, scores, suggested, heard)
            taken = await conn.execute(
                update(store.qa_samples)
                .where(store.qa_samples.c.id == sample.id, store.qa_samples.c.status == "queued")
                .values(status="scored")
            )
            if taken.rowcount != 1:
                raise Conflict("already-scored", "this sample has been scored already")
            evaluation = Evaluation(
                id=new_id(),
                sample_id=sample.id,
                recording_id=sample.recording_id,
                call_id=sample.call_id,
                agent_id=sample.agent_id,
                reviewer_id=user.id,
                sheet=sample.sheet,
                checklist_version=checklist.version,
                checklist_sha256=checklist.sha256,
                scores=kept.scores,
                deducted=sum(s.deducted for s in kept.scores),
                comment=comment,
                good_example=good_example,
                status="open",
                scored_at=now,
                findings=findings,
            )
            try:
                await conn.execute(
                    store.qa_evaluations.insert(), [store.evaluation_row(evaluation)]
                )
            except IntegrityError:
                raise Conflict("already-scored", "this sample has been scored already") from None
            # The pre-filled items the reviewer heard otherwise: how often the service's
            # evidence is overridden says how far it can be trusted.
            detail = {
                "deducted": evaluation.deducted,
                "good_example": good_example,
                "findings": list(findings),
                "comment": comment,
                "overridden": kept.overridden,
            }
            await store.add_event(conn, evaluation.id, now, user.name, "scored", detail)
        log.info("sample scored sample=%s evaluation=%s by=%s", sample.id, evaluation.id, user.name)
        return evaluation

    # -- reading evaluations ------------------------------------------------------------------
    def _select(self) -> Any:
        agent, reviewer = users.alias("agent"), users.alias("reviewer")
        e = store.qa_evaluations
        return (
            select(e, agent.c.name.label("agent_name"), reviewer.c.name.label("reviewer_name"))
            .outerjoin(agent, agent.c.id == e.c.agent_id)
            .outerjoin(reviewer, reviewer.c.id == e.c.reviewer_id)
        )

    @staticmethod
    def _listed(row: Any) -> Listed:
        return Listed(store.evaluation_from_row(row), row["agent_name"], row["reviewer_name"])

    async def search(
        self,
        user: Principal,
        agent_id: int | None,
        statuses: tuple[EvaluationStatus, ...],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        cursor: Cursor | None,
    ) -> list[Listed]:
        """Newest first. An agent reads their own only (the HTTP layer refuses a colleague's
        name before it gets here; this is the rule's second lock)."""
        if user.role not in QA_READERS:
            if agent_id not in (None, user.id):
                raise Forbidden("not-your-evaluations", "agents read only their own evaluations")
            agent_id = user.id
        e = store.qa_evaluations
        stmt = self._select()
        if agent_id is not None:
            stmt = stmt.where(e.c.agent_id == agent_id)
        if statuses:
            stmt = stmt.where(e.c.status.in_(statuses))
        if start is not None:
            stmt = stmt.where(e.c.scored_at >= start)
        if end is not None:
            stmt = stmt.where(e.c.scored_at < end)
        if cursor is not None:
            stmt = stmt.where(keyset_before(e.c.scored_at, e.c.id, cursor))
        stmt = stmt.order_by(e.c.scored_at.desc(), e.c.id.desc()).limit(limit)
        async with self.db().connect() as conn:
            return [self._listed(r) for r in (await conn.execute(stmt)).mappings()]

    async def _one(self, conn: AsyncConnection, user: Principal, evaluation_id: str) -> Listed:
        stmt = self._select().where(store.qa_evaluations.c.id == evaluation_id)
        row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            raise _not_found(evaluation_id)
        listed = self._listed(row)
        if user.role not in QA_READERS and listed.evaluation.agent_id != user.id:
            # 403, not 404: ids are random (nothing to probe), and as with a colleague's
            # recording (not-your-recording) the agent is told plainly why.
            raise Forbidden("not-your-evaluation", "this evaluation is of another agent")
        return listed

    async def get(self, user: Principal, evaluation_id: str) -> tuple[Listed, list[dict[str, Any]]]:
        """One evaluation with its history, oldest step first."""
        async with self.db().connect() as conn:
            listed = await self._one(conn, user, evaluation_id)
            return listed, await store.history(conn, evaluation_id)

    # -- sign-off -----------------------------------------------------------------------------
    async def _move(
        self,
        user: Principal,
        evaluation_id: str,
        expected: EvaluationStatus,
        changed: Callable[[Evaluation], Evaluation],
        action: str,
        detail: Callable[[Evaluation, Evaluation], dict[str, Any]],
    ) -> Evaluation:
        """expected → changed(evaluation), with its history row, in one transaction; the
        UPDATE names the expected status, so two clicks at once move it once."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            before = (await self._one(conn, user, evaluation_id)).evaluation
            if before.status != expected:
                raise Conflict(
                    f"evaluation-not-{expected}",
                    f"the evaluation is {before.status}, not {expected}",
                )
            after = changed(before)
            e = store.qa_evaluations
            row = store.evaluation_row(after)
            done = await conn.execute(
                update(e)
                .where(e.c.id == before.id, e.c.status == expected)
                .values(
                    status=after.status,
                    signed_at=after.signed_at,
                    scores=row["scores"],
                    deducted=after.deducted,
                    findings=row["findings"],
                )
            )
            if done.rowcount != 1:
                raise Conflict(f"evaluation-not-{expected}", "the evaluation changed meanwhile")
            await store.add_event(conn, before.id, now, user.name, action, detail(before, after))
        log.info("evaluation %s id=%s by=%s", action, evaluation_id, user.name)
        return after

    def _own(self, user: Principal, evaluation: Evaluation) -> Evaluation:
        if evaluation.agent_id != user.id:
            raise Forbidden("not-your-evaluation", "only the agent evaluated signs it")
        return evaluation

    async def acknowledge(self, user: Principal, evaluation_id: str) -> Evaluation:
        """The agent signs (签字确认): open → acknowledged."""
        now = self.clock.now()
        return await self._move(
            user,
            evaluation_id,
            "open",
            lambda e: replace(self._own(user, e), status="acknowledged", signed_at=now),
            "acknowledged",
            lambda before, _after: {"deducted": before.deducted},
        )

    async def dispute(self, user: Principal, evaluation_id: str, comment: str) -> Evaluation:
        """The agent disagrees, saying why: open → disputed, back with the QA lead."""
        return await self._move(
            user,
            evaluation_id,
            "open",
            lambda e: replace(self._own(user, e), status="disputed"),
            "disputed",
            lambda _before, _after: {"comment": comment},
        )

    async def resolve(
        self,
        user: Principal,
        evaluation_id: str,
        decision: Decision,
        comment: str,
        scores: tuple[Score, ...] | None,
        findings: tuple[Finding, ...] | None = None,
    ) -> Evaluation:
        """The QA lead answers a dispute: disputed → upheld, or revised with new scores and,
        when given, new findings (the service's evidence stays with each item it
        pre-filled)."""
        if user.role != Role.QA_LEAD:
            raise Forbidden("forbidden", "only the QA lead (客服部长) resolves a dispute")

        def changed(e: Evaluation) -> Evaluation:
            if decision == "uphold":
                return replace(e, status="upheld")
            assert scores is not None
            checklist = self.checklists().get(e.sheet)
            if checklist is None or checklist.sha256 != e.checklist_sha256:
                raise Conflict(
                    "checklist-changed",
                    f"the {e.sheet} sheet changed since it was scored: uphold, or score again",
                )
            problem = score_error(checklist, scores)
            if problem is not None:
                raise Invalid("bad-score", problem[1], problem[0])
            old = {s.key: s for s in e.scores}
            # The lead's revision is a decision of its own: what the reviewer confirmed stays so.
            kept = tuple(
                replace(
                    s,
                    evidence=old[s.key].evidence,
                    prefilled=old[s.key].prefilled,
                    confirmed=s.confirmed or old[s.key].confirmed,
                )
                if s.key in old
                else s
                for s in scores
            )
            return replace(
                e,
                status="revised",
                scores=kept,
                deducted=sum(s.deducted for s in kept),
                findings=e.findings if findings is None else findings,
            )

        def detail(before: Evaluation, after: Evaluation) -> dict[str, Any]:
            out: dict[str, Any] = {"comment": comment}
            if decision == "revise":
                old = {s.key: s.deducted for s in before.scores}
                out["deducted"] = [before.deducted, after.deducted]
                out["changed"] = {
                    s.key: [old.get(s.key), s.deducted]
                    for s in after.scores
                    if old.get(s.key) != s.deducted
                }
                if before.findings != after.findings:
                    out["findings"] = [list(before.findings), list(after.findings)]
            return out

        action = "upheld" if decision == "uphold" else "revised"
        return await self._move(user, evaluation_id, "disputed", changed, action, detail)
