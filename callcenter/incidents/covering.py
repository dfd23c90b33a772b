"""The live incidents as the screen-pop reads them: a copy in memory, read again at once
after a change made here and every 2 s by its own task (a change made elsewhere, e.g. by
the other instance of an active/standby pair), never on a pop's path. A pop at every
ringing call paid that read every 2 s (~10 ms at 500 incidents on PostgreSQL, more on a busy
core, and every pop in flight at the moment read it too): the p99 of a busy hotline's pops
was the read's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.incidents import model, store
from callcenter.incidents.model import Incident
from callcenter.stations.model import AddressBook

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2.0
# A copy this old means its task is not running (or the database is away): a pop reads it.
_STALE_AFTER = 3 * REFRESH_SECONDS


class LiveCopy:
    def __init__(self, db: Callable[[], AsyncEngine], book: Callable[[], AddressBook]) -> None:
        self.db = db
        self.book = book
        self._live: list[Incident] | None = None
        self._read_from = 0.0  # when the copy's read began (monotonic)
        self._reading = asyncio.Lock()

    async def refresh(self, since: float | None = None) -> list[Incident]:
        """Read the live incidents again, unless a read that began at `since` or later (by
        default: after this call) has done so meanwhile: one read for all who wait."""
        asked = time.monotonic() if since is None else since
        async with self._reading:
            if self._live is not None and self._read_from >= asked:
                return self._live
            began = time.monotonic()
            async with self.db().connect() as conn:
                self._live = await store.live(conn)
            self._read_from = began
            return self._live

    async def changed(self) -> None:
        """A change was committed here: read it now, before anyone is told of it (a pop
        after that sees it). With the database away, the next pop reads it instead."""
        try:
            await self.refresh()
        except (SQLAlchemyError, OSError):
            log.warning("live incidents not read after a change; the next pop reads them")
            self._live = None

    async def run(self) -> None:
        """Owned by the composition root: the copy read again every REFRESH_SECONDS."""
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
            except (SQLAlchemyError, OSError):
                # The database away: the pops read it themselves once the copy is stale.
                log.exception("live incidents not read again; retrying")

    async def incidents(self) -> list[Incident]:
        stale_before = time.monotonic() - _STALE_AFTER
        if self._live is None or self._read_from < stale_before:
            return await self.refresh(since=stale_before)  # any read not stale will do
        return self._live

    async def covering(self, standards: Sequence[str | None]) -> list[Incident]:
        """The live incidents covering any of these addresses (standard form), open first."""
        live = await self.incidents()
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
