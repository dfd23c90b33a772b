"""Booking callbacks when a station returns an order or a complaint is taken, and recording
how each callback went: the resident's answers close the ticket, or send the repair back to
its station (rework, round n + 1) and book the next callback when it returns again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.model import Principal
from callcenter.callbacks import store
from callcenter.callbacks.model import (
    CALLBACK_LEADS,
    DUE_WITHIN,
    Answers,
    Callback,
    CallbackStatus,
    Outcome,
    Reason,
)
from callcenter.clock import Clock
from callcenter.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.orders.service import OrderChanged, Orders
from callcenter.tickets import store as tickets_store

log = logging.getLogger(__name__)

# How far ahead a resident may ask to be called ("not convenient, call at …").
LONGEST_REBOOK = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class CallbackRecorded:
    """A callback was made or re-booked; `charged` flags a fee the resident reports paying
    to the department head."""

    callback: Callback
    outcome: Outcome
    by: str
    at: datetime
    rework_order: str | None


OnRecorded = Callable[[CallbackRecorded], Awaitable[None]]
LinkCall = Callable[[Principal, str, str | None], Awaitable[str | None]]


def new_id() -> str:
    return uuid.uuid4().hex


class Callbacks:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        orders: Callable[[], Orders],
        link_call: LinkCall | None = None,
        on_recorded: OnRecorded | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.orders = orders
        self.link_call = link_call
        self.on_recorded = on_recorded

    # -- booking ------------------------------------------------------------------------------
    async def book(
        self,
        ticket_id: str,
        reason: Reason,
        agent_id: int | None,
        station: str | None,
        order_id: str | None,
        at: datetime,
    ) -> bool:
        """Owe the resident a callback within 3 days; False when this order already has one."""
        callback = Callback(
            id=new_id(),
            ticket_id=ticket_id,
            order_id=order_id,
            reason=reason,
            agent_id=agent_id,
            station=station,
            created_at=at,
            due_at=at + DUE_WITHIN,
        )
        async with self.db().begin() as conn:
            booked = await store.insert_once(conn, callback)
        if booked:
            log.info(
                "callback booked ticket=%s reason=%s due=%s", ticket_id, reason, callback.due_at
            )
        return booked

    async def order_changed(self, change: OrderChanged) -> bool:
        """A returned order is called back (True: booked now); a ticket sent to a station
        again owes nothing until that order comes back."""
        order = change.order
        if change.action == "return":
            return await self.book(
                order.ticket_id, "repair", change.agent_id, order.station, order.id, change.at
            )
        if change.action == "dispatched":
            async with self.db().begin() as conn:
                await store.cancel_due(conn, order.ticket_id, change.at, change.by)
        return False

    # -- making one ---------------------------------------------------------------------------
    async def record(
        self,
        user: Principal,
        callback_id: str,
        outcome: Outcome,
        *,
        answers: Answers | None = None,
        call_at: datetime | None = None,
        call_id: str | None = None,
    ) -> Callback:
        now = self.clock.now()
        rework: OrderChanged | None = None
        async with self.db().begin() as conn:
            callback = await self._owned(conn, user, callback_id)
            if call_id is not None and not await tickets_store.call_exists(conn, call_id):
                raise Invalid("no-such-call", f"no call {call_id!r}", "call")
            if callback.status != "due":
                raise Conflict("callback-closed", f"the callback is {callback.status}", "id")
            values: dict[str, Any] = {}
            if outcome == "no_answer":
                values = {"attempts": callback.attempts + 1}
            elif outcome == "rebooked":
                if call_at is None or not now < call_at <= now + LONGEST_REBOOK:
                    raise Invalid(
                        "bad-call-at",
                        "call_at: the time the resident asked for, within the next 14 days",
                        "call_at",
                    )
                # The resident chose the time: calling then is on time.
                values = {"booked_for": call_at, "due_at": max(callback.due_at, call_at)}
            else:
                assert answers is not None
                values = {
                    "status": "done",
                    "done_at": now,
                    "done_by": user.name,
                    "solved": answers.solved,
                    "attitude": answers.attitude,
                    "charged": answers.charged,
                    "score": answers.score,
                    "suggestions": answers.suggestions,
                    "fee_reminded": answers.fee_reminded,
                }
                rework = await self._follow(conn, user, callback, answers, now)
            await store.update_callback(conn, callback.id, **values)
            callback = replace(callback, **values)
        if self.link_call is not None and outcome != "no_answer":
            linked = await self.link_call(user, callback.ticket_id, call_id)
            if linked is not None:
                async with self.db().begin() as conn:
                    await store.update_callback(conn, callback.id, call_id=linked)
                callback = replace(callback, call_id=linked)
        if rework is not None:
            await self.orders().tell(rework)
        event = CallbackRecorded(
            callback, outcome, user.name, now, rework.order.id if rework else None
        )
        if self.on_recorded is not None:
            await self.on_recorded(event)
        return callback

    async def _follow(
        self,
        conn: AsyncConnection,
        user: Principal,
        callback: Callback,
        answers: Answers,
        now: datetime,
    ) -> OrderChanged | None:
        """Satisfied: the ticket is closed. Not: a repair goes back to its station (the next
        callback is booked when it returns); a complaint is called back again."""
        found = await tickets_store.ticket_by_id(conn, callback.ticket_id, lock=True)
        if found is None:
            raise NotFound("no-such-ticket", f"no ticket {callback.ticket_id!r}", "ticket")
        ticket = found.ticket
        if answers.satisfied:
            if ticket.status in ("repaired", "open"):
                await tickets_store.update_ticket(
                    conn, replace(ticket, status="closed", updated_at=now)
                )
                await tickets_store.add_event(
                    conn,
                    ticket.id,
                    now,
                    (user.id, user.name, user.work_number),
                    "status",
                    {"changes": {"status": [ticket.status, "closed"]}, "callback": callback.id},
                )
            return None
        if callback.reason == "repair" and ticket.status == "repaired":
            return await self.orders().dispatch_in(conn, user, ticket.id, now)
        again = replace(
            callback, id=new_id(), created_at=now, due_at=now + DUE_WITHIN, order_id=None
        )
        await store.insert_once(conn, again)
        return None

    async def _owned(
        self, conn: AsyncConnection, user: Principal, callback_id: str, lock: bool = True
    ) -> Callback:
        callback = await store.get(conn, callback_id, lock=lock)
        if callback is None:
            raise NotFound("no-such-callback", f"no callback {callback_id!r}", "id")
        if user.role not in CALLBACK_LEADS and callback.agent_id != user.id:
            raise Forbidden(
                "not-your-callback",
                "the agent who took the ticket calls the resident back (首问责任制), or a lead",
            )
        return callback

    # -- reading ------------------------------------------------------------------------------
    async def get(self, user: Principal, callback_id: str) -> Callback:
        async with self.db().connect() as conn:
            return await self._owned(conn, user, callback_id, lock=False)

    async def search(
        self,
        user: Principal,
        agent_id: int | None,
        statuses: tuple[CallbackStatus, ...],
        start: datetime | None,
        end: datetime | None,
        limit: int,
        before: store.Cursor | None,
    ) -> list[Callback]:
        if user.role not in CALLBACK_LEADS:
            agent_id = user.id  # an agent's own list
        async with self.db().connect() as conn:
            return await store.search(conn, agent_id, statuses, start, end, limit, before)

    async def figures(self, group: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        async with self.db().connect() as conn:
            return await store.figures(conn, group, start, end)
