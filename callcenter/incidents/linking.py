"""Which incident a repair ticket is part of, and when the reports become a proposal.

A new repair ticket whose address lies in a live incident's area (and whose fault is one of
its categories) is linked to it as it is taken: to an open incident as dispatched (the
station has the incident's order), to a proposal as open. A ticket in no incident is counted
towards a proposal for its area (model.decide). Tickets taken at the same moment are counted
one after the other, so that those taken while another one made the proposal join it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.model import Principal
from callcenter.clock import Clock
from callcenter.errors import Conflict, Invalid, NotFound
from callcenter.events import TicketTouched
from callcenter.incidents import model, store
from callcenter.incidents.model import AreaKeys, Incident, Place, Report
from callcenter.incidents.settings import IncidentsSettings
from callcenter.orders import store as orders_store
from callcenter.stations.model import AddressBook
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import Ticket

log = logging.getLogger(__name__)

Told = Callable[[Incident, str, str, datetime], Awaitable[None]]
# Recall a ticket's order taken over by an incident: (who, order id, reason).
Recall = Callable[[Principal, str, str], Awaitable[object]]


class Linker:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        book: Callable[[], AddressBook],
        settings: IncidentsSettings,
        told: Told,
    ) -> None:
        self.db = db
        self.clock = clock
        self.book = book
        self.settings = settings
        self.told = told
        self.recall: Recall | None = None
        # One ticket counted at a time: two counting together would each miss the other's
        # proposal, and the tickets taken with it would stay outside.
        self._counting = asyncio.Lock()

    def keys(self, standard: str | None, station: str | None) -> AreaKeys:
        return model.address_keys(self.book(), standard, station)

    # -- as a ticket is taken (in its transaction) ----------------------------------------
    async def link_for(
        self, conn: AsyncConnection, ticket: Ticket, named: str | None
    ) -> tuple[str, bool] | None:
        """The live incident the new ticket is part of: (its id, open?)."""
        keys = self.keys(ticket.address_standard, ticket.station)
        if named is not None:
            incident = await store.get(conn, named, share=True)
            if incident is None:
                raise Invalid("no-such-incident", f"no incident {named!r}", "incident")
            if incident.status not in model.LIVE:
                raise Conflict(
                    "incident-closed", f"incident {named} is {incident.status}", "incident"
                )
            if ticket.kind != "repair":
                raise Invalid("not-a-repair", "an incident report is a repair ticket", "kind")
            if not model.covers(incident.area, keys):
                raise Invalid(
                    "outside-incident",
                    f"the address is not in incident {named}'s area ({incident.area_label})",
                    "address",
                )
            return incident.id, incident.status == "open"
        if ticket.kind != "repair" or ticket.category is None:
            return None
        found = [i for i in await store.live(conn) if i.covers(keys, ticket.category)]
        incident = await store.first_live(conn, found)
        return (incident.id, incident.status == "open") if incident is not None else None

    # -- after it is taken: one more report towards a proposal ------------------------------
    async def ticket_taken(self, event: TicketTouched) -> Incident | None:
        if (
            event.action != "taken"
            or event.kind != "repair"
            or event.category not in self.settings.categories
        ):
            return None
        async with self._counting:
            return await self._count(event.ticket_id)

    async def _count(self, ticket_id: str) -> Incident | None:
        async with self.db().connect() as conn:
            found = await tickets_store.ticket_by_id(conn, ticket_id)
        if found is None or found.ticket.incident_id is not None:
            return None
        ticket = found.ticket
        if await self._join_live(ticket):
            return None
        report = self._report(
            ticket.id, ticket.created_at, ticket.category,
            ticket.address_standard, ticket.station, ticket.phone,
        )  # fmt: skip
        if report is None:
            return None
        key = model.cluster_key(self.settings.granularity, report.area)
        within = timedelta(minutes=self.settings.propose_within_minutes)
        async with self.db().connect() as conn:
            since = ticket.created_at - within
            dismissed = await store.last_dismissal(conn, key)
            if dismissed is not None and dismissed >= since:
                since = dismissed + timedelta(microseconds=1)  # after it, not at it
            rows = await store.recent_reports(conn, [report.category], since, ticket.created_at)
            kept_out = await store.unlinked_by_hand(conn, [r["id"] for r in rows])
        recent = []
        for row in rows:
            if row["id"] in kept_out:
                continue  # someone decided it is not this area's fault
            other = self._report(
                row["id"], row["created_at"], row["category"],
                row["address_standard"], row["station"], row["phone"],
            )  # fmt: skip
            if other is not None and other.ticket_id != ticket.id:
                recent.append(other)
        proposal = model.decide(
            recent, report, self.settings.propose_households, within, self.settings.granularity
        )
        if proposal is None:
            return None
        return await self._propose(proposal, ticket)

    async def _join_live(self, ticket: Ticket) -> bool:
        """Link a ticket taken while a live incident of its area came to be (it found none
        as it was taken): to a proposal as it is, to an open incident as dispatched."""
        keys = self.keys(ticket.address_standard, ticket.station)
        now = self.clock.now()
        async with self.db().begin() as conn:
            found = [i for i in await store.live(conn) if i.covers(keys, ticket.category)]
            incident = await store.first_live(conn, found)
            if incident is None:
                return False
            if not await store.link(conn, [ticket.id], incident.id):
                return True  # linked meanwhile
            if incident.status == "open" and ticket.status == "open":
                await tickets_store.update_ticket(
                    conn, replace(ticket, status="dispatched", updated_at=now)
                )
                await tickets_store.add_event(
                    conn, ticket.id, now, (None, "service", None), "status",
                    {"changes": {"status": ["open", "dispatched"]}, "incident": incident.id},
                )  # fmt: skip
            await store.add_event(
                conn, incident.id, now, "service", "linked", {"tickets": [ticket.id]}
            )
        log.info("ticket joined incident id=%s ticket=%s", incident.id, ticket.id)
        return True

    def _report(
        self,
        ticket_id: str,
        at: datetime,
        category: str | None,
        standard: str | None,
        station: str | None,
        phone: str | None,
    ) -> Report | None:
        area = self.keys(standard, station).at(self.settings.granularity)
        who = model.household(standard, phone)
        if area is None or who is None or category is None:
            return None
        return Report(ticket_id, at, area, category, who)

    async def _propose(self, proposal: model.Proposal, ticket: Ticket) -> Incident | None:
        now = self.clock.now()
        keys = self.keys(ticket.address_standard, ticket.station)
        granularity = self.settings.granularity
        label = _label(keys, granularity)
        place = Place(granularity, label, _coarser(keys, granularity))
        n = len(proposal.tickets)
        incident = Incident(
            id=uuid.uuid4().hex,
            status="proposed",
            station=keys.station or ticket.station or "",
            area=(place,),
            categories=self.settings.categories,
            cause=f"{n}户报{_CATEGORY_ZH.get(proposal.category, proposal.category)}（待确认）",
            started_at=proposal.first_at,
            expected_repair_at=None,
            announcement="",
            created_at=now,
            created_by="service",
            cluster_key=proposal.cluster_key,
        )
        try:
            async with self.db().begin() as conn:
                await store.insert(conn, incident)
                linked = await store.link(conn, proposal.tickets, incident.id)
                await store.add_event(
                    conn,
                    incident.id,
                    now,
                    "service",
                    "proposed",
                    {"tickets": list(proposal.tickets), "linked": linked, "area": label},
                )
        except IntegrityError:
            return None  # proposed a moment ago (another ticket, or the other instance)
        log.info("incident proposed id=%s area=%s households=%d", incident.id, label, n)
        await self.told(incident, "proposed", "service", now)
        return incident

    # -- when an incident opens: the area's tickets taken before it ---------------------------
    async def link_area(self, user: Principal, incident: Incident, now: datetime) -> int:
        """Link the area's repair tickets since it started: the open ones, and the ones
        already sent to a station on their own (their orders recalled: the station keeps one
        order, the incident's). Its proposal's tickets were linked already; those sent on
        their own before the proposal came are recalled too."""
        async with self.db().connect() as conn:
            rows = await store.recent_reports(
                conn, incident.categories, incident.started_at, now, ("open", "dispatched")
            )
            already = await store.ticket_ids(conn, incident.id)
            kept_out = await store.unlinked_by_hand(conn, [r["id"] for r in rows])
        taken: list[str] = []
        for row in rows:
            keys = self.keys(row["address_standard"], row["station"])
            if model.covers(incident.area, keys) and row["id"] not in kept_out:
                taken.append(row["id"])
        recalled = 0
        for ticket_id in [*already, *taken]:
            async with self.db().connect() as conn:
                order = await orders_store.active_order(conn, ticket_id)
            if order is not None and self.recall is not None:
                try:
                    await self.recall(
                        user, order.id, f"片区故障 {incident.id}: the incident's order"
                    )
                    recalled += 1
                except (Conflict, NotFound) as exc:
                    log.warning("order not recalled id=%s: %s", order.id, exc)
        async with self.db().begin() as conn:
            linked = await store.link(conn, taken, incident.id)
            for ticket_id in await store.ticket_ids(conn, incident.id):
                found = await tickets_store.ticket_by_id(conn, ticket_id, lock=True)
                assert found is not None
                ticket = found.ticket
                if ticket.kind == "repair" and ticket.status == "open":
                    await tickets_store.update_ticket(
                        conn, replace(ticket, status="dispatched", updated_at=now)
                    )
                    await tickets_store.add_event(
                        conn,
                        ticket.id,
                        now,
                        (user.id, user.name, user.work_number),
                        "status",
                        {"changes": {"status": ["open", "dispatched"]}, "incident": incident.id},
                    )
            if linked or recalled:
                await store.add_event(
                    conn, incident.id, now, user.name, "linked",
                    {"tickets": linked, "recalled": recalled},
                )  # fmt: skip
        return linked


_CATEGORY_ZH = {"ice_cold": "冰凉", "not_hot": "不热", "temperature_check": "要求测温"}


def _coarser(keys: AreaKeys, granularity: str) -> AreaKeys:
    """The place's own key and the coarser ones it lies in (not the flat's finer ones)."""
    order = model.GRANULARITIES
    at = order.index(granularity)
    kept = {g: keys.at(g) for g in order[at:]}
    return AreaKeys(**kept)


def _label(keys: AreaKeys, granularity: str) -> str:
    value = keys.at(granularity) or ""  # type: ignore[arg-type]
    if granularity == "street" and keys.district and value.startswith(keys.district):
        return value[len(keys.district) :]
    return value
