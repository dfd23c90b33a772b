"""The report archive (报表档案): each archived report's body (canonical JSON), its SHA-256,
and a hash chain over the entries, like the recording audit log: the database refuses to
change or remove a row (triggers), and `verify` finds an entry altered behind its back.

A report is archived once per period. Regenerated later, a report that differs from its
archive is shown with the differences (late data); the archive is never replaced."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Index, Integer, String, Table, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime

GENESIS = "0" * 64


class ArchiveRow(Base):
    __tablename__ = "report_archive"
    __table_args__ = (
        UniqueConstraint("kind", "period", name="uq_report_archive_kind_period"),
        Index("ix_report_archive_archived", "archived_at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))
    period: Mapped[str] = mapped_column(String(10))
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(Text)  # canonical JSON of the report
    sha256: Mapped[str] = mapped_column(String(64))  # of body's UTF-8 bytes
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


report_archive = cast(Table, ArchiveRow.__table__)


def canonical(body: dict[str, Any]) -> str:
    """The report as archived: without the moment it was generated (the figures are what is
    kept), keys sorted, so the same figures always give the same bytes."""
    kept = {k: v for k, v in body.items() if k not in ("generated_at", "archive")}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(seq: int, kind: str, period: str, at: datetime, digest: str, prev: str) -> str:
    fields = [seq, kind, period, at.isoformat(timespec="microseconds"), digest, prev]
    return sha256(json.dumps(fields, ensure_ascii=False))


@dataclass(frozen=True, slots=True)
class Archived:
    seq: int
    kind: str
    period: str
    archived_at: datetime
    sha256: str
    body: dict[str, Any]


def _archived(r: Any) -> Archived:
    return Archived(r.seq, r.kind, r.period, r.archived_at, r.sha256, json.loads(r.body))


async def find(conn: AsyncConnection, kind: str, period: str) -> Archived | None:
    row = (
        await conn.execute(
            select(report_archive).where(
                report_archive.c.kind == kind, report_archive.c.period == period
            )
        )
    ).first()
    return _archived(row) if row is not None else None


async def append(engine: AsyncEngine, kind: str, period: str, at: datetime, body: str) -> bool:
    """Archive `body` unless the period is archived already (False then). Two instances
    archiving at once: the unique period, and the chain's next number, let one win."""
    async with engine.begin() as conn:
        if await find(conn, kind, period) is not None:
            return False
        last = (
            await conn.execute(
                select(report_archive.c.seq, report_archive.c.hash)
                .order_by(report_archive.c.seq.desc())
                .limit(1)
            )
        ).first()
        seq, prev = (int(last.seq) + 1, str(last.hash)) if last else (1, GENESIS)
        digest = sha256(body)
        try:
            await conn.execute(
                report_archive.insert().values(
                    seq=seq,
                    kind=kind,
                    period=period,
                    archived_at=at,
                    body=body,
                    sha256=digest,
                    prev_hash=prev,
                    hash=entry_hash(seq, kind, period, at, digest, prev),
                )
            )
        except IntegrityError:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    entries: int
    broken_at: int | None
    reason: str


async def verify(engine: AsyncEngine) -> Verdict:
    """Every entry's body matches its SHA-256 and every link its predecessor's hash."""
    prev, count = GENESIS, 0
    async with engine.connect() as conn:
        rows = await conn.stream(select(report_archive).order_by(report_archive.c.seq))
        async for r in rows:
            count += 1
            if r.seq != count:
                return Verdict(False, count, r.seq, f"entry {count} is missing")
            if sha256(r.body) != r.sha256:
                return Verdict(False, count, r.seq, f"entry {r.seq}: body altered")
            if r.prev_hash != prev or r.hash != entry_hash(
                r.seq, r.kind, r.period, r.archived_at, r.sha256, prev
            ):
                return Verdict(False, count, r.seq, f"entry {r.seq}: chain broken")
            prev = r.hash
    return Verdict(True, count, None, "intact")


def differences(archived: Any, now: Any, path: str = "") -> Iterator[dict[str, Any]]:
    """Every figure that changed since the archive, as {path, archived, now}: the late
    data the statistician must explain (a ticket typed after midnight, a return phoned in
    late). Lists of station rows are compared by station code, not by position."""
    if isinstance(archived, dict) and isinstance(now, dict):
        for key in sorted(set(archived) | set(now)):
            sub = f"{path}.{key}" if path else key
            yield from differences(archived.get(key), now.get(key), sub)
    elif isinstance(archived, list) and isinstance(now, list) and _rows(archived, now):
        old = {r.get("code") or "": r for r in archived}
        new = {r.get("code") or "": r for r in now}
        for code in [*old, *(c for c in new if c not in old)]:
            yield from differences(old.get(code), new.get(code), f"{path}[{code or '-'}]")
    elif archived != now:
        yield {"path": path, "archived": archived, "now": now}


def _rows(*lists: list[Any]) -> bool:
    return all(isinstance(r, dict) and "code" in r for rows in lists for r in rows)
