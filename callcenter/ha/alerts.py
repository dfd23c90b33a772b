"""Each alert raised exactly once by the pair: claimed in the database before it is sent.

A ring-limit alert or an anomaly is claimed inside the transaction that records it
(`claim`): (kind, subject) is unique, so the instance whose insert commits raised it and any
other instance, or a restart, finds it raised. Only then is it published; the MQTT message
carries `alert_id`, and the broker's acknowledgement (QoS 1) sets `published_at`. A new active
sends what its predecessor claimed but never got acknowledged (`republish`), unless its
witness saw the message go through the broker (witness.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.clock import Clock
from callcenter.ha import store
from callcenter.ha.store import Fence

log = logging.getLogger(__name__)

E = TypeVar("E")

# A claimed alert older than this that never went out is stale: not sent at a takeover.
REPUBLISH_WITHIN = timedelta(hours=1)
_MARK_EVERY = 0.2


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """What an event's alert is: its kind and subject (unique together), its message."""

    kind: str
    subject: str
    topic: str
    payload: dict[str, Any]
    due_at: datetime
    raised_at: datetime
    late: bool
    id: str | None = None  # the event's own id, when it has one (a violation's)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    topic: str
    payload: dict[str, Any]


Describe = Callable[[object], AlertSpec | None]
OnSent = Callable[[], None]
# Whether this instance may send an alert now (it holds a live lock session).
Guard = Callable[[], bool]


class Publisher(Protocol):
    def publish(
        self,
        topic: str,
        payload: dict[str, Any],
        qos: int = 1,
        retain: bool = False,
        on_sent: OnSent | None = None,
        guard: Guard | None = None,
    ) -> None: ...


class Witness(Protocol):
    def covers(self, since: datetime) -> bool: ...
    def seen(self, alert_id: str) -> bool: ...
    async def barrier(self) -> bool: ...


class Fenced(Exception):
    """This instance no longer holds the lock: it raises nothing more (its transaction is
    rolled back, and the instance stops: leader.py)."""


class AlertLog:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        describe: Describe,
        instance: str,
        fence: Callable[[], Fence | None] = lambda: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.describe = describe
        self.instance = instance
        self.fence = fence
        self._claimed: dict[tuple[str, str], Claimed] = {}
        self._sent: list[str] = []
        self._wake = asyncio.Event()
        self.claims_won = 0
        self.claims_lost = 0
        self.republished = 0

    async def claim(self, conn: AsyncConnection, events: Sequence[E]) -> list[E]:
        """Inside the caller's transaction: the events whose alert this instance raises now
        (an event that is no alert passes). Raises Fenced once the lock is lost."""
        fence = self.fence()
        if fence is not None and not await store.holds(conn, fence):
            raise Fenced("the leadership lock is no longer ours")
        specs: list[tuple[E, AlertSpec, Claimed] | E] = []
        rows = []
        for event in events:
            spec = self.describe(event)
            if spec is None:
                specs.append(event)
                continue
            alert_id = spec.id or uuid.uuid4().hex
            claimed = Claimed(alert_id, spec.topic, _message(spec, alert_id))
            specs.append((event, spec, claimed))
            rows.append(_row(spec, claimed, self.instance))
        inserted = await store.insert_claims(conn, rows)
        won: list[E] = []
        for item in specs:
            if not isinstance(item, tuple):
                won.append(item)
                continue
            event, spec, claimed = item
            if claimed.id in inserted:
                self._claimed[(spec.kind, spec.subject)] = claimed
                won.append(event)
        self.claims_won += len(inserted)
        self.claims_lost += len(rows) - len(inserted)
        return won

    def outgoing(self, event: object) -> Claimed | None:
        """The message of an alert claimed here, once (the MQTT handler sends it)."""
        spec = self.describe(event)
        return self._claimed.pop((spec.kind, spec.subject), None) if spec else None

    def sent(self, alert_id: str) -> None:
        """The broker acknowledged it."""
        self._sent.append(alert_id)
        self._wake.set()

    def on_sent(self, alert_id: str) -> OnSent:
        return lambda: self.sent(alert_id)

    async def run(self) -> None:
        """Record the acknowledgements, a batch at a time."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(_MARK_EVERY)
            await self.flush()

    async def flush(self) -> None:
        ids, self._sent = self._sent, []
        if not ids:
            return
        try:
            async with self.db().begin() as conn:
                await store.mark_published(conn, ids, self.clock.now())
        except Exception:
            log.exception("recording sent alerts failed; will retry count=%d", len(ids))
            self._sent[:0] = ids
            self._wake.set()

    async def republish(
        self,
        publisher: Publisher,
        before: datetime,
        witness: Witness | None = None,
        guard: Guard | None = None,
    ) -> int:
        """Send what was claimed before `before` (when this instance got the lock) but never
        acknowledged. One the witness saw pass the broker (once a marker sent through it
        came back) is only marked. Returns how many were sent."""
        async with self.db().connect() as conn:
            rows = await store.unsent(conn, self.clock.now() - REPUBLISH_WITHIN, before)
        if not rows:
            return 0
        vouched = witness if witness is not None and await witness.barrier() else None
        count = 0
        for row in rows:
            if vouched is not None and vouched.covers(row.raised_at) and vouched.seen(row.id):
                self.sent(row.id)
                continue
            message = json.loads(row.payload)
            publisher.publish(row.topic, message, qos=1, on_sent=self.on_sent(row.id), guard=guard)
            count += 1
        log.warning("ha: alerts claimed but not acknowledged sent=%d already_out=%d",
                    count, len(rows) - count)  # fmt: skip
        self.republished += count
        return count


def _message(spec: AlertSpec, alert_id: str) -> dict[str, Any]:
    lateness = (spec.raised_at - spec.due_at).total_seconds()
    return {**spec.payload, "alert_id": alert_id, "lateness_seconds": round(lateness, 3)}


def _row(spec: AlertSpec, claimed: Claimed, instance: str) -> dict[str, Any]:
    return {
        "id": claimed.id,
        "kind": spec.kind,
        "subject": spec.subject,
        "topic": spec.topic,
        "payload": json.dumps(claimed.payload, ensure_ascii=False),
        "due_at": spec.due_at,
        "raised_at": spec.raised_at,
        "late": spec.late,
        "raised_by": instance,
        "published_at": None,
    }
