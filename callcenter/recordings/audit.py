"""The recording audit log: every play, download, upload, link and deletion, append-only and
tamper-evident (the duty log of 002 第5篇: no page torn out, no entry altered).

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own content
(number, time, action, recording, actor, detail), so altering, removing or inserting an
entry breaks the chain from there on; the head row keeps the last number and hash, so
removing the newest entries shows too. The database also refuses UPDATE and DELETE on the
log (triggers, migration 0005). Someone who can drop the triggers and rewrite every later
entry and the head could forge a consistent chain: keep the head hash `callcenter audit
verify` prints somewhere else (the daily report) to catch that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.recordings.store import audit, audit_head

# transcript: its transcript was read (issue 16); search: recordings were searched by what
# was said in them (no recording named: the detail holds the words and how many matched).
Action = Literal["ingest", "link", "play", "download", "delete", "transcript", "search"]
GENESIS = "0" * 64
_BATCH = 2000


@dataclass(frozen=True, slots=True)
class Entry:
    action: Action
    recording_id: str | None
    actor: str
    detail: str = ""


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    seq: int, at: datetime, action: str, recording_id: str | None, actor: str, detail: str,
    prev_hash: str,
) -> str:  # fmt: skip
    content = json.dumps(
        [seq, _instant(at), action, recording_id, actor, detail, prev_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


async def append(conn: AsyncConnection, at: datetime, entries: Sequence[Entry]) -> None:
    """Add entries in the caller's transaction. The head row is written first: that takes
    the write lock (SQLite) or the row lock (PostgreSQL) before the last hash is read."""
    if not entries:
        return
    at = at.astimezone(UTC)
    await conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq))
    head = (
        await conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1))
    ).one()
    seq, prev = int(head.seq), str(head.hash)
    rows = []
    for e in entries:
        seq += 1
        detail = e.detail[:500]
        actor = e.actor[:64]
        digest = entry_hash(seq, at, e.action, e.recording_id, actor, detail, prev)
        rows.append(
            {
                "seq": seq,
                "at": at,
                "action": e.action,
                "recording_id": e.recording_id,
                "actor": actor,
                "detail": detail,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    await conn.execute(audit.insert(), rows)
    await conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))


@dataclass(frozen=True, slots=True)
class Verdict:
    intact: bool
    entries: int
    head_hash: str
    problem: str | None = None


async def verify(engine: AsyncEngine) -> Verdict:
    """Walk the whole log in order; name the first entry that breaks the chain."""
    expected_seq, prev, count = 1, GENESIS, 0
    async with engine.connect() as conn:
        head = (await conn.execute(select(audit_head.c.seq, audit_head.c.hash))).first()
        while True:
            rows = (
                await conn.execute(
                    select(audit)
                    .where(audit.c.seq >= expected_seq)
                    .order_by(audit.c.seq)
                    .limit(_BATCH)
                )
            ).all()
            for r in rows:
                if r.seq != expected_seq:
                    return Verdict(
                        False, count, prev,
                        f"entry {expected_seq} is missing (the next is {r.seq}): removed",
                    )  # fmt: skip
                if r.prev_hash != prev:
                    return Verdict(
                        False, count, prev,
                        f"entry {r.seq}: its previous hash does not match entry {r.seq - 1}'s "
                        "(an entry before it was removed, inserted or altered)",
                    )  # fmt: skip
                digest = entry_hash(
                    r.seq, r.at, r.action, r.recording_id, r.actor, r.detail, r.prev_hash
                )
                if digest != r.hash:
                    return Verdict(
                        False, count, prev,
                        f"entry {r.seq}: its content does not match its hash (altered)",
                    )  # fmt: skip
                prev, count, expected_seq = r.hash, count + 1, expected_seq + 1
            if len(rows) < _BATCH:
                break
    if head is None:
        return Verdict(False, count, prev, "the head row is missing")
    if head.seq != count or head.hash != prev:
        return Verdict(
            False, count, prev,
            f"the log ends at entry {count} but its head says {head.seq}: "
            "the newest entries were removed, or the head was altered",
        )  # fmt: skip
    return Verdict(True, count, prev)
