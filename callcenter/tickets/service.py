"""Ticket use cases: take a ticket (routed by the address book, linked to the call it was
taken on), change it (only its owner or a lead; every change one more history row), link
more calls, search, and a caller's history for the screen-pop.

Also the TicketLookup the recordings capability asks: a ticket's calls, and who took a
ticket on a call (首问责任制: they may hear its recording). Each taking, change and link is
told afterwards through `on_change` (the live pages).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.model import Principal
from callcenter.clock import Clock
from callcenter.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.events import TicketAction, TicketTouched
from callcenter.stations.model import AddressBook, route
from callcenter.tickets import model, store
from callcenter.tickets.model import NewTicket, Patch, Ticket
from callcenter.tickets.store import Filter, Found

log = logging.getLogger(__name__)

# The agent's call in progress on an extension (answered, not ended), saved before it is
# returned: asked of the call tracker's live state by the composition root.
CurrentCall = Callable[[str], Awaitable[str | None]]
OnChange = Callable[[TicketTouched], Awaitable[None]]
# The incident a new ticket is part of (callcenter/incidents), decided in its transaction
# from the ticket as routed and the incident the agent named (None: any that covers it):
# its id, and whether it is open (its station has the incident's order: the ticket is
# dispatched with it) or only proposed.
IncidentFor = Callable[[AsyncConnection, Ticket, str | None], Awaitable[tuple[str, bool] | None]]
# An answered call older than this is never "the call it was taken on".
_LONGEST_CALL = timedelta(hours=4)
HISTORY_LIMIT = 20


def new_id() -> str:
    return uuid.uuid4().hex


def _who(user: Principal) -> tuple[int | None, str, str | None]:
    return user.id, user.name, user.work_number


@dataclass(frozen=True, slots=True)
class Detail:
    found: Found
    calls: list[Any]
    history: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class CallerHistory:
    phone: str | None
    address: str | None
    tickets: list[Found]
    address_tickets: list[Found]
    open: list[Found]


class Tickets:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        book: Callable[[], AddressBook],
        link_window: timedelta,
        current_call: CurrentCall | None = None,
        on_change: OnChange | None = None,
        incident_for: IncidentFor | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.book = book
        self.link_window = link_window
        self.current_call = current_call
        self.on_change = on_change
        self.incident_for = incident_for

    async def _told(
        self, action: TicketAction, found: Found, user: Principal, at: datetime
    ) -> None:
        """After the commit: a page told earlier would fetch the ticket before it is there."""
        if self.on_change is None:
            return
        t = found.ticket
        await self.on_change(
            TicketTouched(
                ticket_id=t.id,
                action=action,
                kind=t.kind,
                category=t.category,
                status=t.status,
                station=t.station,
                agent_id=t.agent_id,
                agent=found.agent_name,
                by=user.name,
                at=at,
            )
        )

    # -- taking a ticket ----------------------------------------------------------------
    def _routed(self, ticket: Ticket, address: str | None, station: str | None) -> Ticket:
        """The ticket with its address put in standard form and its station: the one asked
        for (it must exist), else the address book's proposal (None when it has none)."""
        book = self.book()
        if station is not None and book.station(station) is None:
            raise Invalid(
                "unknown-station", f"no station {station!r} in the address book", "station"
            )
        if address is None:
            return replace(
                ticket,
                address_typed=None,
                address_standard=None,
                address_routing=None,
                address_reason=None,
                station_proposed=None,
                station=station,
            )
        routing = route(book, address)
        return replace(
            ticket,
            address_typed=address,
            address_standard=routing.standard[:255] or None,
            address_routing=routing.status,
            address_reason=routing.reason[:255],
            station_proposed=routing.station,
            station=station if station is not None else routing.station,
        )

    def standard_address(self, address: str) -> str | None:
        """The address in the book's standard form, as a ticket would store it."""
        return route(self.book(), address).standard[:255] or None

    async def _call_taken_on(self, user: Principal) -> tuple[str, model.LinkHow] | None:
        """The agent's call in progress, else their last one that ended within the window."""
        now = self.clock.now()
        if user.extension and self.current_call is not None:
            call_id = await self.current_call(user.extension)
            if call_id is not None:
                async with self.db().connect() as conn:
                    if await store.call_exists(conn, call_id):
                        return call_id, "current"
        if self.link_window <= timedelta(0):
            return None
        async with self.db().connect() as conn:
            call_id = await store.last_answered_call(
                conn, user.id, now - self.link_window, now - _LONGEST_CALL
            )
        return (call_id, "recent") if call_id is not None else None

    async def create(self, user: Principal, new: NewTicket) -> Found:
        now = self.clock.now()
        draft = Ticket(
            id=new_id(),
            kind=new.kind,
            status="open",
            reporter_name=new.reporter_name,
            phone=new.phone,
            address_typed=None,
            address_standard=None,
            address_routing=None,
            address_reason=None,
            station_proposed=None,
            station=None,
            category=new.category,
            fault_location=new.fault_location,
            severity=new.severity,
            description=new.description,
            agent_id=user.id,
            agent_work_number=user.work_number,
            created_at=now,
            updated_at=now,
            vulnerability=new.vulnerability,
        )
        missing = model.required_missing(
            new.kind, {"address": new.address, "phone": new.phone, "category": new.category}
        )
        if missing:
            raise Invalid("missing-field", f"a {new.kind} ticket needs {missing}", missing)
        ticket = self._routed(draft, new.address, new.station)
        link = (new.call, "manual") if new.call else await self._call_taken_on(user)
        async with self.db().begin() as conn:
            if new.call and not await store.call_exists(conn, new.call):
                raise Invalid("no-such-call", f"no call {new.call!r}", "call")
            if self.incident_for is not None:
                part = await self.incident_for(conn, ticket, new.incident)
                if part is not None:
                    status: model.Status = "dispatched" if part[1] else "open"
                    ticket = replace(ticket, incident_id=part[0], status=status)
            elif new.incident is not None:
                raise Invalid("no-such-incident", f"no incident {new.incident!r}", "incident")
            await store.insert_ticket(conn, ticket)
            created = {
                "status": ticket.status,
                "kind": ticket.kind,
                "station": ticket.station,
                "flags": ticket.address_flags,
            }
            if ticket.incident_id is not None:
                created["incident"] = ticket.incident_id
            await store.add_event(conn, ticket.id, now, _who(user), "created", created)
            if link is not None:
                await self._link(conn, ticket.id, link[0], user, link[1])
        log.info(
            "ticket taken id=%s kind=%s station=%s routing=%s call=%s agent=%s",
            ticket.id,
            ticket.kind,
            ticket.station,
            ticket.address_routing,
            link[0] if link else None,
            user.name,
        )
        found = Found(ticket, user.name)
        await self._told("taken", found, user, now)
        return found

    async def _link(
        self, conn: AsyncConnection, ticket_id: str, call_id: str, user: Principal, how: str
    ) -> None:
        now = self.clock.now()
        await store.link_call(conn, ticket_id, call_id, now, user.id, how)
        await store.add_event(
            conn, ticket_id, now, _who(user), "call-linked", {"call": call_id, "how": how}
        )

    # -- changing it ----------------------------------------------------------------------
    async def _found(self, conn: AsyncConnection, user: Principal, ticket_id: str) -> Found:
        found = await store.ticket_by_id(conn, ticket_id, lock=True)
        if found is None:
            raise NotFound("no-such-ticket", f"no ticket {ticket_id!r}", "id")
        return found

    async def _owned(self, conn: AsyncConnection, user: Principal, ticket_id: str) -> Found:
        found = await self._found(conn, user, ticket_id)
        if not model.may_change(user, found.ticket):
            raise Forbidden(
                "not-your-ticket",
                "the agent who took a ticket follows it up (首问责任制): only they, a team lead, "
                "a supervisor or an admin may change it",
            )
        return found

    def _changed(self, before: Ticket, values: dict[str, Any]) -> Ticket:
        after = replace(
            before,
            **{
                k: v for k, v in values.items() if k not in ("address", "station", "status", "kind")
            },
        )
        if "kind" in values and values["kind"] != before.kind:
            if before.kind == "incident":
                raise Conflict("incident-ticket", "an incident's own ticket stays one", "kind")
            if before.status != "open":
                raise Conflict("bad-transition", "the kind changes only while open", "kind")
            after = replace(after, kind=values["kind"])
        if "address" in values or "station" in values:
            address = values.get("address", before.address_typed)
            if "station" in values:
                station = values["station"]
            elif "address" in values and not before.station_overridden:
                station = None  # follow the new address's proposal
            else:
                station = before.station
            after = self._routed(after, address, station)
        if "status" in values:
            why = model.transition_error(after.kind, before.status, values["status"])
            if why is not None:
                raise Conflict("bad-transition", why, "status")
            after = replace(after, status=values["status"])
        if before.status == "dispatched" and after.station != before.station:
            raise Conflict(
                "at-station",
                f"the ticket is at station {before.station}: recall its order before sending it "
                "elsewhere",
                "station",
            )
        missing = model.required_missing(
            after.kind,
            {"address": after.address_typed, "phone": after.phone, "category": after.category},
        )
        if missing:
            raise Invalid("missing-field", f"a {after.kind} ticket needs {missing}", missing)
        return after

    async def update(self, user: Principal, ticket_id: str, change: Patch) -> Found:
        now = self.clock.now()
        async with self.db().begin() as conn:
            found = await self._owned(conn, user, ticket_id)
            before = found.ticket
            if change.values and model.is_final(before.status):
                raise Conflict(
                    "ticket-closed", f"the ticket is {before.status}: only a note may be added"
                )
            after = self._changed(before, change.values)
            diff = model.changes(before, after)
            if not diff and change.note is None:
                return found
            detail: dict[str, Any] = {}
            if diff:
                after = replace(after, updated_at=now)
                await store.update_ticket(conn, after)
                detail["changes"] = diff
            if change.note is not None:
                detail["note"] = change.note
            action = "note" if not diff else "status" if list(diff) == ["status"] else "changed"
            await store.add_event(conn, ticket_id, now, _who(user), action, detail)
        changed = Found(after, found.agent_name)
        await self._told("changed", changed, user, now)
        return changed

    async def link(
        self, user: Principal, ticket_id: str, call_id: str, reported: bool = False
    ) -> None:
        """One more call on the ticket. `reported`: the incident's one key adds a household's
        next call to its ticket whoever answers it (the ticket stays its taker's), and a call
        on it already is no error (the key pressed twice)."""
        try:
            async with self.db().begin() as conn:
                found = await (self._found if reported else self._owned)(conn, user, ticket_id)
                if not await store.call_exists(conn, call_id):
                    raise Invalid("no-such-call", f"no call {call_id!r}", "call")
                if await store.is_linked(conn, ticket_id, call_id):
                    if reported:
                        return
                    raise Conflict("already-linked", "the call is linked to the ticket", "call")
                await self._link(conn, ticket_id, call_id, user, "manual")
        except IntegrityError:  # the same call linked by two requests at once
            raise Conflict("already-linked", "the call is linked to the ticket", "call") from None
        await self._told("linked", found, user, self.clock.now())

    async def link_follow_up(
        self, user: Principal, ticket_id: str, call_id: str | None
    ) -> str | None:
        """Link the call a follow-up (a callback) was made on: `call_id`, else the agent's
        call in progress or just ended; its id, or None when no call is known. A call linked
        already is left as it is."""
        if call_id is None:
            taken_on = await self._call_taken_on(user)
            if taken_on is None:
                return None
            call_id = taken_on[0]
        try:
            await self.link(user, ticket_id, call_id)
        except Conflict as exc:
            if exc.code != "already-linked":
                raise
        return call_id

    # -- reading --------------------------------------------------------------------------
    async def detail(self, ticket_id: str) -> Detail:
        async with self.db().connect() as conn:
            found = await store.ticket_by_id(conn, ticket_id)
            if found is None:
                raise NotFound("no-such-ticket", f"no ticket {ticket_id!r}", "id")
            return Detail(
                found,
                await store.linked_calls(conn, ticket_id),
                await store.history(conn, ticket_id),
            )

    async def search(
        self, f: Filter, limit: int, before: store.Cursor | None = None
    ) -> list[Found]:
        async with self.db().connect() as conn:
            return await store.search(conn, f, limit, before)

    async def caller_history(self, phone: str | None, limit: int = HISTORY_LIMIT) -> CallerHistory:
        """Earlier tickets from this number, and from the address last given with it, and
        the open ones among them: what the desk pops while the phone rings."""
        if phone is None:
            return CallerHistory(None, None, [], [], [])
        async with self.db().connect() as conn:
            by_phone = await store.search(conn, Filter(phone=phone), limit)
            address = await store.last_address(conn, phone)
            at_address: list[Found] = []
            if address is not None:
                f = Filter(address=address, address_exact=True)
                seen = {x.ticket.id for x in by_phone}
                at_address = [
                    x
                    for x in await store.search(conn, f, limit + len(seen))
                    if x.ticket.id not in seen
                ][:limit]
            still_open = await store.open_tickets(conn, phone, address, limit)
        return CallerHistory(phone, address, by_phone, at_address, still_open)

    async def call_for_pop(self, call_id: str, user: Principal) -> tuple[str, bool]:
        async with self.db().connect() as conn:
            found = await store.call_for_pop(conn, call_id, user.id, user.extension)
        if found is None:
            raise NotFound("no-such-call", f"no call {call_id!r}", "call")
        return found

    # -- for the recordings (recordings.service.TicketLookup) ------------------------------
    async def calls_of_ticket(self, ticket_id: str) -> list[str] | None:
        async with self.db().connect() as conn:
            return await store.call_ids_of(conn, ticket_id)

    async def ticket_owners(self, call_pk: str) -> frozenset[int]:
        async with self.db().connect() as conn:
            return await store.owners_of_call(conn, call_pk)
