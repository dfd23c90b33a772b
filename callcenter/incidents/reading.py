"""Reading incidents: one with its tickets, order and history; the live ones with their
counts; and the live incidents covering an address, from the live copy (covering.py) a
task keeps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.errors import NotFound
from callcenter.incidents import store
from callcenter.incidents.covering import LiveCopy
from callcenter.incidents.model import Incident
from callcenter.orders import store as orders_store
from callcenter.stations.model import AddressBook, route


class IncidentReader:
    def __init__(self, db: Callable[[], AsyncEngine], book: Callable[[], AddressBook]) -> None:
        self.db = db
        self.book = book
        # What the screen-pops read; its task (run) is the composition root's.
        self.copy = LiveCopy(db, book)

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

    async def covering(self, standards: Sequence[str | None]) -> list[Incident]:
        """The live incidents covering any of these addresses (standard form), open first:
        from the copy a task keeps (covering.py), never a database read on a pop's path."""
        return await self.copy.covering(standards)

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
