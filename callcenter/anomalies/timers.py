"""The deadline timers: a station's late step raises its anomaly at the deadline, and an
anomaly's own deadlines (the agent's report, a complaint's 2-h follow-up) are recorded when
missed. Armed on the clock like the ring rule's, rebuilt from the database on start.

A timer only queues what fell due; one task records a batch per transaction, then publishes.
The database decides "once": (order_id, kind) is unique, and a missed report or follow-up is
set only while still empty, so a restart or a second instance never records one twice. With
an alert log (an active/standby pair, callcenter/ha) each is also claimed in that transaction,
so the one that commits it publishes it, and a successor sends it if it never went out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.anomalies import store
from callcenter.anomalies.model import (
    Anomaly,
    AnomalyOverdue,
    AnomalyRaised,
    Overdue,
    missed,
    report_due,
    stopped_at,
)
from callcenter.clock import Clock, Timer
from callcenter.orders.model import DEADLINE_KINDS, DeadlineKind, Order
from callcenter.orders.service import OrderChanged
from callcenter.tasks import owned, stop_all

log = logging.getLogger(__name__)

Publish = Callable[[object], Awaitable[None]]
What = Literal["deadline", "report", "follow_up"]

# On start, orders dispatched this recently that have left their station are checked too: a
# step done late (or a refusal after a deadline) while the service was down still counts.
LOOKBACK = timedelta(days=2)
# How many ids one IN (…) names (SQLite allows 32,766 parameters, older builds 999).
CHUNK = 500
RETRY_SECONDS = 1.0
# How often the orders are read again for deadlines no timer here watches (an order another
# instance dispatched, a change never told): a safety net, the timers do the work.
RESYNC_SECONDS = 300.0


class AlertClaims(Protocol):
    """The alert log (callcenter/ha/alerts.py): inside `conn`'s transaction, the events whose
    alert this instance raises (raises if it may raise nothing any more)."""

    async def claim(self, conn: AsyncConnection, events: Sequence[object]) -> list[object]: ...


@dataclass(frozen=True, slots=True)
class _Due:
    what: What
    key: str  # the order's id (deadline) or the anomaly's (report, follow_up)
    kind: DeadlineKind | None = None
    late: bool = False  # fell due while the service was down


class DeadlineTimers:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        publish: Publish,
        report_within: timedelta,
        alerts: AlertClaims | None = None,
    ) -> None:
        self.db = db
        self.alerts = alerts
        self.clock = clock
        self.publish = publish
        self.report_within = report_within
        self._deadlines: dict[tuple[str, DeadlineKind], Timer] = {}
        self._reports: dict[str, Timer] = {}
        self._follow_ups: dict[str, Timer] = {}
        self._queue: asyncio.Queue[_Due] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self.raised = 0
        self.unreported = 0
        self.follow_ups_missed = 0

    @property
    def pending(self) -> int:
        return len(self._deadlines) + len(self._reports) + len(self._follow_ups)

    # -- arming ---------------------------------------------------------------------------
    def _fire(self, due: _Due) -> Callable[[], None]:
        def fire() -> None:
            if due.what == "deadline":
                assert due.kind is not None
                self._deadlines.pop((due.key, due.kind), None)
            elif due.what == "report":
                self._reports.pop(due.key, None)
            else:
                self._follow_ups.pop(due.key, None)
            self._queue.put_nowait(due)

        return fire

    def _arm_deadline(self, order_id: str, kind: DeadlineKind, at: datetime) -> None:
        key = (order_id, kind)
        if key not in self._deadlines:
            self._deadlines[key] = self.clock.call_at(
                at, self._fire(_Due("deadline", order_id, kind))
            )

    def arm_report(self, anomaly_id: str, at: datetime, late: bool = False) -> None:
        if anomaly_id not in self._reports:
            self._reports[anomaly_id] = self.clock.call_at(
                at, self._fire(_Due("report", anomaly_id, late=late))
            )

    def arm_follow_up(self, anomaly_id: str, at: datetime, late: bool = False) -> None:
        if anomaly_id not in self._follow_ups:
            self._follow_ups[anomaly_id] = self.clock.call_at(
                at, self._fire(_Due("follow_up", anomaly_id, late=late))
            )

    def settle(self, anomaly_id: str) -> None:
        """The anomaly was reported, followed up or closed: its timers need not fire."""
        for table in (self._reports, self._follow_ups):
            timer = table.pop(anomaly_id, None)
            if timer is not None:
                timer.cancel()

    async def on_order_changed(self, change: OrderChanged) -> None:
        """Dispatch arms the order's three deadlines; a step cancels what it satisfied, a
        return, refusal or recall the rest. A pause (the station waits on the resident)
        cancels the deadlines it holds; its end re-arms them where they moved (a step that
        ends a pause, the contact or the return, re-arms what is still to do)."""
        order = change.order
        pending = dict(order.pending_deadlines())
        now = self.clock.now()
        for kind in DEADLINE_KINDS:
            key = (order.id, kind)
            if kind not in pending:
                timer = self._deadlines.pop(key, None)
                if timer is not None:
                    timer.cancel()
            elif change.action == "resumed":
                timer = self._deadlines.pop(key, None)
                if timer is not None:
                    timer.cancel()
                self._arm_deadline(order.id, kind, pending[kind])
            elif change.action == "dispatched" or (
                key not in self._deadlines and pending[kind] > now
            ):
                self._arm_deadline(order.id, kind, pending[kind])

    # -- start and stop -------------------------------------------------------------------
    async def start(self, resync_every: float = RESYNC_SECONDS) -> None:
        """Re-arm what is pending; what fell due while the service was down is raised now,
        once, marked late. Then record what falls due, and look again now and then."""
        overdue = await self.resync(LOOKBACK)
        log.info("deadline timers armed=%d overdue_at_start=%d", self.pending, overdue)
        self._tasks = [
            owned("anomaly-deadlines", self.run()),
            owned("anomaly-resync", self._resync_every(resync_every)),
        ]

    async def resync(self, lookback: timedelta) -> int:
        """Arm every pending deadline not armed yet and queue, marked late, those that passed
        unseen: while the service was down, or on an order another instance dispatched (or
        whose change never reached us). Returns how many were overdue."""
        now = self.clock.now()
        async with self.db().connect() as conn:
            watched = await store.orders_to_watch(conn, now - lookback)
            raised: set[tuple[str, str]] = set()
            ids = [w.order.id for w in watched]
            for i in range(0, len(ids), CHUNK):
                raised |= await store.raised_for(conn, ids[i : i + CHUNK])
            reports = await store.open_reports(conn)
            follow_ups = await store.open_follow_ups(conn)
        overdue = 0
        for order in (w.order for w in watched):
            for kind in DEADLINE_KINDS:
                # An armed timer raises its own, on time.
                if (order.id, kind) in raised or (order.id, kind) in self._deadlines:
                    continue
                if missed(order, kind, now):
                    self._queue.put_nowait(_Due("deadline", order.id, kind, late=True))
                    overdue += 1
                elif stopped_at(order, kind) is None and not order.suspended(kind):
                    # A deadline an open pause holds has no time yet: its resume arms it.
                    self._arm_deadline(order.id, kind, order.due_at(kind))
        # A report or follow-up that fell due unseen is recorded at once.
        for anomaly_id, at in reports:
            self.arm_report(anomaly_id, max(at, now), late=at < now)
        for anomaly_id, at in follow_ups:
            self.arm_follow_up(anomaly_id, max(at, now), late=at < now)
        return overdue

    async def _resync_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                overdue = await self.resync(timedelta(seconds=2 * seconds))
                if overdue:
                    log.warning("deadlines passed unseen, raised late count=%d", overdue)
            except Exception:
                log.exception("looking for unarmed deadlines failed")

    async def stop(self) -> None:
        await stop_all(self._tasks)
        for table in (self._deadlines, self._reports, self._follow_ups):
            for timer in table.values():
                timer.cancel()
            table.clear()

    async def settled(self) -> None:
        """Until everything that fell due so far is recorded and published (tests)."""
        await self._queue.join()

    # -- recording ------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._record(batch)
            except Exception:
                # The database is away: nothing is lost, the batch is tried again.
                log.exception("recording due anomalies failed, retrying count=%d", len(batch))
                await asyncio.sleep(RETRY_SECONDS)
                for due in batch:
                    self._queue.put_nowait(due)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _record(self, batch: Sequence[_Due]) -> None:
        now = self.clock.now()
        events: list[object] = []
        async with self.db().begin() as conn:
            deadlines = [d for d in batch if d.what == "deadline"]
            if deadlines:
                events += await self._raise(conn, deadlines, now)
            for due in batch:
                if due.what == "deadline":
                    continue
                what: Overdue = "unreported" if due.what == "report" else "follow_up_missed"
                overdue = await self._overdue(conn, due.key, what, now, due.late)
                if overdue is not None:
                    events.append(overdue)
            events = await self._named(conn, events)
            if self.alerts is not None:
                events = await self.alerts.claim(conn, events)
        for event in events:
            if isinstance(event, AnomalyRaised):
                self.raised += 1
                assert event.anomaly.report_due is not None
                self.arm_report(event.anomaly.id, event.anomaly.report_due)
            await self.publish(event)

    async def _raise(
        self, conn: AsyncConnection, batch: Sequence[_Due], now: datetime
    ) -> list[object]:
        found = await store.orders_by_id(conn, sorted({d.key for d in batch}))
        new: list[AnomalyRaised] = []
        for due in batch:
            assert due.kind is not None
            owned = found.get(due.key)
            # The station may have done the step in time just as the timer fired.
            if owned is not None and missed(owned.order, due.kind, now):
                a = _anomaly(
                    owned.order, owned.agent_id, due.kind, now, self.report_within, due.late
                )
                new.append(AnomalyRaised(a, due.late, owned.agent))
        inserted = {a.id for a in await store.insert_many(conn, [e.anomaly for e in new])}
        return [e for e in new if e.anomaly.id in inserted]

    async def _overdue(
        self,
        conn: AsyncConnection,
        anomaly_id: str,
        what: Overdue,
        now: datetime,
        late: bool = False,
    ) -> AnomalyOverdue | None:
        if what == "unreported":
            changed = await store.set_if_open(
                conn, anomaly_id, ("reported_at", "unreported_at"), unreported_at=now
            )
        else:
            changed = await store.set_if_open(
                conn,
                anomaly_id,
                ("followed_up_at", "follow_up_late_at", "closed_at"),
                follow_up_late_at=now,
            )
        if not changed:
            return None
        anomaly = await store.get(conn, anomaly_id)
        assert anomaly is not None
        if what == "unreported":
            self.unreported += 1
        else:
            self.follow_ups_missed += 1
        return AnomalyOverdue(anomaly, what, late=late)

    async def _named(self, conn: AsyncConnection, events: list[object]) -> list[object]:
        """The overdue events with the owning agent's name (a raised one has it already:
        read with its order)."""
        ids = sorted(
            {
                e.anomaly.agent_id
                for e in events
                if isinstance(e, AnomalyOverdue) and e.anomaly.agent_id is not None
            }
        )
        if not ids:
            return events
        names = await store.agent_names(conn, ids)
        out: list[object] = []
        for e in events:
            if isinstance(e, AnomalyOverdue) and e.anomaly.agent_id in names:
                e = replace(e, agent=names[e.anomaly.agent_id])
            out.append(e)
        return out


def _anomaly(
    order: Order,
    owner: int | None,
    kind: DeadlineKind,
    now: datetime,
    within: timedelta,
    late: bool,
) -> Anomaly:
    occurred = order.due_at(kind)
    return Anomaly(
        id=uuid.uuid4().hex,
        kind=kind,
        source="service",
        occurred_at=occurred,
        raised_at=now,
        ticket_id=order.ticket_id,
        order_id=order.id,
        station=order.station,
        agent_id=owner,
        detail="",
        report_due=report_due(occurred, now, within, late),
    )
