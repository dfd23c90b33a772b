"""One clock's use cases: a station pauses an order while it waits on the resident and
resumes it; a ticket's timeline; the clock report's percentiles per day and station.

A pause and its end are one transaction each (the pause row, the order's mark and moved
deadlines, the order's history) and are told afterwards as an OrderChanged ("paused",
"resumed"): the deadline timers cancel and re-arm what it holds, the live pages update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.model import Principal
from callcenter.calls.rings import RingRule
from callcenter.clock import Clock
from callcenter.errors import Conflict, Forbidden, NotFound
from callcenter.orders import model as orders_model
from callcenter.orders import store as orders_store
from callcenter.orders.model import Order
from callcenter.orders.service import OrderChanged, actor
from callcenter.tickets import store as tickets_store
from callcenter.timeline import store
from callcenter.timeline.figures import Measured, ReportRow, report_rows
from callcenter.timeline.model import Timeline, build, measure
from callcenter.timeline.pauses import PauseReason
from callcenter.timeline.settings import TimelineSettings

log = logging.getLogger(__name__)

OnChange = Callable[[OrderChanged], Awaitable[None]]


class Pauses:
    def __init__(
        self, db: Callable[[], AsyncEngine], clock: Clock, on_change: OnChange | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_change = on_change

    async def pause(
        self, user: Principal, order_id: str, reason: PauseReason, note: str | None
    ) -> Order:
        """The station waits on the resident from now: its contact and repair deadlines
        stand still until it resumes (or contacts the resident, or returns the order)."""
        now = self.clock.now()
        by = actor(user)
        async with self.db().begin() as conn:
            order = await self._order(conn, user, order_id)
            problem = orders_model.pause_error(order)
            if problem is not None:
                code, message = problem
                raise Conflict(code, message, "id", status=order.status)
            order = await store.start_pause(conn, order, now, reason, note, by)
            agent_id = await self._owner(conn, order)
        log.info("order paused id=%s station=%s reason=%s", order.id, order.station, reason)
        await self._told(OrderChanged(order, "paused", by, now, agent_id))
        return order

    async def resume(self, user: Principal, order_id: str) -> Order:
        """The wait is over: the deadlines it held move by its length."""
        now = self.clock.now()
        by = actor(user)
        async with self.db().begin() as conn:
            order = await self._order(conn, user, order_id)
            if order.paused_since is None:
                raise Conflict("not-paused", "the order is not paused", "id", status=order.status)
            order = await store.end_pause(conn, order, now, by)
            agent_id = await self._owner(conn, order)
        log.info("order resumed id=%s station=%s", order.id, order.station)
        await self._told(OrderChanged(order, "resumed", by, now, agent_id))
        return order

    async def _order(self, conn: AsyncConnection, user: Principal, order_id: str) -> Order:
        order = await orders_store.get_order(conn, order_id, lock=True)
        if order is None:
            raise NotFound("no-such-order", f"no order {order_id!r}", "id")
        if not orders_model.may_act(user.role, user.station, order.station):
            raise Forbidden(
                "not-your-order", f"order {order_id} belongs to station {order.station}"
            )
        return order

    async def _owner(self, conn: AsyncConnection, order: Order) -> int | None:
        found = await tickets_store.ticket_by_id(conn, order.ticket_id)
        return found.ticket.agent_id if found is not None else None

    async def _told(self, change: OrderChanged) -> None:
        if self.on_change is not None:
            await self.on_change(change)


class Clocks:
    """The timelines and the clock report, read from the stores; computed here in Python
    from the rows (a day holds a few thousand repair tickets at most: one period of 31 days
    is some hundred thousand rows), the same on SQLite and PostgreSQL."""

    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        rule: RingRule,
        settings: TimelineSettings,
        timezone: str,
    ) -> None:
        self.db = db
        self.clock = clock
        self.rule = rule
        self.settings = settings
        self.tz = ZoneInfo(timezone)

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    async def ticket(self, ticket_id: str) -> Timeline:
        now = self.clock.now()
        async with self.db().connect() as conn:
            found = await store.gather(conn, store.one_ticket(ticket_id))
        ticket = found.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("no-such-ticket", f"no ticket {ticket_id!r}", "id")
        return self._build(found, ticket_id, now)

    def _build(self, found: store.Gathered, ticket_id: str, now: datetime) -> Timeline:
        return build(
            found.tickets[ticket_id],
            found.calls.get(ticket_id, []),
            found.orders.get(ticket_id, []),
            found.pauses.get(ticket_id, []),
            found.callbacks.get(ticket_id, []),
            self.rule,
            self.settings.dispatch_within,
            now,
        )

    async def report(self, first: date, last: date, station: str | None) -> list[ReportRow]:
        """Per day of [first, last] (local days, both included) and per station, the
        percentiles of the repair tickets taken that day."""
        now = self.clock.now()
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        items: list[Measured] = []
        # A day at a time: what is held is one day's rows, and the loop gets a turn often.
        for day in days:
            start, end = self._instant(day), self._instant(day + timedelta(days=1))
            async with self.db().connect() as conn:
                found = await store.gather(conn, store.repair_tickets(start, end, station))
            for n, (ticket_id, ticket) in enumerate(found.tickets.items()):
                if n % store.PARTITION == store.PARTITION - 1:
                    await asyncio.sleep(0)
                figures, has_call = measure(
                    ticket,
                    found.calls.get(ticket_id, []),
                    found.orders.get(ticket_id, []),
                    found.pauses.get(ticket_id, []),
                    found.callbacks.get(ticket_id, []),
                    now,
                )
                items.append(Measured(day, ticket.station or "", figures, has_call))
        # Sorting a month's figures is pure work: in a thread, so the loop keeps its turns.
        return await asyncio.to_thread(report_rows, days, items)

    def _instant(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.tz)
