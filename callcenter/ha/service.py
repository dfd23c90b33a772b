"""The pair: what runs on every instance and what only on the active one.

Every instance opens the database, loads the address book, connects to MQTT and answers
/api/health. What writes or raises (the call tracker and its timers, the anomaly timers, the
PBX sources, the outboxes, the daily jobs) runs behind `Pair.gate`: started at once by the
instance that gets the lock at start-up, else by the standby the moment it gets it. Until
then the standby listens to the HEP mirrored to it and keeps what it hears (feed.py), and
watches the alerts go through the broker (witness.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from callcenter.clock import iso_z
from callcenter.ha.alerts import AlertLog, Publisher
from callcenter.ha.feed import Feed
from callcenter.ha.leader import Leadership
from callcenter.ha.settings import HaSettings
from callcenter.ha.witness import Witness
from callcenter.tasks import owned, stop_all

log = logging.getLogger(__name__)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
# The exit status of an active that lost the lock: its supervisor starts it again, standby.
LOST_LOCK_EXIT = 75


@dataclass
class StandbyHooks:
    """What the composition root gives the standby: `listen` starts the mirrored HEP
    sources on the feed and returns their housekeeping tasks (stopped at takeover, the
    sources themselves are taken over by the active's); `publisher` sends what the dead
    active left unsent."""

    listen: Callable[[Feed], Awaitable[list[asyncio.Task[None]]]]
    publisher: Callable[[], Publisher | None]
    witness: Witness | None = None


class Pair:
    def __init__(self, settings: HaSettings, leader: Leadership, alert_log: AlertLog) -> None:
        self.settings = settings
        self.leader = leader
        self.alert_log = alert_log
        self.feed = Feed(settings.backlog_seconds)
        self.caught_up = 0  # signals replayed at takeover
        self.took_over_at: datetime | None = None
        self.takeover_seconds: float | None = None  # lock granted → everything running
        self._housekeeping: list[asyncio.Task[None]] = []

    def session_settings(self) -> dict[str, str]:
        """For the connections that save call state, claim alerts and record deadlines:
        PostgreSQL ends a transaction left open this long (an active frozen or cut off in the
        middle of one), so its row locks hold up the new active's writes and claims no longer.
        Theirs are short; the reports' and the API's readers keep the plain engine."""
        return {
            "idle_in_transaction_session_timeout": f"{int(self.settings.takeover_seconds * 1000)}"
        }

    def hand_over(self, catch_up: Callable[[list[Any]], None], handle: Any) -> None:
        """Right after the tracker restored its state: give it what the standby heard."""
        self.caught_up = self.feed.hand_over(catch_up, handle)
        if self.caught_up:
            log.info("ha: caught up on signals heard while standby count=%d", self.caught_up)

    def gate(self, contexts: list[CleanupCtx], hooks: StandbyHooks) -> CleanupCtx:
        async def ctx(app: web.Application) -> AsyncIterator[None]:
            entered: list[AsyncIterator[None]] = []
            tasks: list[asyncio.Task[None]] = []
            if hooks.witness is not None:
                tasks.append(owned("ha-witness", hooks.witness.run()))
            try:
                if await self.leader.try_acquire():
                    locked_at = self.alert_log.clock.now()
                    log.info("ha: active from the start instance=%s", self.leader.name)
                    await _enter(app, contexts, entered)
                    self._became_active()
                    tasks.append(owned("ha-lock", self.leader.hold(_lost)))
                    # A restart after a crash: what this instance claimed and never got out.
                    tasks.append(owned("ha-sweep", self._sweep(locked_at, hooks)))
                else:
                    self.leader.role = "standby"
                    log.info("ha: standby instance=%s active=%s", self.leader.name,
                             self.leader.active_name)  # fmt: skip
                    self._housekeeping = await hooks.listen(self.feed)
                    tasks.append(owned("ha-standby", self._stand_by(app, contexts, entered, hooks)))
                yield
            finally:
                await stop_all(tasks)
                await stop_all(self._housekeeping)
                await _exit(entered)
                await self.leader.close()

        return ctx

    async def _stand_by(
        self,
        app: web.Application,
        contexts: list[CleanupCtx],
        entered: list[AsyncIterator[None]],
        hooks: StandbyHooks,
    ) -> None:
        await self.leader.wait()
        began, locked_at = time.monotonic(), self.alert_log.clock.now()
        log.warning("ha: the lock is ours, taking over instance=%s", self.leader.name)
        await stop_all(self._housekeeping)
        try:
            await _enter(app, contexts, entered)
        except Exception:
            log.critical("ha: taking over failed; stopping", exc_info=True)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        self._became_active()
        self.takeover_seconds = time.monotonic() - began
        log.warning("ha: active instance=%s took_over_in=%.3fs caught_up=%d",
                    self.leader.name, self.takeover_seconds, self.caught_up)  # fmt: skip
        sweep = owned("ha-sweep", self._sweep(locked_at, hooks))
        try:
            await self.leader.hold(_lost)
        finally:
            await stop_all([sweep])

    async def _sweep(self, locked_at: datetime, hooks: StandbyHooks) -> None:
        """Send what was claimed before this instance held the lock and never acknowledged:
        the last active died between claiming and the broker's acknowledgement. Not before
        `silence_seconds` have passed: by then the last active, even one only frozen and
        resumed, sends nothing more (its messages wait for a live lock session, see
        Leadership.current). Again every takeover_seconds, for a claim a resumed active
        committed late."""
        await asyncio.sleep(self.settings.silence_seconds)
        while True:
            publisher = hooks.publisher()
            if publisher is not None:
                try:
                    await self.alert_log.republish(
                        publisher, locked_at, hooks.witness, self.leader.current
                    )
                except Exception:
                    log.exception("ha: sending what the last active left unsent failed")
            await asyncio.sleep(self.settings.takeover_seconds)

    def _became_active(self) -> None:
        self.leader.role = "active"
        self.leader.active_name = self.leader.name
        self.took_over_at = self.leader.active_since = datetime.now(UTC)

    def status(self) -> dict[str, Any]:
        return {
            **self.leader.status(),
            "took_over_at": iso_z(self.took_over_at),
            "takeover_seconds": (
                round(self.takeover_seconds, 3) if self.takeover_seconds is not None else None
            ),
            "backlog": self.feed.kept,
            "backlog_dropped": self.feed.dropped,
            "caught_up": self.caught_up,
            "alerts_claimed": self.alert_log.claims_won,
            "alerts_raised_elsewhere": self.alert_log.claims_lost,
            "alerts_republished": self.alert_log.republished,
        }

    def problems(self) -> list[str]:
        if self.leader.last_error:
            return [f"ha: no connection to PostgreSQL for the lock ({self.leader.last_error})"]
        return []


def _lost(reason: str) -> None:
    # Without its lock session this instance cannot tell whether the standby took over:
    # it stops at once, writing nothing more (not even the last batch: the new active has
    # it from its own feed). Its supervisor starts it again; it comes back as the standby.
    log.critical("ha: lost the leadership lock (%s); stopping now", reason)
    logging.shutdown()
    os._exit(LOST_LOCK_EXIT)


async def _enter(
    app: web.Application, contexts: list[CleanupCtx], entered: list[AsyncIterator[None]]
) -> None:
    for ctx in contexts:
        gen = ctx(app)
        await anext(gen)
        entered.append(gen)


async def _exit(entered: list[AsyncIterator[None]]) -> None:
    while entered:
        gen = entered.pop()
        try:
            await anext(gen)
        except StopAsyncIteration:
            continue
        except Exception:
            log.exception("stopping %s failed", gen)
        else:
            log.error("a cleanup context yielded twice: %s", gen)
