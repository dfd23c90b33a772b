"""The recordings a period's draw chooses from, and what a drawn sample is shown with: one
indexed query each (calls by offered_at, their recordings and answering leg by call), the
flags a draw leans on computed in the same statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.auth.store import users
from callcenter.callbacks.store import callbacks
from callcenter.calls.store import calls, legs, violations
from callcenter.qa.checklists import Sheet
from callcenter.qa.sampling import Candidate
from callcenter.qa.store import qa_samples
from callcenter.recordings.store import recordings
from callcenter.tickets.store import ticket_calls, tickets

# What the hotline fines (004 考核): answering too late, hanging up on a resident first. A
# ring_limit against the agent who then answered is a late answer the live timer caught.
LEANING_VIOLATIONS = ("late_answer", "ring_limit", "hung_up_first")


def violation_on(call_id: Any, agent_id: Any) -> ColumnElement[bool]:
    return exists().where(
        violations.c.call_pk == call_id,
        violations.c.agent_id == agent_id,
        violations.c.kind.in_(LEANING_VIOLATIONS),
    )


def complaint_on(call_id: Any) -> ColumnElement[bool]:
    return exists().where(
        ticket_calls.c.call_id == call_id,
        tickets.c.id == ticket_calls.c.ticket_id,
        tickets.c.kind == "complaint",
    )


def callback_call(call_id: Any) -> ColumnElement[bool]:
    # callbacks.call_id has no index: an uncorrelated IN is read once (a hashed subplan on
    # PostgreSQL, an ephemeral index on SQLite), not once per call.
    made = select(callbacks.c.call_id).where(callbacks.c.call_id.is_not(None))
    in_: ColumnElement[bool] = call_id.in_(made)
    return in_


def ticket_of(call_id: Any) -> Any:
    """The call's ticket, a complaint first: what the evaluation looks at beside the call."""
    return (
        select(ticket_calls.c.ticket_id)
        .join(tickets, tickets.c.id == ticket_calls.c.ticket_id)
        .where(ticket_calls.c.call_id == call_id)
        .order_by(case((tickets.c.kind == "complaint", 0), else_=1), ticket_calls.c.linked_at)
        .limit(1)
        .scalar_subquery()
    )


@dataclass(frozen=True, slots=True)
class Found:
    candidate: Candidate
    ticket_id: str | None
    call_at: datetime


async def candidates(
    conn: AsyncConnection, start: datetime, end: datetime, new_agent_days: int
) -> list[Found]:
    """Recordings not deleted and not empty of answered calls offered in [start, end), with
    the agent who took the call: the answering leg's, or for a call placed from an agent's
    phone (a callback, unmonitored) the caller's."""
    caller = users.alias("caller")
    agent = func.coalesce(legs.c.agent_id, caller.c.id)
    stmt = (
        select(
            recordings.c.id.label("recording_id"),
            calls.c.id.label("call_id"),
            agent.label("agent_id"),
            calls.c.answered_at,
            ticket_of(calls.c.id).label("ticket_id"),
            violation_on(calls.c.id, legs.c.agent_id).label("violation"),
            complaint_on(calls.c.id).label("complaint"),
            callback_call(calls.c.id).label("callback"),
        )
        .select_from(
            calls.join(recordings, recordings.c.call_pk == calls.c.id)
            .outerjoin(
                legs, and_(legs.c.call_pk == calls.c.id, legs.c.leg_ref == calls.c.answered_leg)
            )
            .outerjoin(
                caller, and_(caller.c.extension == calls.c.caller, calls.c.monitored.is_(False))
            )
        )
        .where(
            calls.c.offered_at >= start,
            calls.c.offered_at < end,
            calls.c.answered_at.is_not(None),
            recordings.c.deleted_at.is_(None),
            recordings.c.empty.is_(False),
        )
    )
    rows = (await conn.execute(stmt)).all()
    joined = await joined_at(conn)
    first_month = timedelta(days=new_agent_days)
    out = []
    for r in rows:
        if r.agent_id is None:
            continue  # nobody's call (a phone no user answers): no agent to check
        since = joined.get(r.agent_id)
        sheet: Sheet = "callback" if r.callback else "intake"
        c = Candidate(
            recording_id=r.recording_id,
            agent_id=r.agent_id,
            call_id=r.call_id,
            sheet=sheet,
            violation=bool(r.violation),
            complaint=bool(r.complaint),
            new_agent=since is not None and r.answered_at - since < first_month,
        )
        out.append(Found(c, r.ticket_id, r.answered_at))
    return out


async def joined_at(conn: AsyncConnection) -> dict[int, datetime]:
    rows = await conn.execute(select(users.c.id, users.c.created_at))
    return {r.id: r.created_at for r in rows}


async def seen(conn: AsyncConnection, reviewer_id: int, period: str) -> set[str]:
    """The recordings the reviewer had in other draws: never given to them again. Their
    draw of `period` itself is left out, so drawing it again for an audit gives it again."""
    rows = await conn.execute(
        select(qa_samples.c.recording_id).where(
            qa_samples.c.reviewer_id == reviewer_id, qa_samples.c.period != period
        )
    )
    return {r.recording_id for r in rows}


def detail_columns() -> list[Any]:
    """What a sample is shown with: the call's time, the agent and the reviewer by name, and
    why the draw leaned towards it (as the service knows it now)."""
    agent = users.alias("agent")
    reviewer = users.alias("reviewer")
    return [
        calls.c.answered_at.label("call_at"),
        select(agent.c.name)
        .where(agent.c.id == qa_samples.c.agent_id)
        .scalar_subquery()
        .label("agent_name"),
        select(agent.c.created_at)
        .where(agent.c.id == qa_samples.c.agent_id)
        .scalar_subquery()
        .label("agent_since"),
        select(reviewer.c.name)
        .where(reviewer.c.id == qa_samples.c.reviewer_id)
        .scalar_subquery()
        .label("reviewer_name"),
        violation_on(qa_samples.c.call_id, qa_samples.c.agent_id).label("violation"),
        complaint_on(qa_samples.c.call_id).label("complaint"),
    ]


def with_details() -> Any:
    return select(qa_samples, *detail_columns()).select_from(
        qa_samples.outerjoin(calls, calls.c.id == qa_samples.c.call_id)
    )
