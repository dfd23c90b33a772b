"""What the database holds about a sample's call, read for the scoring desk: the recording,
the tickets typed on the call (as the agent typed them), the answered leg's ringing, who
hung up, and the violations the call tracker recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.auth.store import users
from callcenter.calls.store import calls, legs, violations
from callcenter.qa.checklists import Checklist
from callcenter.qa.model import Sample
from callcenter.qa.prefill import CallFacts, Suggestion, suggestions
from callcenter.recordings import store as recordings_store
from callcenter.recordings.model import Recording
from callcenter.tickets import store as tickets_store
from callcenter.tickets.store import Found


@dataclass(frozen=True, slots=True)
class SampleContext:
    recording: Recording | None
    tickets: list[Found]  # the sample's own ticket first, then the call's others by age
    facts: CallFacts | None
    offered_at: datetime | None
    work_number: str | None  # the agent's 工号, for the opening's phrase

    @property
    def recording_deleted(self) -> bool:
        return self.recording is None or self.recording.deleted is not None

    def suggestions(
        self, checklist: Checklist, station_name: Callable[[str], str]
    ) -> list[Suggestion]:
        ticket = self.tickets[0].ticket if self.tickets else None
        return suggestions(checklist, ticket, station_name)


async def _tickets(conn: AsyncConnection, sample: Sample) -> list[Found]:
    ids: list[str] = [sample.ticket_id] if sample.ticket_id else []
    if sample.call_id is not None:
        stmt = (
            select(tickets_store.ticket_calls.c.ticket_id)
            .where(tickets_store.ticket_calls.c.call_id == sample.call_id)
            .order_by(
                tickets_store.ticket_calls.c.linked_at, tickets_store.ticket_calls.c.ticket_id
            )
        )
        ids += [r.ticket_id for r in await conn.execute(stmt) if r.ticket_id not in ids]
    out = []
    for ticket_id in ids:
        found = await tickets_store.ticket_by_id(conn, ticket_id)
        if found is not None:
            out.append(found)
    return out


async def _facts(conn: AsyncConnection, call_id: str) -> tuple[CallFacts, datetime] | None:
    stmt = (
        select(calls.c.offered_at, calls.c.hung_up_by, legs.c.ring_started_at, legs.c.answered_at)
        .outerjoin(legs, and_(legs.c.call_pk == calls.c.id, legs.c.leg_ref == calls.c.answered_leg))
        .where(calls.c.id == call_id)
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    found = await conn.execute(
        select(violations.c.kind, violations.c.rings).where(
            violations.c.call_pk == call_id,
            violations.c.kind.in_(("late_answer", "hung_up_first")),
        )
    )
    late, hung_up_first = None, False
    for v in found:
        if v.kind == "late_answer":
            late = v.rings
        else:
            hung_up_first = True
    facts = CallFacts(row.ring_started_at, row.answered_at, row.hung_up_by, late, hung_up_first)
    return facts, row.offered_at


async def load_context(conn: AsyncConnection, sample: Sample) -> SampleContext:
    recording = await recordings_store.by_id(conn, sample.recording_id)
    found = await _facts(conn, sample.call_id) if sample.call_id else None
    work_number = None
    if sample.agent_id is not None:
        work_number = await conn.scalar(
            select(users.c.work_number).where(users.c.id == sample.agent_id)
        )
    return SampleContext(
        recording=recording,
        tickets=await _tickets(conn, sample),
        facts=found[0] if found else None,
        offered_at=found[1] if found else (recording.received_at if recording else None),
        work_number=work_number,
    )
