"""Calls, legs and violations in the database: batched writes from the tracker, API reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.auth.store import users
from callcenter.calls.model import AgentRef, CallState, LegState
from callcenter.db import Base, UTCDateTime, keyset_before
from callcenter.events import ViolationRecorded


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("source", "sip_call_id", "call_tag", name="uq_calls_key"),
        Index("ix_calls_offered_at", "offered_at"),
        Index("ix_calls_open", "final"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    sip_call_id: Mapped[str] = mapped_column(String(255))
    call_tag: Mapped[str] = mapped_column(String(128))
    caller: Mapped[str] = mapped_column(String(64))
    dialed: Mapped[str] = mapped_column(String(64))
    monitored: Mapped[bool] = mapped_column(Boolean)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set once the call reached its final outcome; NULL while it is still going on.
    final: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hung_up_by: Mapped[str | None] = mapped_column(String(8), nullable=True)
    answered_leg: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Leg(Base):
    __tablename__ = "legs"
    __table_args__ = (
        UniqueConstraint("call_pk", "leg_ref", name="uq_legs_key"),
        Index("ix_legs_ring_started_at", "ring_started_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_pk: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    leg_ref: Mapped[str] = mapped_column(String(128))
    extension: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    queue: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ring_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(24), nullable=True)
    end_cause: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ring_limit_recorded: Mapped[bool] = mapped_column(Boolean, default=False)


class Violation(Base):
    __tablename__ = "violations"
    __table_args__ = (Index("ix_violations_occurred_at", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    call_pk: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    leg_pk: Mapped[str | None] = mapped_column(ForeignKey("legs.id"), nullable=True)
    extension: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    rings: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ring_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str] = mapped_column(String(255))


class OverflowAction(Base):
    """What the service did at a ring limit (overflow), with the PBX's answer."""

    __tablename__ = "overflow_actions"
    __table_args__ = (Index("ix_overflow_actions_at", "at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    call_pk: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    leg_pk: Mapped[str | None] = mapped_column(ForeignKey("legs.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    response: Mapped[str] = mapped_column(String(512))


calls = cast(Table, Call.__table__)
legs = cast(Table, Leg.__table__)
violations = cast(Table, Violation.__table__)
overflow_actions = cast(Table, OverflowAction.__table__)

_CALL_COLS = (
    "source", "sip_call_id", "call_tag", "caller", "dialed", "monitored", "offered_at",
    "answered_at", "ended_at", "final", "hung_up_by", "answered_leg",
)  # fmt: skip
_LEG_COLS = (
    "call_pk", "leg_ref", "extension", "agent_id", "queue", "ring_started_at", "answered_at",
    "ended_at", "outcome", "end_cause", "ring_limit_recorded",
)  # fmt: skip


_CHUNK = 500


def call_row(call: CallState) -> dict[str, Any]:
    return {
        "id": call.id,
        "source": call.source,
        "sip_call_id": call.call_id,
        "call_tag": call.call_tag,
        "caller": call.caller,
        "dialed": call.dialed,
        "monitored": call.monitored,
        "offered_at": call.offered_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "final": call.final,
        "hung_up_by": call.hung_up_by,
        "answered_leg": call.answered_leg,
    }


def leg_row(leg: LegState) -> dict[str, Any]:
    return {
        "id": leg.id,
        "call_pk": leg.call_pk,
        "leg_ref": leg.leg_ref,
        "extension": leg.extension,
        "agent_id": leg.agent.id if leg.agent else None,
        "queue": leg.queue,
        "ring_started_at": leg.ring_started_at,
        "answered_at": leg.answered_at,
        "ended_at": leg.ended_at,
        "outcome": leg.outcome,
        "end_cause": leg.end_cause,
        "ring_limit_recorded": leg.ring_limit_recorded,
    }


def violation_row(v: ViolationRecorded) -> dict[str, Any]:
    return {
        "id": v.id,
        "kind": v.kind,
        "occurred_at": v.occurred_at,
        "call_pk": v.call_pk,
        "leg_pk": v.leg_pk,
        "extension": v.extension,
        "agent_id": v.agent_id,
        "rings": v.rings,
        "ring_seconds": v.ring_seconds,
        "detail": v.detail,
    }


def violation_from_row(r: Mapping[str, Any]) -> ViolationRecorded:
    """A violation kept in a spill file (its caller comes from the call row when saved)."""
    return ViolationRecorded(
        id=r["id"],
        kind=r["kind"],
        occurred_at=r["occurred_at"],
        call_pk=r["call_pk"],
        leg_pk=r["leg_pk"],
        extension=r["extension"],
        agent_id=r["agent_id"],
        agent=r.get("agent"),
        caller="",
        rings=r["rings"],
        ring_seconds=r["ring_seconds"],
        detail=r["detail"],
    )


def _updates(table: Any, cols: Sequence[str], rows: list[dict[str, Any]]) -> Any:
    stmt = update(table).where(table.c.id == bindparam("_id"))
    return stmt.values({c: bindparam("_" + c) for c in cols}), [
        {"_" + k: v for k, v in row.items()} for row in rows
    ]


async def save(
    conn: AsyncConnection,
    call_states: Sequence[CallState],
    leg_states: Sequence[LegState],
    new_violations: Sequence[ViolationRecorded],
) -> None:
    """Write the changed calls and legs and the new violations: one batch, one transaction."""
    new_calls = [call_row(c) for c in call_states if not c.persisted]
    old_calls = [call_row(c) for c in call_states if c.persisted]
    new_legs = [leg_row(leg) for leg in leg_states if not leg.persisted]
    old_legs = [leg_row(leg) for leg in leg_states if leg.persisted]
    update_calls, call_params = _updates(calls, _CALL_COLS, old_calls)
    update_legs, leg_params = _updates(legs, _LEG_COLS, old_legs)
    violation_rows = [violation_row(v) for v in new_violations]
    for stmt, rows in (
        (calls.insert(), new_calls),
        (update_calls, call_params),
        (legs.insert(), new_legs),
        (update_legs, leg_params),
        (violations.insert(), violation_rows),
    ):
        # Chunks bound the time SQLAlchemy holds the event loop preparing parameters.
        for i in range(0, len(rows), _CHUNK):
            await conn.execute(stmt, rows[i : i + _CHUNK])


def call_from_row(r: Mapping[Any, Any]) -> CallState:
    return CallState(
        id=r["id"],
        source=r["source"],
        call_id=r["sip_call_id"],
        call_tag=r["call_tag"],
        caller=r["caller"],
        dialed=r["dialed"],
        offered_at=r["offered_at"],
        monitored=r["monitored"],
        answered_at=r["answered_at"],
        ended_at=r["ended_at"],
        final=r["final"],
        hung_up_by=r["hung_up_by"],
        answered_leg=r["answered_leg"],
        dirty=False,
        persisted=True,
    )


def leg_from_row(r: Mapping[Any, Any], agent: AgentRef | None) -> LegState:
    return LegState(
        id=r["id"],
        call_pk=r["call_pk"],
        leg_ref=r["leg_ref"],
        extension=r["extension"],
        agent=agent,
        queue=r["queue"],
        ring_started_at=r["ring_started_at"],
        answered_at=r["answered_at"],
        ended_at=r["ended_at"],
        outcome=r["outcome"],
        end_cause=r["end_cause"],
        ring_limit_recorded=r["ring_limit_recorded"],
        dirty=False,
        persisted=True,
    )


async def _with_legs(conn: AsyncConnection, call_rows: Sequence[Any]) -> list[CallState]:
    by_id = {r.id: call_from_row(r._mapping) for r in call_rows}
    ids = list(by_id)
    for i in range(0, len(ids), 500):
        rows = await conn.execute(
            select(legs, users.c.name.label("agent_name"))
            .outerjoin(users, users.c.id == legs.c.agent_id)
            .where(legs.c.call_pk.in_(ids[i : i + 500]))
        )
        for r in rows:
            agent = AgentRef(r.agent_id, r.agent_name) if r.agent_id is not None else None
            by_id[r.call_pk].legs[r.leg_ref] = leg_from_row(r._mapping, agent)
    for call in by_id.values():
        call.legs = dict(
            sorted(call.legs.items(), key=lambda kv: kv[1].ring_started_at or call.offered_at)
        )
    return list(by_id.values())


async def load_open_calls(conn: AsyncConnection) -> list[CallState]:
    """Every call not yet closed, with its legs: what the tracker must resume after a restart."""
    rows = (await conn.execute(select(calls).where(calls.c.final.is_(None)))).all()
    return await _with_legs(conn, rows)


Cursor = tuple[datetime, str]


async def existing_ids(
    conn: AsyncConnection, call_ids: list[str], leg_ids: list[str], violation_ids: list[str]
) -> set[str]:
    """Which of these calls, legs and violations are stored already."""
    found: set[str] = set()
    for table, ids in ((calls, call_ids), (legs, leg_ids), (violations, violation_ids)):
        for i in range(0, len(ids), _CHUNK):
            rows = await conn.execute(select(table.c.id).where(table.c.id.in_(ids[i : i + _CHUNK])))
            found.update(r.id for r in rows)
    return found


async def insert_violations(conn: AsyncConnection, new: Sequence[ViolationRecorded]) -> None:
    """Violations saved on their own (a ring limit, in the transaction that claims its alert)."""
    rows = [violation_row(v) for v in new]
    for i in range(0, len(rows), _CHUNK):
        await conn.execute(violations.insert(), rows[i : i + _CHUNK])


async def ring_limits_recorded(conn: AsyncConnection, call_ids: Sequence[str]) -> set[str]:
    """The legs of these calls whose ring-limit violation is stored: their alert was raised
    (read by call: violations are indexed by call)."""
    found: set[str] = set()
    for i in range(0, len(call_ids), _CHUNK):
        rows = await conn.execute(
            select(violations.c.leg_pk).where(
                violations.c.call_pk.in_(call_ids[i : i + _CHUNK]),
                violations.c.kind == "ring_limit",
            )
        )
        found.update(r.leg_pk for r in rows if r.leg_pk is not None)
    return found


async def closed_call_keys(
    conn: AsyncConnection, since: datetime, limit: int
) -> list[tuple[str, str, str]]:
    """Keys of calls offered since `since` that are closed, newest last: a late message for
    one of them must not open it again after a restart."""
    stmt = (
        select(calls.c.source, calls.c.sip_call_id, calls.c.call_tag)
        .where(calls.c.offered_at >= since, calls.c.final.is_not(None))
        .order_by(calls.c.offered_at.desc())
        .limit(limit)
    )
    rows = (await conn.execute(stmt)).all()
    return [(r.source, r.sip_call_id, r.call_tag) for r in reversed(rows)]


async def calls_between(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    agent_id: int | None = None,
    limit: int | None = None,
    monitored_only: bool = False,
    before: Cursor | None = None,
) -> list[CallState]:
    """Calls offered in [start, end), newest first; optionally only those that rang
    `agent_id`'s phone, and only those after `before` (the last of the previous page)."""
    stmt = select(calls).where(calls.c.offered_at >= start, calls.c.offered_at < end)
    if agent_id is not None:
        stmt = stmt.where(calls.c.id.in_(select(legs.c.call_pk).where(legs.c.agent_id == agent_id)))
    if monitored_only:
        stmt = stmt.where(calls.c.monitored.is_(True))
    if before is not None:
        stmt = stmt.where(keyset_before(calls.c.offered_at, calls.c.id, before))
    stmt = stmt.order_by(calls.c.offered_at.desc(), calls.c.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return await _with_legs(conn, (await conn.execute(stmt)).all())


async def violations_between(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    agent_id: int | None = None,
    limit: int = 1000,
    before: Cursor | None = None,
) -> list[Any]:
    """Violations in [start, end), newest first, with how the leg ended (a phone that rang
    past the limit and then rang out is one ring_limit row whose leg says so)."""
    stmt = (
        select(
            violations,
            users.c.name.label("agent_name"),
            calls.c.caller,
            calls.c.sip_call_id,
            legs.c.outcome.label("leg_outcome"),
            legs.c.end_cause.label("leg_end_cause"),
        )
        .join(calls, calls.c.id == violations.c.call_pk)
        .outerjoin(legs, legs.c.id == violations.c.leg_pk)
        .outerjoin(users, users.c.id == violations.c.agent_id)
        .where(violations.c.occurred_at >= start, violations.c.occurred_at < end)
    )
    if agent_id is not None:
        stmt = stmt.where(violations.c.agent_id == agent_id)
    if before is not None:
        stmt = stmt.where(keyset_before(violations.c.occurred_at, violations.c.id, before))
    stmt = stmt.order_by(violations.c.occurred_at.desc(), violations.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).all())


async def insert_overflow(conn: AsyncConnection, row: dict[str, Any]) -> None:
    await conn.execute(overflow_actions.insert(), [row])


async def overflows_between(conn: AsyncConnection, start: datetime, end: datetime) -> list[Any]:
    stmt = (
        select(overflow_actions)
        .where(overflow_actions.c.at >= start, overflow_actions.c.at < end)
        .order_by(overflow_actions.c.at.desc())
    )
    return list((await conn.execute(stmt)).all())
