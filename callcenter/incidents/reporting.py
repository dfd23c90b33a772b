"""The desk's one key (「片区故障报修」): a caller from inside an open incident is reported in
one step. Their number comes from the call, their flat from the address they gave last
time (or what the agent typed); a household already reported in this incident gets the call
on its ticket instead of a second ticket, so it is called back once."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.auth.model import Principal
from callcenter.errors import Conflict, Invalid
from callcenter.incidents import model, store
from callcenter.incidents.service import Incidents
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import NewTicket, normalize_phone
from callcenter.tickets.service import Tickets
from callcenter.tickets.store import Found


@dataclass(frozen=True, slots=True)
class Reported:
    found: Found
    created: bool  # False: the call was added to the household's ticket


@dataclass(frozen=True, slots=True)
class ReportRequest:
    call: str | None
    phone: str | None
    address: str | None
    reporter_name: str | None
    category: str | None


# A household's two reports at one moment (two phones of one flat answered by two agents)
# must not both find no ticket and make two: the look and the filing are serialized per
# household. Striped, so memory stays fixed; only the active instance takes requests, so a
# lock in the process is enough.
STRIPES = 64


class IncidentReports:
    def __init__(self, tickets: Callable[[], Tickets], incidents: Incidents) -> None:
        self.tickets = tickets
        self.incidents = incidents
        self._stripes = [asyncio.Lock() for _ in range(STRIPES)]

    def _lock(self, household: str) -> asyncio.Lock:
        return self._stripes[zlib.crc32(household.encode()) % STRIPES]

    async def report(self, user: Principal, incident_id: str, req: ReportRequest) -> Reported:
        incident = await self.incidents.get(incident_id)
        if incident.status not in model.LIVE:
            raise Conflict("incident-closed", f"the incident is {incident.status}", "id")
        desk = self.tickets()
        caller = None
        if req.call is not None:
            caller, _ = await desk.call_for_pop(req.call, user)
        phone = normalize_phone(req.phone or caller or "")
        history = await desk.caller_history(phone) if phone else None
        address = req.address or (history.address if history is not None else None)
        if not address:
            raise Invalid(
                "missing-field", "address: the caller's flat (none on record for this number)",
                "address",
            )  # fmt: skip
        if phone is None:
            raise Invalid("missing-field", "phone: a number to call the resident back", "phone")
        category = req.category or next(
            (c for c in incident.categories if c in model.HEAT_LOSS), incident.categories[0]
        )
        new = NewTicket(
            kind="repair",
            reporter_name=req.reporter_name or _last_name(history),
            phone=phone,
            address=address,
            station=None,
            category=category,  # type: ignore[arg-type]
            fault_location=None,
            severity=None,
            description=f"片区故障报修：{incident.cause}",
            call=req.call,
            incident=incident.id,
        )
        standard = desk.standard_address(address)
        household = model.household(standard, phone) or phone
        async with self._lock(household):
            same = await self._household_ticket(incident.id, standard, phone, household)
            if same is not None:
                if req.call is not None:
                    await desk.link(user, same.ticket.id, req.call, reported=True)
                return Reported(same, created=False)
            return Reported(await desk.create(user, new), created=True)

    async def _household_ticket(
        self, incident_id: str, standard: str | None, phone: str, household: str
    ) -> Found | None:
        desk = self.tickets()
        async with desk.db().connect() as conn:
            for row in await store.same_household(conn, incident_id, standard, phone):
                if model.household(row["address_standard"], row["phone"]) == household:
                    return await tickets_store.ticket_by_id(conn, row["id"])
        return None


def _last_name(history: object) -> str:
    found = getattr(history, "tickets", None) or []
    for item in found:
        name = item.ticket.reporter_name
        if name:
            return str(name)
    return ""
