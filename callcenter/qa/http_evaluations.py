"""Routes of the scoring desk: the sheets, one sample with its pre-fill, scoring it, and the
evaluations' sign-off (the agent acknowledges or disputes, the QA lead resolves)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.auth import store as auth_store
from callcenter.auth.http import json_body, principal
from callcenter.auth.model import NAME_RE, Principal, Role
from callcenter.errors import Forbidden, Invalid
from callcenter.privacy import NumberPolicy
from callcenter.qa import schemas
from callcenter.qa.checklists import Checklist, Sheet
from callcenter.qa.model import QA_READERS, REVIEWERS, EvaluationStatus
from callcenter.qa.service import SAMPLE_OVERSEERS, Evaluations, Listed
from callcenter.web.paging import paged, read_cursor, read_instant, read_limit
from callcenter.web.params import path_id

# Agents read their own evaluations; the leads, supervisors and admins all of them.
EVALUATION_READERS = QA_READERS | {Role.AGENT}
STATUSES: tuple[EvaluationStatus, ...] = ("open", "acknowledged", "disputed", "upheld", "revised")


@dataclass(frozen=True, slots=True)
class EvaluationsDeps:
    evaluations: Callable[[], Evaluations]
    checklists: Callable[[], dict[Sheet, Checklist]]
    numbers: NumberPolicy
    timezone: str


EVALUATIONS = web.AppKey("qa_evaluations", EvaluationsDeps)


def _json(
    deps: EvaluationsDeps, listed: Listed, history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return schemas.evaluation_json(listed, deps.checklists().get(listed.evaluation.sheet), history)


async def _detail(deps: EvaluationsDeps, user: Principal, evaluation_id: str) -> dict[str, Any]:
    """What every step answers: the evaluation as it is now, with its history."""
    listed, history = await deps.evaluations().get(user, evaluation_id)
    return _json(deps, listed, history)


async def list_checklists(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    await principal(request, EVALUATION_READERS)
    return web.json_response([schemas.checklist_json(c) for c in deps.checklists().values()])


async def get_sample(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    user = await principal(request, REVIEWERS | SAMPLE_OVERSEERS)
    view = await deps.evaluations().sample(user, path_id(request, "sample"))
    # The sample's reviewer judges "phone recorded wrong" against what was said, so sees the
    # number in full on the samples drawn for them (a QA lead is masked elsewhere, [privacy]).
    full = view.sample.reviewer_id == user.id or deps.numbers.full(user.role.value)
    return web.json_response(schemas.sample_json(view, full))


async def score_sample(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    user = await principal(request, REVIEWERS)
    sample_id = path_id(request, "sample")
    scores, comment, good, found = schemas.evaluation_body(await json_body(request))
    evaluation = await deps.evaluations().score(user, sample_id, scores, comment, good, found)
    return web.json_response(
        await _detail(deps, user, evaluation.id),
        status=201,
        headers={"Location": f"/api/qa/evaluations/{evaluation.id}"},
    )


async def list_evaluations(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    user = await principal(request, EVALUATION_READERS)
    q = request.query
    statuses: list[EvaluationStatus] = []
    for name in (q.get("status") or "").split(","):
        if not name:
            continue
        status = next((s for s in STATUSES if s == name), None)
        if status is None:
            raise Invalid(
                "bad-parameter", f"status must be some of {', '.join(STATUSES)}", "status"
            )
        statuses.append(status)
    agent_id = None
    if q.get("agent"):
        if user.role not in QA_READERS and q["agent"] != user.name:
            # Refused before the name is looked up: an agent learns nothing of colleagues.
            raise Forbidden("not-your-evaluations", "agents read only their own evaluations")
        agent = None
        if NAME_RE.match(q["agent"]):
            async with deps.evaluations().db().connect() as conn:
                agent = await auth_store.user_by_name(conn, q["agent"])
        if agent is None:
            raise Invalid("no-such-agent", f"no user named {q['agent'][:64]!r}", "agent")
        agent_id = agent.id
    tz = ZoneInfo(deps.timezone)
    start, end = read_instant(request, "from", tz), read_instant(request, "to", tz)
    if start is not None and end is not None and end <= start:
        raise Invalid("bad-range", "to must be after from", "to")
    limit = read_limit(request)
    rows = await deps.evaluations().search(
        user, agent_id, tuple(statuses), start, end, limit, read_cursor(request)
    )
    last = (rows[-1].evaluation.scored_at, rows[-1].evaluation.id) if rows else None
    return paged(request, [_json(deps, r) for r in rows], limit, last)


async def get_evaluation(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    user = await principal(request, EVALUATION_READERS)
    return web.json_response(await _detail(deps, user, path_id(request, "evaluation")))


async def acknowledge(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    user = await principal(request, frozenset({Role.AGENT}))
    evaluation_id = path_id(request, "evaluation")
    await deps.evaluations().acknowledge(user, evaluation_id)
    return web.json_response(await _detail(deps, user, evaluation_id))


async def dispute(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    user = await principal(request, frozenset({Role.AGENT}))
    evaluation_id = path_id(request, "evaluation")
    comment = schemas.dispute_body(await json_body(request))
    await deps.evaluations().dispute(user, evaluation_id, comment)
    return web.json_response(await _detail(deps, user, evaluation_id))


async def resolve(request: web.Request) -> web.Response:
    deps = request.app[EVALUATIONS]
    user = await principal(request, frozenset({Role.QA_LEAD}))
    evaluation_id = path_id(request, "evaluation")
    decision, comment, scores, found = schemas.resolve_body(await json_body(request))
    await deps.evaluations().resolve(user, evaluation_id, decision, comment, scores, found)
    return web.json_response(await _detail(deps, user, evaluation_id))


def add_routes(app: web.Application, deps: EvaluationsDeps) -> None:
    app[EVALUATIONS] = deps
    r = app.router
    r.add_get("/api/qa/checklists", list_checklists, name="qa_checklists")
    r.add_get("/api/qa/samples/{id}", get_sample, name="qa_sample")
    r.add_post("/api/qa/samples/{id}/evaluation", score_sample, name="qa_sample_evaluation")
    r.add_get("/api/qa/evaluations", list_evaluations, name="qa_evaluations")
    r.add_get("/api/qa/evaluations/{id}", get_evaluation, name="qa_evaluation")
    r.add_post("/api/qa/evaluations/{id}/acknowledge", acknowledge, name="qa_acknowledge")
    r.add_post("/api/qa/evaluations/{id}/dispute", dispute, name="qa_dispute")
    r.add_post("/api/qa/evaluations/{id}/resolve", resolve, name="qa_resolve")
