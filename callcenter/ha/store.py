"""The alert log and the leadership lock in the database.

`alerts` holds one row per alert raised (a ring limit, an anomaly, a missed report or
follow-up): (kind, subject) is unique, so whichever instance inserts it first raised it and
nobody raises it again. The row keeps the MQTT message as sent, and `published_at` once the
broker acknowledged it, so a new active can send what its predecessor committed but never
got out. The lock is a PostgreSQL session advisory lock on a connection of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Boolean, Index, String, Table, Text, UniqueConstraint, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime

# pg_try_advisory_lock(int4, int4): "CCHA", 1. pg_locks shows it as classid, objid and
# objsubid 2 (the two-key form).
LOCK_KEYS = (0x43434841, 1)
APPLICATION_PREFIX = "callcenter ha "


class AlertRow(Base):
    """An alert raised once, by one instance, with the message that carried it."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("kind", "subject", name="uq_alerts_kind_subject"),
        Index("ix_alerts_raised_at", "raised_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # ring_limit (subject: the leg), anomaly, unreported, follow_up_missed (the anomaly).
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Raised after its deadline had passed unseen (the service down, or a takeover's gap).
    late: Mapped[bool] = mapped_column(Boolean)
    raised_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


alerts = cast(Table, AlertRow.__table__)


@dataclass(frozen=True, slots=True)
class Fence:
    """Our lock connection's backend: a claim commits only while it holds the lock."""

    pid: int


async def insert_claims(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert what nobody raised yet (ON CONFLICT DO NOTHING); the ids inserted."""
    if not rows:
        return set()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(alerts)
        .on_conflict_do_nothing(index_elements=["kind", "subject"])
        .returning(alerts.c.id)
    )
    result = await conn.execute(statement, list(rows))
    return set(result.scalars())


async def claimed(conn: AsyncConnection, kind: str, subjects: Sequence[str]) -> set[str]:
    """Of `subjects`, those whose `kind` alert was raised already."""
    out: set[str] = set()
    for i in range(0, len(subjects), 500):
        rows = await conn.execute(
            select(alerts.c.subject).where(
                alerts.c.kind == kind, alerts.c.subject.in_(subjects[i : i + 500])
            )
        )
        out.update(rows.scalars())
    return out


async def mark_published(conn: AsyncConnection, ids: Sequence[str], at: datetime) -> None:
    for i in range(0, len(ids), 500):
        await conn.execute(
            update(alerts)
            .where(alerts.c.id.in_(ids[i : i + 500]), alerts.c.published_at.is_(None))
            .values(published_at=at)
        )


async def unsent(conn: AsyncConnection, since: datetime, before: datetime) -> list[Any]:
    """Alerts raised between `since` and `before` that no broker acknowledged, oldest first."""
    rows = await conn.execute(
        select(alerts)
        .where(
            alerts.c.published_at.is_(None),
            alerts.c.raised_at >= since,
            alerts.c.raised_at < before,
        )
        .order_by(alerts.c.raised_at)
    )
    return list(rows)


# -- the lock (PostgreSQL only) ---------------------------------------------------------------
async def try_lock(conn: AsyncConnection) -> bool:
    row = await conn.execute(
        text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": LOCK_KEYS[0], "b": LOCK_KEYS[1]}
    )
    return bool(row.scalar())


async def backend_pid(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


_HOLDER = """
SELECT l.pid, a.application_name FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.classid = :a AND l.objid = :b AND l.objsubid = 2
  AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def holder(conn: AsyncConnection) -> tuple[int, str] | None:
    """The backend holding the lock and the instance name it gave, if any does."""
    row = (await conn.execute(text(_HOLDER), {"a": LOCK_KEYS[0], "b": LOCK_KEYS[1]})).first()
    if row is None:
        return None
    name = str(row.application_name or "")
    return int(row.pid), name.removeprefix(APPLICATION_PREFIX)


async def holds(conn: AsyncConnection, fence: Fence) -> bool:
    """Whether our lock connection still holds the lock (checked inside a claim's
    transaction: an instance that lost it must not raise anything more)."""
    found = await holder(conn)
    return found is not None and found[0] == fence.pid
