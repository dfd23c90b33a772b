"""The call tracker: live call state in memory, ring-limit timers, batched saves.

Telephony events arrive far faster than one transaction each could be written (20,000 SIP
messages/s), so `handle` only updates memory; the writer (calls/writer.py) saves every
change in one transaction per batch (at most `flush_interval` later) and publishes the domain
events after the commit. The ring-limit alert alone is published the moment its timer fires
(calls/alerting.py): waiting for a batch commit under load cost it hundreds of milliseconds. Its
violation is saved with the next batch; if the service dies first, the leg's deadline is
re-armed on start and the alert is raised again (at least once, never lost). With an alert
log (`alerts`, an active/standby pair: callcenter/ha) the alert is claimed and its violation
saved in one small transaction first, then published: raised exactly once by the pair. Open
calls and pending deadlines are rebuilt from the database on start; a standby taking over
then catches up on the signals it kept (`catch_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import signals as t
from callcenter.auth import store as auth_store
from callcenter.bus import Bus
from callcenter.calls import intake, model, store
from callcenter.calls.alerting import AlertClaims, RingAlerts
from callcenter.calls.deadlines import RingTimers
from callcenter.calls.intake import ClosedCalls, Limits
from callcenter.calls.model import AgentRef, CallState, LegState
from callcenter.calls.rings import RingRule
from callcenter.calls.writer import CallWriter
from callcenter.clock import Clock
from callcenter.events import PhoneRang
from callcenter.tasks import owned, stop_all

log = logging.getLogger(__name__)

CallKey = tuple[str, str, str]
# A capture timestamp this far ahead of our clock, or older than the deadline, is not live
# traffic (a skewed clock or a replay): its deadline then runs from when we saw it.
_MAX_CLOCK_AHEAD = timedelta(seconds=2)
_KEEP_CLOSED = timedelta(seconds=60)
# At stop, how long the ring-limit alerts already raised may take to reach the bus.
_ALERTS_AT_STOP_SECONDS = 2.0


class CallObserver(Protocol):
    """Told of each call offered and each change as it is applied (the metrics' hook)."""

    def call_offered(self, call: CallState) -> None: ...
    def call_changed(self, call: CallState, events: Sequence[object], now: datetime) -> None: ...


class AgentDirectory:
    """Extension → agent, reloaded from the users table (the CLI adds users while we run)."""

    def __init__(self) -> None:
        self.by_extension: dict[str, AgentRef] = {}
        self.by_id: dict[int, AgentRef] = {}

    def lookup(self, extension: str) -> AgentRef | None:
        return self.by_extension.get(extension)

    async def reload(self, engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            rows = await auth_store.extensions(conn)
        self.by_extension = {ext: AgentRef(uid, name) for ext, (uid, name) in rows.items()}
        self.by_id = {a.id: a for a in self.by_extension.values()}


class CallTracker:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        clock: Clock,
        rule: RingRule,
        directory: AgentDirectory,
        max_ring: timedelta = timedelta(minutes=3),
        max_call: timedelta = timedelta(hours=4),
        flush_interval: float = 0.1,
        min_flush_gap: float = 0.05,
        max_calls: int = 50_000,
        max_legs_per_call: int = 32,
        limits: Limits | None = None,
        spill_dir: Path | None = None,
        shutdown_grace: float = 10.0,
        probe_callers: frozenset[str] = frozenset(),
        alerts: AlertClaims | None = None,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.clock = clock
        self.rule = rule
        self.directory = directory
        self.max_ring = max_ring
        self.max_call = max_call
        self.max_calls = max_calls
        self.max_legs_per_call = max_legs_per_call
        self.limits = limits or Limits()
        self.shutdown_grace = shutdown_grace
        # The line probe's caller numbers: its calls are kept, unmonitored (model.offer).
        self.probe_callers = probe_callers
        self.writer = CallWriter(engine, bus, spill_dir, flush_interval, min_flush_gap)
        # In order of last activity, so the idlest call is the first to evict.
        self.calls: OrderedDict[CallKey, CallState] = OrderedDict()
        self.closed = ClosedCalls()
        self.timers = RingTimers(clock)
        self.alerts = RingAlerts(engine, bus, alerts, self._unsaved, self.writer)
        # While a backlog is caught up: how old its signals may be (None: live).
        self._catching_up: timedelta | None = None
        self.events_handled = 0
        # Inputs changed or refused to keep memory and the database bounded, by kind.
        self.refused: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self._writing: asyncio.Task[None] | None = None
        self.observer: CallObserver | None = None

    @property
    def flush_failures(self) -> int:
        return self.writer.stats.failures

    # -- the hot path -------------------------------------------------------------------
    def handle(self, event: t.SourceEvent) -> None:
        """Apply one telephony event (from any adapter) to live state. Never blocks."""
        self.events_handled += 1
        if isinstance(event, t.CallsResynced):
            self._resynced(event)
            return
        event, fixed = intake.sanitize(event, self.clock.now(), self.limits)
        for kind in fixed:
            self.refused[kind] += 1
        key = (event.source, event.call_id, event.call_tag)
        call = self.calls.get(key)
        if call is None:
            if not isinstance(event, t.CallOffered):
                # An adapter always offers a call first; anything else is for a call we
                # closed and evicted, or never saw start.
                return
            if key in self.closed:
                self.refused["late_for_closed_call"] += 1  # a late or replayed INVITE
                return
            if len(self.calls) >= self.max_calls:
                self._evict_idlest()
            call = model.offer(event, self.directory.lookup, self.probe_callers)
            self.calls[key] = call
            if self.observer is not None:
                self.observer.call_offered(call)
            self._mark(call)
            return
        self.calls.move_to_end(key)
        leg_id = getattr(event, "leg_id", None)
        if (
            leg_id is not None
            and leg_id not in call.legs
            and len(call.legs) >= self.max_legs_per_call
        ):
            self.refused["too_many_legs"] += 1  # one Call-ID forked to thousands of phones
            return
        self._record(call, model.apply(call, event, self.rule, self.directory.lookup))

    def _evict_idlest(self) -> None:
        """Make room for a new call: forget the idlest one; an open one is first closed as
        lost (its end was never seen). The writer still holds it until it is saved."""
        key, call = next(iter(self.calls.items()))
        if not call.closed:
            self.refused["evicted_open_call"] += 1
            self._record(call, model.expire_call(call, self.clock.now(), self.rule))
        self._forget(key)

    def _forget(self, key: CallKey) -> None:
        del self.calls[key]
        self.closed.add(key)

    def _resynced(self, event: t.CallsResynced) -> None:
        # Calls that ended while the adapter was disconnected: close them without blame,
        # so none is left "ringing" forever.
        for call in list(self.calls.values()):
            if (
                call.source == event.source
                and not call.closed
                and call.call_id not in event.live_call_ids
            ):
                self._record(call, model.expire_call(call, event.at, self.rule))

    def _record(self, call: CallState, events: list[object]) -> None:
        if not events and not call.dirty:
            return
        self._mark(call)
        if self.observer is not None and events:
            self.observer.call_changed(call, events, self.clock.now())
        for ev in events:
            if isinstance(ev, PhoneRang) and ev.monitored:
                self._schedule(call, ev)
            if not self.alerts.take(ev):
                self.writer.add_event(ev)
        for leg in call.legs.values():
            if not leg.ringing and leg.id in self.timers:
                self.timers.cancel(leg.id)

    def _mark(self, call: CallState) -> None:
        self.writer.mark(call)

    def _schedule(self, call: CallState, rang: PhoneRang) -> None:
        leg = next(leg for leg in call.legs.values() if leg.id == rang.leg_pk)
        self._arm(call, leg, rang.ring_started_at)

    def _arm(self, call: CallState, leg: LegState, ring_started_at: datetime) -> None:
        now = self.clock.now()
        lag = now - ring_started_at
        late = False
        if -_MAX_CLOCK_AHEAD <= lag < self.rule.deadline:
            fire_at = ring_started_at + self.rule.deadline
        elif self._catching_up is not None and lag < self.rule.deadline + self._catching_up:
            # A ring heard while standby whose deadline fell before the takeover: raised
            # now, late, as for a restart.
            fire_at, late = ring_started_at + self.rule.deadline, True
        else:
            fire_at = now + self.rule.deadline
        key = (call.source, call.call_id, call.call_tag)
        self.timers.arm(leg.id, fire_at, self._deadline_callback(key, leg.id), late)

    def _deadline_callback(self, key: CallKey, leg_pk: str) -> Callable[[bool], None]:
        def fire(late: bool) -> None:
            call = self.calls.get(key)
            if call is None:
                return
            leg = next((x for x in call.legs.values() if x.id == leg_pk), None)
            if leg is not None:
                now = self.clock.now()
                self._record(call, model.deadline_due(call, leg, now, self.rule, late))

        return fire

    # -- persistence ----------------------------------------------------------------------
    async def restore(self) -> int:
        """Load open calls and re-arm the deadlines of legs still ringing."""
        await self.directory.reload(self.engine)
        await self.writer.replay_spill(lambda agent_id: self.directory.by_id.get(agent_id))
        async with self.engine.connect() as conn:
            open_calls = await store.load_open_calls(conn)
            since = self.clock.now() - self.max_call
            for key in await store.closed_call_keys(conn, since, self.closed.size):
                self.closed.add(key)
            # A stored ring-limit violation says its alert was raised; the leg's own flag may
            # have been saved ahead of it (the alert log commits the violation with its claim).
            raised = await store.ring_limits_recorded(conn, [c.id for c in open_calls])
        now = self.clock.now()
        for call in open_calls:
            key = (call.source, call.call_id, call.call_tag)
            self.calls[key] = call
            for leg in call.legs.values():
                if not leg.ringing:
                    continue
                # Whether it still rings is unknown until its call's next message: it is
                # shown so, not ticking, and closed as lost if nothing more is heard.
                leg.unknown_since = now
                leg.ring_limit_recorded = leg.id in raised
                if call.monitored and not leg.ring_limit_recorded:
                    assert leg.ring_started_at is not None
                    fire_at = leg.ring_started_at + self.rule.deadline
                    # A deadline that fell while we were down is raised once, now, marked
                    # late; one still ahead is kept, so a quick restart misses no alert.
                    # Armed at the deadline itself, so a catch-up fires it in its place.
                    fire = self._deadline_callback(key, leg.id)
                    self.timers.arm(leg.id, fire_at, fire, fire_at < now)
        return len(open_calls)

    def catch_up(self, events: Sequence[t.SourceEvent], window: timedelta) -> None:
        """Apply signals kept while standby (at most `window` old), in order, right after
        `restore`. A deadline that fell between two of them fires between them, late, so
        the outcome is the one the live service would have had."""
        self._catching_up = window
        try:
            for event in events:
                at = getattr(event, "at", None)
                if isinstance(at, datetime):
                    self.timers.fire_due(min(at, self.clock.now()))
                self.handle(event)
            # Before any live signal: each deadline already passed fires now, in order.
            self.timers.fire_due(self.clock.now())
        finally:
            self._catching_up = None

    def open_calls(self, source: str) -> list[CallState]:
        return [c for c in self.calls.values() if c.source == source and not c.closed]

    def ringing(self) -> Iterator[LegState]:
        """The inbound calls' phones ringing now. A leg unknown since a restart is not known
        to ring (the live page does not tick it): /metrics and the wallboard leave it out."""
        for call in self.calls.values():
            if call.closed or not call.monitored:
                continue
            for leg in call.legs.values():
                if leg.ringing and leg.unknown_since is None:
                    yield leg

    async def flush(self) -> None:
        """Write every change since the last flush in one transaction, then publish."""
        await self.writer.flush()

    def _unsaved(self, call_pks: set[str]) -> set[str]:
        """Of these calls, those not in the database yet with all their legs."""
        out = set()
        for call in self.calls.values():
            if call.id in call_pks and not (
                call.persisted and all(leg.persisted for leg in call.legs.values())
            ):
                out.add(call.id)
        return out

    async def wait_saved(self, call_pk: str, within: float = 5.0) -> None:
        """Until the call and its legs are in the database (rows that refer to them follow)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            call = next((c for c in self.calls.values() if c.id == call_pk), None)
            if call is None or (call.persisted and all(x.persisted for x in call.legs.values())):
                return
            self.writer.wake()
            await asyncio.sleep(self.writer.min_flush_gap)

    async def settled(self) -> None:
        """Wait until everything handled so far is saved and published (tests, shutdown)."""
        await self.writer.settled()
        await self.alerts.join()

    # -- housekeeping ---------------------------------------------------------------------
    def sweep(self) -> None:
        """Close what was lost (no final response, no BYE) and forget closed calls."""
        now = self.clock.now()
        for key, call in list(self.calls.items()):
            if call.closed:
                if call.ended_at is not None and now - call.ended_at > _KEEP_CLOSED:
                    if not call.dirty and call.persisted:
                        self._forget(key)
                continue
            events: list[object] = []
            for leg in call.legs.values():
                if (
                    leg.ringing
                    and leg.ring_started_at
                    and now - leg.ring_started_at > self.max_ring
                ):
                    events += model.expire_leg(call, leg, now, self.rule)
            started = call.answered_at or call.offered_at
            limit = self.max_call if call.answered_at else self.max_ring
            if now - started > limit:
                events += model.expire_call(call, now, self.rule)
            if events:
                self._record(call, events)

    async def run_sweeper(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    async def reload_directory_periodically(self, interval: float = 10.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.directory.reload(self.engine)
            except Exception:
                log.exception("reloading the agent directory failed")

    def start(self) -> None:
        """Start the tracker's own tasks: alerts, batched saves, the sweeper, the directory."""
        self._writing = owned("call-writer", self.writer.run())
        self._tasks = [
            owned("ring-limit-alerts", self.alerts.run()),
            owned("call-sweeper", self.run_sweeper()),
            owned("agent-directory", self.reload_directory_periodically()),
        ]

    async def stop(self) -> None:
        """Stop the timers and tasks, then save what is left: retried for the grace time,
        then kept in a spill file the next start replays (never dropped without a word).

        The alerts already raised are published first; the writer finishes the batch it is
        saving (cancelled inside its transaction, it left PostgreSQL holding the rows' locks
        the final save then waited on)."""
        self.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_ALERTS_AT_STOP_SECONDS):
                await self.alerts.join()
        await stop_all(self._tasks)
        if self._writing is not None:
            self.writer.stop()
            done, _ = await asyncio.wait({self._writing}, timeout=self.shutdown_grace)
            if not done:
                await stop_all([self._writing])
        await self.writer.final_flush(self.shutdown_grace)
        still_open = sum(not c.closed for c in self.calls.values())
        log.info("call state saved at stop open_calls=%d spilled=%d",
                 still_open, self.writer.stats.spilled)  # fmt: skip

    def close(self) -> None:
        self.timers.close()
