"""Reading incidents: one with its tickets, order and history; the live ones with their
counts; and which live incidents cover an address — asked at every screen-pop, so the live
incidents are kept in memory, read again after a change here and every few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.errors import NotFound
from callcenter.incidents import model, store
from callcenter.incidents.model import Incident
from callcenter.orders import store as orders_store
from callcenter.stations.model import AddressBook, route

_LIVE_FOR_SECONDS = 2.0


class IncidentReader:
    def __init__(self, db: Callable[[], AsyncEngine], book: Callable[[], AddressBook]) -> None:
        self.db = db
        self.book = book
        self._live: list[Incident] | None = None
        self._live_read = 0.0

    def forget_live(self) -> None:
        """Something changed: the next question reads the live incidents again."""
        self._live = None

    async def _get(self, conn: AsyncConnection, incident_id: str, lock: bool = False) -> Incident:
        incident = await store.get(conn, incident_id, lock=lock)
        if incident is None:
            raise NotFound("no-such-incident", f"no incident {incident_id!r}", "id")
        return incident

    async def get(self, incident_id: str) -> Incident:
        async with self.db().connect() as conn:
            return await self._get(conn, incident_id)

    async def detail(self, incident_id: str) -> tuple[Incident, dict[str, Any]]:
        async with self.db().connect() as conn:
            incident = await self._get(conn, incident_id)
            tickets_n, calls_n = (await store.counts(conn, [incident.id])).get(incident.id, (0, 0))
            order = None
            if incident.ticket_id is not None:
                mine = await orders_store.orders_of_ticket(conn, incident.ticket_id)
                order = mine[-1] if mine else None
            extra = {
                "tickets": tickets_n,
                "calls": calls_n,
                "ticket_ids": await store.ticket_ids(conn, incident.id),
                "order": order,
                "history": await store.history(conn, incident.id),
            }
        return incident, extra

    async def _live_incidents(self) -> list[Incident]:
        """The live incidents, read again after a change here and at least every few seconds
        (a screen-pop asks for them at every ringing call)."""
        if self._live is None or time.monotonic() - self._live_read > _LIVE_FOR_SECONDS:
            async with self.db().connect() as conn:
                self._live = await store.live(conn)
            self._live_read = time.monotonic()
        return self._live

    async def covering(self, standards: Sequence[str | None]) -> list[Incident]:
        """The live incidents covering any of these addresses (standard form), open first."""
        live = await self._live_incidents()
        if not live:
            return []
        book = self.book()
        found: dict[str, Incident] = {}
        for standard in dict.fromkeys(s for s in standards if s):
            keys = model.address_keys(book, standard, None)
            for incident in live:
                if model.covers(incident.area, keys):
                    found.setdefault(incident.id, incident)
        return sorted(found.values(), key=lambda i: (i.status != "open", i.created_at))

    async def covering_address(self, typed: str) -> tuple[str | None, list[Incident]]:
        standard = route(self.book(), typed).standard[:255] or None
        return standard, await self.covering([standard])

    async def live(self) -> list[tuple[Incident, tuple[int, int]]]:
        async with self.db().connect() as conn:
            found = await store.live(conn)
            counts = await store.counts(conn, [i.id for i in found])
        return [(i, counts.get(i.id, (0, 0))) for i in found]

    async def search(
        self, statuses: Sequence[str], limit: int, before: datetime | None
    ) -> list[Incident]:
        async with self.db().connect() as conn:
            return await store.search(conn, statuses, limit, before)
