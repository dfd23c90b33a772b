"""Anomalies as the hotline handles them: an agent logs one on a ticket, reports a late step
to the department head, follows up a complaint; a lead closes a complaint with its
resolution. Reading follows 首问责任制: agents see the anomalies of their own tickets."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.anomalies import store
from callcenter.anomalies.model import (
    ANOMALY_LEADS,
    COMPLAINTS,
    FOLLOW_UP,
    LOGGED_BY_AGENTS,
    Anomaly,
    AnomalyKind,
    AnomalyRaised,
    ComplaintClass,
    complaint_problem,
)
from callcenter.anomalies.timers import DeadlineTimers
from callcenter.auth.model import Principal, Role
from callcenter.clock import Clock
from callcenter.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.tickets import model as tickets_model
from callcenter.tickets import store as tickets_store

log = logging.getLogger(__name__)

Publish = Callable[[object], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class NewAnomaly:
    """POST /api/tickets/{id}/anomalies."""

    kind: AnomalyKind
    detail: str
    complaint_class: ComplaintClass | None = None
    households: int | None = None


@dataclass(frozen=True, slots=True)
class Named:
    """An anomaly with the owning agent's name."""

    anomaly: Anomaly
    agent: str | None


def _owner_or_lead(user: Principal, anomaly: Anomaly) -> bool:
    return user.role in ANOMALY_LEADS or (user.role == Role.AGENT and user.id == anomaly.agent_id)


class Anomalies:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        timers: DeadlineTimers,
        publish: Publish,
    ) -> None:
        self.db = db
        self.clock = clock
        self.timers = timers
        self.publish = publish

    async def log_on_ticket(self, user: Principal, ticket_id: str, new: NewAnomaly) -> Named:
        """An agent logs what a resident (or the heating office) said. Logging it is its
        report: the department head sees it at once; a collective complaint is escalated."""
        if new.kind not in LOGGED_BY_AGENTS:
            raise Invalid(
                "seen-by-service",
                f"{new.kind} is raised by the service when a station misses its deadline",
                "kind",
            )
        problem = complaint_problem(new.kind, new.complaint_class, new.households)
        if problem is not None:
            raise Invalid(*problem)
        now = self.clock.now()
        follow = FOLLOW_UP.get(new.complaint_class) if new.complaint_class else None
        async with self.db().begin() as conn:
            found = await tickets_store.ticket_by_id(conn, ticket_id)
            if found is None:
                raise NotFound("no-such-ticket", f"no ticket {ticket_id!r}", "id")
            ticket = found.ticket
            if not tickets_model.may_change(user, ticket):
                raise Forbidden(
                    "not-your-ticket", "the agent who took the ticket logs on it, or a lead"
                )
            anomaly = Anomaly(
                id=uuid.uuid4().hex,
                kind=new.kind,
                source="agent",
                occurred_at=now,
                raised_at=now,
                ticket_id=ticket.id,
                # Not tied to an order: a ticket may carry any number of these.
                order_id=None,
                station=ticket.station,
                agent_id=ticket.agent_id,
                detail=new.detail,
                reported_at=now,
                reported_by=user.name,
                complaint_class=new.complaint_class,
                households=new.households,
                follow_up_due=now + follow if follow is not None else None,
                escalated_at=now if new.complaint_class == "collective" else None,
            )
            await store.insert_once(conn, anomaly)
        log.info(
            "anomaly logged id=%s kind=%s class=%s ticket=%s by=%s",
            anomaly.id,
            anomaly.kind,
            anomaly.complaint_class,
            ticket.id,
            user.name,
        )
        if anomaly.follow_up_due is not None:
            self.timers.arm_follow_up(anomaly.id, anomaly.follow_up_due)
        await self.publish(AnomalyRaised(anomaly, agent=found.agent_name))
        return Named(anomaly, found.agent_name)

    async def report(self, user: Principal, anomaly_id: str) -> Named:
        """The owning agent has told the department head of a late step the service saw;
        after report_due it stays recorded as unreported (漏报) and the report as late."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            anomaly = await self._visible(conn, user, anomaly_id)
            if not _owner_or_lead(user, anomaly):
                raise Forbidden("not-yours", "the agent owning the ticket reports it, or a lead")
            if anomaly.source != "service":
                raise Conflict(
                    "already-reported", "an anomaly an agent logged was reported when logged"
                )
            if not await store.set_if_open(
                conn, anomaly.id, ("reported_at",), reported_at=now, reported_by=user.name
            ):
                raise Conflict("already-reported", "it was reported before", "id")
            anomaly = replace(anomaly, reported_at=now, reported_by=user.name)
            named = await self._named(conn, anomaly)
        self.timers.settle(anomaly.id)
        return named

    async def follow_up(self, user: Principal, anomaly_id: str, note: str) -> Named:
        """The resident was contacted (a valid complaint) or answered (an invalid one)."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            anomaly = await self._complaint(conn, user, anomaly_id)
            if not _owner_or_lead(user, anomaly):
                raise Forbidden("not-yours", "the agent owning the ticket follows it up, or a lead")
            detail = f"{anomaly.detail}\n[{user.name}] {note}".strip()
            if not await store.set_if_open(
                conn,
                anomaly.id,
                ("followed_up_at", "closed_at"),
                followed_up_at=now,
                followed_up_by=user.name,
                detail=detail,
            ):
                raise Conflict("already-followed-up", "it was followed up or closed before", "id")
            anomaly = replace(anomaly, followed_up_at=now, followed_up_by=user.name, detail=detail)
            named = await self._named(conn, anomaly)
        self.timers.settle(anomaly.id)
        return named

    async def close(self, user: Principal, anomaly_id: str, resolution: str) -> Named:
        """A lead closes a complaint tracked to its end, saying how it was resolved."""
        if user.role not in ANOMALY_LEADS:
            raise Forbidden("forbidden", "a lead closes a complaint")
        now = self.clock.now()
        async with self.db().begin() as conn:
            anomaly = await self._complaint(conn, user, anomaly_id)
            values: dict[str, Any] = {
                "closed_at": now,
                "closed_by": user.name,
                "resolution": resolution,
            }
            if not await store.set_if_open(conn, anomaly.id, ("closed_at",), **values):
                raise Conflict("already-closed", "the complaint is closed", "id")
            anomaly = replace(anomaly, **values)
            named = await self._named(conn, anomaly)
        log.info("complaint closed id=%s by=%s", anomaly.id, user.name)
        self.timers.settle(anomaly.id)
        return named

    async def get(self, user: Principal, anomaly_id: str) -> Named:
        async with self.db().connect() as conn:
            return await self._named(conn, await self._visible(conn, user, anomaly_id))

    async def search(
        self,
        start: datetime | None,
        end: datetime | None,
        kinds: list[AnomalyKind],
        agent_id: int | None,
        before: store.Cursor | None,
        limit: int,
        ticket_id: str | None = None,
        open_complaints: bool = False,
    ) -> list[Named]:
        async with self.db().connect() as conn:
            rows = await store.search(
                conn, start, end, kinds, agent_id, before, limit, ticket_id, open_complaints
            )
            names = await store.agent_names(
                conn, sorted({a.agent_id for a in rows if a.agent_id is not None})
            )
        return [Named(a, names.get(a.agent_id) if a.agent_id else None) for a in rows]

    # -- inside a transaction -----------------------------------------------------------
    async def _visible(self, conn: AsyncConnection, user: Principal, anomaly_id: str) -> Anomaly:
        anomaly = await store.get(conn, anomaly_id)
        # An agent sees the anomalies of their own tickets; others' do not exist for them.
        if anomaly is None or (user.role == Role.AGENT and anomaly.agent_id != user.id):
            raise NotFound("no-such-anomaly", f"no anomaly {anomaly_id!r}", "id")
        return anomaly

    async def _complaint(self, conn: AsyncConnection, user: Principal, anomaly_id: str) -> Anomaly:
        anomaly = await self._visible(conn, user, anomaly_id)
        if anomaly.kind not in COMPLAINTS:
            raise Conflict("not-a-complaint", f"a {anomaly.kind} is not tracked to a close", "id")
        return anomaly

    async def _named(self, conn: AsyncConnection, anomaly: Anomaly) -> Named:
        if anomaly.agent_id is None:
            return Named(anomaly, None)
        names = await store.agent_names(conn, [anomaly.agent_id])
        return Named(anomaly, names.get(anomaly.agent_id))
