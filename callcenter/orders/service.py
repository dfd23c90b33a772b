"""Dispatching repair tickets to their stations and recording what the stations do.

Every change is one transaction: the order, its history row, the ticket's status and
history, and the outgoing messages (the outbox) commit together or not at all. What
happened is told afterwards through `on_change` (the live page, the deadline timers).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.model import Principal, Role
from callcenter.clock import Clock
from callcenter.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.orders import model, schemas, store
from callcenter.orders.model import Order, StationAction
from callcenter.orders.settings import OrdersSettings
from callcenter.stations.model import AddressBook
from callcenter.tickets import model as tickets_model
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import Ticket
from callcenter.timeline import store as pauses_store

log = logging.getLogger(__name__)

# An order the station has not acknowledged is offered again, less and less often: a station
# running no client (it works on the portal) is not flooded.
RESEND_MAX_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """An order was dispatched, recalled or moved on by its station (`action`)."""

    order: Order
    action: str
    by: str
    at: datetime
    agent_id: int | None  # the agent owning the ticket


OnChange = Callable[[OrderChanged], Awaitable[None]]
# (the ticket, its station's deadlines) → the deadlines its order gets, and why, for the
# order's history (priority by the cold: a band may shorten them; None: as they are).
DeadlinesFor = Callable[[Ticket, model.Deadlines], tuple[model.Deadlines, dict[str, Any] | None]]


def new_id() -> str:
    return uuid.uuid4().hex


def _who(user: Principal) -> tuple[int | None, str, str | None]:
    return user.id, user.name, user.work_number


def actor(user: Principal) -> str:
    return f"station:{user.station}" if user.role == Role.STATION else user.name


class Orders:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        book: Callable[[], AddressBook],
        settings: OrdersSettings,
        on_change: OnChange | None = None,
        deadlines_for: DeadlinesFor | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.book = book
        self.settings = settings
        self.on_change = on_change
        self.deadlines_for = deadlines_for

    async def _told(self, change: OrderChanged) -> None:
        if self.on_change is not None:
            await self.on_change(change)

    # -- the hotline's side -----------------------------------------------------------------
    async def dispatch(self, user: Principal, ticket_id: str) -> Order:
        """Send a repair ticket to its station: the order and its messages, at once."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            change = await self.dispatch_in(conn, user, ticket_id, now)
        await self._told(change)
        return change.order

    async def dispatch_in(
        self, conn: AsyncConnection, user: Principal, ticket_id: str, now: datetime
    ) -> OrderChanged:
        """Dispatch inside the caller's transaction (the callback that sends a repair back
        commits its answers and the rework together); the caller tells the change after its
        commit."""
        if user.role not in model.DISPATCHERS:
            raise Forbidden("forbidden", "only the hotline dispatches orders")
        found = await tickets_store.ticket_by_id(conn, ticket_id, lock=True)
        if found is None:
            raise NotFound("no-such-ticket", f"no ticket {ticket_id!r}", "id")
        ticket = found.ticket
        if not tickets_model.may_change(user, ticket):
            raise Forbidden(
                "not-your-ticket",
                "the agent who took a ticket dispatches it (首问责任制), or a lead",
            )
        active = await store.active_order(conn, ticket_id)
        if active is not None:
            raise Conflict(
                "already-dispatched",
                f"the ticket is already at station {active.station} (order {active.id})",
                "id",
                order=active.id,
            )
        self._check_dispatchable(ticket)
        assert ticket.station is not None
        rounds = len(await store.orders_of_ticket(conn, ticket_id))
        deadlines, why = self.settings.deadlines(ticket.station), None
        if self.deadlines_for is not None:
            deadlines, why = self.deadlines_for(ticket, deadlines)
        due = deadlines.due(now)
        order = Order(
            id=new_id(),
            ticket_id=ticket_id,
            station=ticket.station,
            round=rounds + 1,
            status="sent",
            dispatched_at=now,
            dispatched_by=user.name,
            accept_due=due["accept_late"],
            contact_due=due["contact_late"],
            repair_due=due["repair_late"],
        )
        await store.insert_order(conn, order)
        detail: dict[str, Any] = {"station": order.station}
        if why is not None:
            detail["priority"] = why
        await store.add_event(conn, order.id, now, user.name, "dispatched", detail)
        await self._ticket_status(conn, ticket, "dispatched", user, now, order)
        await self._enqueue(conn, order, "order", schemas.order_message(order, ticket), now)
        log.info("order dispatched id=%s ticket=%s station=%s", order.id, ticket_id, order.station)
        return OrderChanged(order, "dispatched", user.name, now, ticket.agent_id)

    async def tell(self, change: OrderChanged) -> None:
        """Tell a change made by `dispatch_in`, after the caller's commit."""
        await self._told(change)

    def _check_dispatchable(self, ticket: Ticket) -> None:
        if ticket.kind not in ("repair", "incident"):
            raise Conflict("not-a-repair", f"a {ticket.kind} ticket is not sent to a station")
        # Repaired: the resident was not satisfied at the callback; the rework is round n + 1.
        if ticket.status not in ("open", "repaired"):
            raise Conflict(
                "bad-transition",
                f"a {ticket.status} ticket cannot be dispatched (an open or repaired one can)",
                "status",
            )
        if not ticket.station:
            raise Invalid("missing-field", "choose the station before dispatching", "station")
        if self.book().station(ticket.station) is None:
            raise Invalid(
                "no-such-station",
                f"station {ticket.station!r} is not in the address book",
                "station",
            )

    async def recall(
        self, user: Principal, order_id: str, reason: str, *, for_incident: bool = False
    ) -> Order:
        """Take an order back from its station (sent to the wrong one, or no longer needed):
        the ticket is open again and the station is told. `for_incident`: the department
        head confirming an incident takes back the orders of the reports it took over,
        whoever took them (the incidents service checked the head's role)."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            order = await self._order(conn, order_id)
            found = await tickets_store.ticket_by_id(conn, order.ticket_id, lock=True)
            assert found is not None
            if not for_incident and not tickets_model.may_change(user, found.ticket):
                raise Forbidden("not-your-ticket", "the ticket's agent or a lead recalls it")
            if order.status not in model.ACTIVE_STATUSES:
                raise Conflict("order-closed", f"the order is {order.status}", "id")
            if order.paused_since is not None:
                order = await pauses_store.end_pause(conn, order, now, "step:recall")
            order = replace(order, status="recalled", closed_at=now, result=reason)
            await store.update_order(
                conn, order.id, status="recalled", closed_at=now, result=reason
            )
            await store.add_event(conn, order.id, now, user.name, "recalled", {"reason": reason})
            await self._ticket_status(conn, found.ticket, "open", user, now, order)
            # An order not yet acknowledged must not be resent after its recall.
            await store.ack_pending(conn, order.id, now)
            await self._enqueue(conn, order, "recall", schemas.recall_message(order, reason), now)
        await self._told(OrderChanged(order, "recalled", user.name, now, found.ticket.agent_id))
        return order

    # -- the station's side -----------------------------------------------------------------
    async def act(
        self,
        user: Principal,
        order_id: str,
        action: StationAction,
        *,
        repairman: str | None = None,
        note: str | None = None,
    ) -> Order:
        """The station accepts, has contacted the resident, returns (返单, `note`: what was
        done) or refuses (`note`: why) the order."""
        now = self.clock.now()
        by = actor(user)
        async with self.db().begin() as conn:
            order = await self._order(conn, order_id)
            if not model.may_act(user.role, user.station, order.station):
                raise Forbidden(
                    "not-your-order", f"order {order_id} belongs to station {order.station}"
                )
            why = model.action_error(order, action)
            if why is not None:
                raise Conflict("bad-transition", why, "action", status=order.status)
            if action in ("return", "refuse") and not (note and note.strip()):
                field_name = "result" if action == "return" else "reason"
                raise Invalid("missing-field", f"say {field_name} to {action} an order", "note")
            if order.paused_since is not None:
                # The resident is reached, or the order leaves the station: the wait is over.
                order = await pauses_store.end_pause(conn, order, now, f"step:{action}")
            values: dict[str, Any] = {"status": model.ACTION_STATUS[action]}
            steps: dict[StationAction, dict[str, Any]] = {
                "accept": {"accepted_at": now},
                "contact": {"contacted_at": now, "accepted_at": order.accepted_at or now},
                "return": {"returned_at": now, "result": note},
                "refuse": {"closed_at": now, "result": note},
            }
            values |= steps[action]
            if repairman:
                values["repairman"] = repairman
            if order.delivered_at is None:
                values |= {
                    "delivered_at": now,
                    "delivered_via": "portal" if user.role == Role.STATION else "phone",
                }
            await store.update_order(conn, order.id, **values)
            order = replace(order, **values)
            detail = {k: v for k, v in (("repairman", repairman), ("note", note)) if v}
            await store.add_event(conn, order.id, now, by, action, detail)
            # The station has the order: nothing more needs to reach it.
            await store.ack_pending(conn, order.id, now)
            found = await tickets_store.ticket_by_id(conn, order.ticket_id, lock=True)
            assert found is not None
            if action == "return":
                await self._ticket_status(conn, found.ticket, "repaired", user, now, order)
            elif action == "refuse":
                await self._ticket_status(conn, found.ticket, "open", user, now, order)
        log.info("order %s id=%s station=%s by=%s", action, order.id, order.station, by)
        await self._told(OrderChanged(order, action, by, now, found.ticket.agent_id))
        return order

    async def acknowledged(self, station: str, message_id: str, via: str) -> bool:
        """A station's client (or webhook) has the message. False: no such message for this
        station, or acknowledged before (nothing changes twice)."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            message = await store.get_message(conn, message_id)
            if message is None or message["station"] != station:
                return False
            if not await store.ack_message(conn, message_id, now):
                return False
            await store.ack_same(conn, message["order_id"], message["kind"], now)
            order = await self._order(conn, message["order_id"])
            # A recall's ack says nothing about whether the order itself ever arrived.
            if message["kind"] == "order" and order.delivered_at is None:
                await store.update_order(conn, order.id, delivered_at=now, delivered_via=via)
                await store.add_event(
                    conn, order.id, now, f"station:{station}", "delivered", {"via": via}
                )
        return True

    # -- reading ------------------------------------------------------------------------------
    async def get(self, order_id: str) -> tuple[Order, list[dict[str, Any]]]:
        async with self.db().connect() as conn:
            order = await self._order(conn, order_id, lock=False)
            return order, await store.history(conn, order_id)

    async def search(
        self,
        station: str | None,
        statuses: list[model.OrderStatus],
        ticket_id: str | None,
        before: store.OrderCursor | None,
        limit: int | None,
    ) -> list[Order]:
        async with self.db().connect() as conn:
            return await store.search(conn, station, statuses, ticket_id, before, limit)

    # -- inside a transaction -------------------------------------------------------------
    async def _order(self, conn: AsyncConnection, order_id: str, lock: bool = True) -> Order:
        order = await store.get_order(conn, order_id, lock=lock)
        if order is None:
            raise NotFound("no-such-order", f"no order {order_id!r}", "id")
        return order

    async def _ticket_status(
        self,
        conn: AsyncConnection,
        ticket: Ticket,
        status: tickets_model.Status,
        user: Principal,
        now: datetime,
        order: Order,
    ) -> None:
        if ticket.status == status:
            return
        await tickets_store.update_ticket(conn, replace(ticket, status=status, updated_at=now))
        await tickets_store.add_event(
            conn,
            ticket.id,
            now,
            _who(user),
            "status",
            {"changes": {"status": [ticket.status, status]}, "order": order.id},
        )

    async def _enqueue(
        self, conn: AsyncConnection, order: Order, kind: str, payload: dict[str, Any], now: datetime
    ) -> None:
        terms = self.settings.stations.get(order.station)
        channels = ["mqtt"] if terms is None or terms.mqtt else []
        if terms is not None and terms.webhook_url:
            channels.append("webhook")
        for channel in channels:
            message_id = new_id()
            body = {**payload, "message_id": message_id}
            await store.enqueue(
                conn,
                id=message_id,
                order_id=order.id,
                station=order.station,
                channel=channel,
                kind=kind,
                payload=json.dumps(body, ensure_ascii=False, sort_keys=True),
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
