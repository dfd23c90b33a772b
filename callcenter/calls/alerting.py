"""Ring-limit alerts from the timers to the bus, the moment they fire.

Alone, the service publishes the alert at once and saves its violation with the next batch:
a crash in between raises it again at the next start (at least once). With an alert log (an
active/standby pair, callcenter/ha/alerts.py) the alert is first claimed, and its violation
saved, in one small transaction; then published. Whichever instance's claim commits raised
it: exactly once for the pair.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.bus import Bus
from callcenter.calls import store
from callcenter.calls.writer import CallWriter
from callcenter.events import RingLimitReached, ViolationRecorded

log = logging.getLogger(__name__)

RETRY_SECONDS = 0.5
# How long a claim waits for its call and leg to be saved (its violation refers to them).
SAVED_WITHIN = 5.0


class AlertClaims(Protocol):
    """Inside `conn`'s transaction: the alerts this instance raises now; the others some
    instance raised already."""

    async def claim(
        self, conn: AsyncConnection, events: Sequence[RingLimitReached]
    ) -> list[RingLimitReached]: ...


class RingAlerts:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        claims: AlertClaims | None,
        unsaved: Callable[[set[str]], set[str]],
        writer: CallWriter,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.claims = claims
        self._unsaved = unsaved
        self._writer = writer
        self._queue: asyncio.Queue[RingLimitReached] = asyncio.Queue()
        # With an alert log, a ring limit's violation waits for its alert's claim.
        self._held: dict[str, ViolationRecorded] = {}

    def take(self, event: object) -> bool:
        """Take a ring-limit alert (and, when it is claimed first, its violation); False
        for anything else, which the writer saves."""
        if isinstance(event, RingLimitReached):
            self._queue.put_nowait(event)
            return True
        if isinstance(event, ViolationRecorded) and event.kind == "ring_limit" and self.claims:
            self._held[event.id] = event
            return True
        return False

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                if self.claims is None:
                    for alert in batch:
                        await self.bus.publish(alert)
                else:
                    await self._claim_and_publish(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    async def _saved(self, call_pks: set[str]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SAVED_WITHIN
        while self._unsaved(call_pks) and loop.time() < deadline:
            self._writer.wake()
            await asyncio.sleep(self._writer.min_flush_gap)

    async def _claim_and_publish(self, batch: list[RingLimitReached]) -> None:
        assert self.claims is not None
        await self._saved({a.call_pk for a in batch})
        while True:
            try:
                async with self.engine.begin() as conn:
                    won = await self.claims.claim(conn, batch)
                    await store.insert_violations(conn, [self._held[a.violation_id] for a in won])
                break
            except Exception as exc:
                # The database is away, or the lock was lost (the instance then stops:
                # callcenter/ha/service.py). Nothing was committed: try again.
                log.error("claiming ring-limit alerts failed; retrying count=%d error=%s",
                          len(batch), _first_line(exc))  # fmt: skip
                await asyncio.sleep(RETRY_SECONDS)
        raised = {a.violation_id for a in won}
        for alert in batch:
            violation = self._held.pop(alert.violation_id)
            # Not won: the instance before us raised it, and stored its violation.
            if alert.violation_id in raised:
                await self.bus.publish(alert)
                await self.bus.publish(violation)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
