"""What the service does at a ring limit besides the alert: per queue or extension,
`on_ring_limit = "overflow"` sends the still-ringing call to an overflow target through the
PBX that carries it, and records the PBX's answer. A failed command is an alert itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.bus import Bus
from callcenter.calls import store
from callcenter.calls.model import new_id
from callcenter.clock import Clock
from callcenter.config import RingSettings
from callcenter.events import OverflowAttempted, RingLimitReached
from callcenter.signals import CallRedirector, CommandResult

log = logging.getLogger(__name__)


class RingLimitActions:
    def __init__(
        self,
        rings: RingSettings,
        redirectors: Mapping[str, CallRedirector],
        engine: AsyncEngine,
        bus: Bus,
        clock: Clock,
        wait_saved: Callable[[str], Awaitable[None]],
        timeout: float = 10.0,
    ) -> None:
        self.rings = rings
        self.redirectors = redirectors
        self.engine = engine
        self.bus = bus
        self.clock = clock
        self.timeout = timeout
        self._wait_saved = wait_saved
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_ring_limit(self, alert: RingLimitReached) -> None:
        """Bus handler: start the configured action without holding up other alerts."""
        action = self.rings.action_for(alert.queue, alert.extension)
        if action.on_ring_limit != "overflow":
            return
        task = asyncio.get_running_loop().create_task(self._overflow(alert, action.target))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("overflow action failed", exc_info=task.exception())

    async def _redirect(self, alert: RingLimitReached, target: str) -> CommandResult:
        redirector = self.redirectors.get(alert.source)
        if redirector is None:
            return CommandResult(False, f"source {alert.source} cannot redirect calls")
        try:
            async with asyncio.timeout(self.timeout):
                return await redirector.redirect(alert.sip_call_id, alert.leg_ref, target)
        except TimeoutError:
            return CommandResult(False, f"no answer from the PBX within {self.timeout:g} s")

    async def _overflow(self, alert: RingLimitReached, target: str) -> None:
        result = await self._redirect(alert, target)
        event = OverflowAttempted(
            id=new_id(),
            call_pk=alert.call_pk,
            leg_pk=alert.leg_pk,
            source=alert.source,
            extension=alert.extension,
            agent=alert.agent,
            target=target,
            at=self.clock.now(),
            ok=result.ok,
            response=result.response[:512],
        )
        log_call = log.info if result.ok else log.warning
        log_call(
            "overflow source=%s extension=%s target=%s ok=%s response=%s",
            alert.source,
            alert.extension,
            target,
            result.ok,
            result.response[:120],
        )
        try:
            await self._wait_saved(alert.call_pk)  # the call is written in batches
            async with self.engine.begin() as conn:
                await store.insert_overflow(
                    conn,
                    {
                        "id": event.id,
                        "call_pk": event.call_pk,
                        "leg_pk": event.leg_pk,
                        "source": event.source,
                        "target": event.target,
                        "at": event.at,
                        "ok": event.ok,
                        "response": event.response,
                    },
                )
        except Exception:
            # The database may be down: the alert still goes out below, never silent.
            log.exception("recording the overflow action failed call=%s", alert.call_pk)
        await self.bus.publish(event)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
