"""The alert log on both engines: a claim wins once, and a new active sends only what its
predecessor claimed and no broker acknowledged, unless the witness saw it go out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import db
from callcenter.clock import FakeClock
from callcenter.ha import store
from callcenter.ha.alerts import AlertLog, AlertSpec

START = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(db_url)
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


def log_of(engine: AsyncEngine, clock: FakeClock, instance: str) -> AlertLog:
    """A log whose alerts are legs (their names), due at START, raised when claimed."""

    def describe(event: object) -> AlertSpec | None:
        if not isinstance(event, str):
            return None
        return AlertSpec("ring_limit", event, "cc/alerts/ring-limit", {"leg": event},
                         START, clock.now(), late=clock.now() > START)  # fmt: skip

    return AlertLog(lambda: engine, clock, describe, instance)


class Broker:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: dict[str, Any], qos: int = 1, retain: bool = False,
                on_sent: Any = None, guard: Any = None) -> None:  # fmt: skip
        self.sent.append((topic, payload))
        if on_sent is not None:
            on_sent()


class Witness:
    def __init__(self, seen: set[str]) -> None:
        self._seen = seen

    def covers(self, since: datetime) -> bool:
        return True

    def seen(self, alert_id: str) -> bool:
        return alert_id in self._seen

    async def barrier(self) -> bool:
        return True


async def claim(log: AlertLog, engine: AsyncEngine, *legs: str) -> list[object]:
    async with engine.begin() as conn:
        return await log.claim(conn, [*legs, 42])  # 42 is no alert: it passes


async def test_an_alert_is_claimed_once_whoever_asks(engine: AsyncEngine) -> None:
    clock = FakeClock(START + timedelta(seconds=2))
    a, b = log_of(engine, clock, "a"), log_of(engine, clock, "b")
    assert await claim(a, engine, "leg-1") == ["leg-1", 42]
    assert await claim(b, engine, "leg-1", "leg-2") == ["leg-2", 42]
    claimed = a.outgoing("leg-1")
    assert claimed is not None and claimed.payload["alert_id"] == claimed.id
    assert claimed.payload["lateness_seconds"] == 2.0 and a.outgoing("leg-1") is None
    assert b.outgoing("leg-1") is None  # b lost it: it has nothing to send


async def test_a_new_active_sends_what_was_left_unacknowledged_once(engine: AsyncEngine) -> None:
    clock = FakeClock(START + timedelta(seconds=5))
    a = log_of(engine, clock, "a")
    await claim(a, engine, "sent", "lost-at-the-broker", "seen-by-the-witness")
    sent = a.outgoing("sent")
    assert sent is not None
    a.sent(sent.id)
    await a.flush()
    seen = a.outgoing("seen-by-the-witness")
    assert seen is not None
    b = log_of(engine, clock, "b")
    clock.advance(1)  # a died; b takes the lock
    took_lock = clock.now()
    clock.advance(1)
    await claim(b, engine, "raised-by-b")  # after it took the lock: its own to send
    broker = Broker()
    assert await b.republish(broker, took_lock, Witness({seen.id})) == 1
    assert [p["leg"] for _, p in broker.sent] == ["lost-at-the-broker"]
    await b.flush()
    assert await b.republish(broker, took_lock, None) == 0  # marked: never again
    async with engine.connect() as conn:
        rows = await conn.execute(select(store.alerts.c.subject, store.alerts.c.published_at))
        unsent = {r.subject for r in rows if r.published_at is None}
    assert unsent == {"raised-by-b"}
