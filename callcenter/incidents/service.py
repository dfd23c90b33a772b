"""Incident use cases: open one (or confirm the service's proposal), link the area's repair
tickets, send the station one order for all of them, close it with one callback per
household that called, and tell the desks, the live page and the PBX (MQTT) each time.

The station's one order is the incident's own ticket (kind "incident") dispatched as any
repair is, so its deadlines, anomalies, outbox and portal are the dispatch issue's. Its
return closes the incident; closing the incident by hand records that return.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth.model import Principal
from callcenter.clock import Clock
from callcenter.errors import Conflict, Forbidden, Invalid, NotFound
from callcenter.events import TicketTouched
from callcenter.incidents import areas, closing, model, needs, own_ticket, store
from callcenter.incidents.linking import Linker
from callcenter.incidents.model import INCIDENT_HEADS, INCIDENT_OPENERS, Incident, Place
from callcenter.incidents.reading import IncidentReader
from callcenter.incidents.settings import IncidentsSettings
from callcenter.orders import store as orders_store
from callcenter.orders.service import OrderChanged, Orders
from callcenter.stations.model import AddressBook
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import may_change as tickets_may_change

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IncidentChanged:
    """An incident was proposed, opened, changed, closed or dismissed (`action`), or took
    more tickets ("linked"). The live page and MQTT read the live incidents again."""

    incident: Incident
    action: str
    by: str
    at: datetime


OnChange = Callable[[IncidentChanged], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Opening:
    """What a lead says when opening an incident (or confirming a proposal)."""

    area: tuple[Place, ...] | None
    station: str | None
    categories: tuple[str, ...] | None
    cause: str | None
    started_at: datetime | None
    expected_repair_at: datetime | None
    announcement: str | None


def new_id() -> str:
    return uuid.uuid4().hex


def _who(user: Principal) -> tuple[int | None, str, str | None]:
    return user.id, user.name, user.work_number


class Incidents(IncidentReader):
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        book: Callable[[], AddressBook],
        orders: Callable[[], Orders],
        settings: IncidentsSettings,
        tz: ZoneInfo,
        on_change: OnChange | None = None,
    ) -> None:
        super().__init__(db, book)
        self.clock = clock
        self.orders = orders
        self.settings = settings
        self.tz = tz
        self.on_change = on_change
        self.linker = Linker(db, clock, book, settings, self._told)
        # How much a household's vulnerability weighs: [priority] weights, handed over by
        # the composition root; alone, any vulnerability counts the same.
        self.weigh: needs.Weigh = lambda _: 1.0

    async def _told(self, incident: Incident, action: str, by: str, at: datetime) -> None:
        await self.copy.changed()
        if self.on_change is not None:
            await self.on_change(IncidentChanged(incident, action, by, at))

    # -- opening --------------------------------------------------------------------------
    async def open(self, user: Principal, opening: Opening) -> Incident:
        if user.role not in INCIDENT_OPENERS:
            raise Forbidden(
                "forbidden", "a team lead, the department head or a supervisor opens one"
            )
        if not opening.area:
            raise Invalid("missing-field", "area: at least one place", "area")
        if not opening.cause:
            raise Invalid("missing-field", "cause: what failed (e.g. 主管道爆裂)", "cause")
        now = self.clock.now()
        draft = Incident(
            id=new_id(),
            status="open",
            station="",
            area=opening.area,
            categories=opening.categories or self.settings.categories,
            cause=opening.cause,
            started_at=opening.started_at or now,
            expected_repair_at=opening.expected_repair_at,
            announcement="",
            created_at=now,
            created_by=user.name,
            opened_at=now,
            opened_by=user.name,
        )
        incident = self._announced(
            areas.with_station(self.book(), draft, opening.station), opening.announcement
        )
        self._check_times(incident)
        async with self.db().begin() as conn:
            await areas.no_overlap(conn, incident)
            await store.insert(conn, incident)
            await areas.supersede(conn, incident, now)
            await store.add_event(conn, incident.id, now, user.name, "opened", _summary(incident))
            incident, sent = await own_ticket.dispatch(
                conn, self.orders(), user, incident, now, self.weigh
            )
        return await self._after_opening(user, incident, sent, now, "opened")

    async def confirm(self, user: Principal, incident_id: str, opening: Opening) -> Incident:
        """The department head confirms the service's proposal: it is open from now."""
        if user.role not in INCIDENT_HEADS:
            raise Forbidden("forbidden", "the department head (or a supervisor) confirms it")
        now = self.clock.now()
        async with self.db().begin() as conn:
            incident = await self._get(conn, incident_id, lock=True)
            if incident.status != "proposed":
                raise Conflict("bad-transition", f"the incident is {incident.status}", "status")
            changed = replace(
                incident,
                status="open",
                area=opening.area or incident.area,
                categories=opening.categories or incident.categories,
                cause=opening.cause or incident.cause,
                started_at=opening.started_at or incident.started_at,
                expected_repair_at=opening.expected_repair_at or incident.expected_repair_at,
                opened_at=now,
                opened_by=user.name,
            )
            if opening.area or opening.station:
                changed = areas.with_station(self.book(), changed, opening.station)
            changed = self._announced(changed, opening.announcement)
            self._check_times(changed)
            await areas.no_overlap(conn, changed)
            await store.save(conn, changed)
            await store.add_event(conn, changed.id, now, user.name, "confirmed", _summary(changed))
            changed, sent = await own_ticket.dispatch(
                conn, self.orders(), user, changed, now, self.weigh
            )
        return await self._after_opening(user, changed, sent, now, "confirmed")

    def _announced(self, incident: Incident, text: str | None) -> Incident:
        said = text or model.announcement(
            incident.area_label, incident.cause, incident.expected_repair_at, self.tz
        )
        return replace(incident, announcement=said)

    def _check_times(self, incident: Incident) -> None:
        expected = incident.expected_repair_at
        if expected is not None and expected <= incident.started_at:
            raise Invalid(
                "bad-expected-repair",
                "expected_repair_at must be after started_at",
                "expected_repair_at",
            )
        if incident.started_at > self.clock.now() + timedelta(minutes=5):
            raise Invalid("bad-started-at", "started_at is in the future", "started_at")

    async def _after_opening(
        self,
        user: Principal,
        incident: Incident,
        sent: OrderChanged,
        now: datetime,
        action: str,
    ) -> Incident:
        await self.orders().tell(sent)
        await self.linker.link_area(user, incident, now)
        await self._refresh_needs(incident.id)
        log.info(
            "incident %s id=%s station=%s area=%s by=%s",
            action, incident.id, incident.station, incident.area_label, user.name,
        )  # fmt: skip
        await self._told(incident, action, user.name, now)
        return incident

    # -- changing, dismissing ---------------------------------------------------------------
    async def update(self, user: Principal, incident_id: str, values: dict[str, Any]) -> Incident:
        """cause, expected_repair_at, announcement: what the desks and the IVR say."""
        if user.role not in INCIDENT_OPENERS:
            raise Forbidden("forbidden", "a team lead, the department head or a supervisor")
        now = self.clock.now()
        async with self.db().begin() as conn:
            incident = await self._get(conn, incident_id, lock=True)
            if incident.status not in model.LIVE:
                raise Conflict("incident-closed", f"the incident is {incident.status}", "status")
            changed = replace(incident, **values)
            if "announcement" not in values and (
                "cause" in values or "expected_repair_at" in values
            ):
                changed = self._announced(changed, None)
            self._check_times(changed)
            await store.save(conn, changed)
            await store.add_event(conn, changed.id, now, user.name, "changed", _jsonable(values))
        await self._told(changed, "changed", user.name, now)
        return changed

    async def dismiss(self, user: Principal, incident_id: str, reason: str) -> Incident:
        """Not one fault after all: its tickets go on alone (each dispatched as usual)."""
        if user.role not in INCIDENT_HEADS:
            raise Forbidden("forbidden", "the department head (or a supervisor) dismisses it")
        if not reason.strip():
            raise Invalid("missing-field", "reason: why this is not one fault", "reason")
        now = self.clock.now()
        async with self.db().begin() as conn:
            incident = await self._get(conn, incident_id, lock=True)
            if incident.status != "proposed":
                raise Conflict(
                    "bad-transition",
                    f"only a proposal is dismissed; this one is {incident.status}",
                    "status",
                )
            incident = replace(
                incident, status="dismissed", closed_at=now, closed_by=user.name, note=reason
            )
            await store.save(conn, incident)
            freed = await store.unlink_all(conn, incident.id)
            await store.add_event(
                conn, incident.id, now, user.name, "dismissed", {"reason": reason, "freed": freed}
            )
        await self._told(incident, "dismissed", user.name, now)
        return incident

    async def unlink(self, user: Principal, incident_id: str, ticket_id: str) -> Incident:
        """A report linked by mistake (another fault, a flat outside the break) goes on alone:
        open again, to be dispatched on its own."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            incident = await self._get(conn, incident_id, lock=True)
            found = await tickets_store.ticket_by_id(conn, ticket_id, lock=True)
            if found is None or found.ticket.incident_id != incident.id:
                raise NotFound(
                    "not-in-incident",
                    f"ticket {ticket_id!r} is not part of this incident",
                    "ticket",
                )
            ticket = found.ticket
            if not tickets_may_change(user, ticket) or ticket.kind != "repair":
                raise Forbidden("not-your-ticket", "the ticket's agent or a lead unlinks it")
            if incident.status not in model.LIVE:
                raise Conflict("incident-closed", f"the incident is {incident.status}", "status")
            status = "open" if ticket.status == "dispatched" else ticket.status
            await tickets_store.update_ticket(
                conn, replace(ticket, incident_id=None, status=status, updated_at=now)
            )
            await tickets_store.add_event(
                conn, ticket.id, now, _who(user), "status",
                {"changes": {"status": [ticket.status, status]}, "unlinked": incident.id},
            )  # fmt: skip
            await store.add_event(
                conn, incident.id, now, user.name, "unlinked", {"ticket": ticket.id}
            )
        await self._refresh_needs(incident.id)
        await self._told(incident, "unlinked", user.name, now)
        return incident

    # -- the reports' needs on the incident's order -----------------------------------------
    async def ticket_touched(self, event: TicketTouched) -> None:
        """A repair report taken (one more towards a proposal) or changed: a vulnerable
        household in an incident ranks the incident's order (needs.py)."""
        if event.kind != "repair":
            return
        if event.action == "taken":
            await self.linker.ticket_taken(event)
        if event.action not in ("taken", "changed"):
            return
        async with self.db().connect() as conn:
            found = await tickets_store.ticket_by_id(conn, event.ticket_id)
        if found is None or found.ticket.incident_id is None:
            return
        if event.action == "taken" and found.ticket.vulnerability is None:
            return  # adds no need: nothing to weigh again
        await self._refresh_needs(found.ticket.incident_id)

    async def _refresh_needs(self, incident_id: str) -> None:
        now = self.clock.now()
        async with self.db().begin() as conn:
            incident = await store.get(conn, incident_id)
            changed = incident is not None and await needs.refresh(conn, incident, self.weigh, now)
        if changed:
            log.info("incident order's vulnerability changed id=%s", incident_id)

    # -- closing ----------------------------------------------------------------------------
    async def close(
        self, user: Principal, incident_id: str, note: str, repaired_at: datetime | None
    ) -> Incident:
        """Repaired: the station's order is returned (recorded for it when it has not), every
        linked ticket is repaired, and each household that called is owed one callback."""
        if user.role not in INCIDENT_HEADS:
            raise Forbidden("forbidden", "the department head (or a supervisor) closes it")
        if not note.strip():
            raise Invalid("missing-field", "note: what was repaired", "note")
        now = self.clock.now()
        when = repaired_at or now
        async with self.db().connect() as conn:
            incident = await self._get(conn, incident_id)
            order = (
                await orders_store.active_order(conn, incident.ticket_id)
                if incident.ticket_id
                else None
            )
        if incident.status != "open":
            raise Conflict("bad-transition", f"the incident is {incident.status}", "status")
        if when > now or when < incident.started_at:
            raise Invalid(
                "bad-repaired-at", "repaired_at: between the start and now", "repaired_at"
            )
        if order is not None:
            await self.orders().act(user, order.id, "return", note=note)
        closed = await self.finish(incident.id, when, user.name, note)
        return closed or await self.get(incident.id)

    async def owns(self, ticket_id: str) -> bool:
        """Whether this is an incident's own ticket (the station's one order)."""
        async with self.db().connect() as conn:
            return await store.owner_of_ticket(conn, ticket_id) is not None

    async def order_changed(self, change: OrderChanged) -> None:
        """The station returned the incident's order: the incident is repaired."""
        if change.action != "return":
            return
        async with self.db().connect() as conn:
            owner = await store.owner_of_ticket(conn, change.order.ticket_id)
        if owner is not None:
            await self.finish(owner, change.at, change.by, change.order.result or "")

    async def finish(
        self, incident_id: str, repaired_at: datetime, by: str, note: str
    ) -> Incident | None:
        """Close it once (the order's return and the close can both ask): None when it was
        closed already."""
        now = self.clock.now()
        async with self.db().begin() as conn:
            incident = await self._get(conn, incident_id, lock=True)
            if incident.status != "open":
                return None
            incident = replace(
                incident,
                status="closed",
                closed_at=now,
                closed_by=by,
                repaired_at=repaired_at,
                note=note or incident.note,
            )
            await store.save(conn, incident)
            repaired, called_back = await closing.repair_tickets(conn, incident, by, now)
            await store.add_event(
                conn,
                incident.id,
                now,
                by,
                "closed",
                {"repaired": repaired, "callbacks": called_back, "note": note},
            )
        log.info(
            "incident closed id=%s tickets=%d callbacks=%d", incident.id, repaired, called_back
        )
        await self._told(incident, "closed", by, now)
        return incident


def _summary(incident: Incident) -> dict[str, Any]:
    return {
        "area": incident.area_label,
        "station": incident.station,
        "cause": incident.cause,
        "categories": list(incident.categories),
        "expected_repair_at": incident.expected_repair_at,
    }


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}
