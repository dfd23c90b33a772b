"""Wallboard tokens in the database: the SHA-256 of each token (never the token), who made
and who revoked it, and when a board last fetched its figures. Revoked tokens stay listed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.wallboard.model import WallboardToken


class WallboardTokenRow(Base):
    __tablename__ = "wallboard_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


wallboard_tokens = cast(Table, WallboardTokenRow.__table__)

_COLUMNS = (
    wallboard_tokens.c.id,
    wallboard_tokens.c.name,
    wallboard_tokens.c.created_by,
    wallboard_tokens.c.created_at,
    wallboard_tokens.c.revoked_at,
    wallboard_tokens.c.revoked_by,
    wallboard_tokens.c.last_seen_at,
)


def _token(r: Mapping[Any, Any]) -> WallboardToken:
    return WallboardToken(
        id=r["id"],
        name=r["name"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        revoked_at=r["revoked_at"],
        revoked_by=r["revoked_by"],
        last_seen_at=r["last_seen_at"],
    )


async def insert(
    conn: AsyncConnection, name: str, token_hash: str, by: str, at: datetime
) -> WallboardToken:
    result = await conn.execute(
        wallboard_tokens.insert()
        .values(name=name, token_hash=token_hash, created_by=by[:64], created_at=at)
        .returning(wallboard_tokens.c.id)
    )
    return WallboardToken(id=int(result.scalar_one()), name=name, created_by=by[:64], created_at=at)


async def get(conn: AsyncConnection, token_id: int) -> WallboardToken | None:
    row = (
        (await conn.execute(select(*_COLUMNS).where(wallboard_tokens.c.id == token_id)))
        .mappings()
        .first()
    )
    return _token(row) if row else None


async def by_hash(conn: AsyncConnection, token_hash: str) -> WallboardToken | None:
    row = (
        (await conn.execute(select(*_COLUMNS).where(wallboard_tokens.c.token_hash == token_hash)))
        .mappings()
        .first()
    )
    return _token(row) if row else None


async def all_tokens(conn: AsyncConnection) -> list[WallboardToken]:
    """Every token, the newest first; revoked ones too (who took which TV down, when)."""
    rows = await conn.execute(select(*_COLUMNS).order_by(wallboard_tokens.c.id.desc()))
    return [_token(r) for r in rows.mappings()]


async def revoke(conn: AsyncConnection, token_id: int, by: str, at: datetime) -> bool:
    """Revoke it once: False when it was already revoked (the first revocation is kept)."""
    result = await conn.execute(
        update(wallboard_tokens)
        .where(wallboard_tokens.c.id == token_id, wallboard_tokens.c.revoked_at.is_(None))
        .values(revoked_at=at, revoked_by=by[:64])
    )
    return bool(result.rowcount)


async def revoked_among(conn: AsyncConnection, ids: Iterable[int]) -> set[int]:
    """Which of these tokens are revoked now (or gone)."""
    wanted = set(ids)
    if not wanted:
        return set()
    rows = await conn.execute(
        select(wallboard_tokens.c.id).where(
            wallboard_tokens.c.id.in_(sorted(wanted)), wallboard_tokens.c.revoked_at.is_(None)
        )
    )
    return wanted - {int(r[0]) for r in rows}


async def seen(conn: AsyncConnection, ids: Iterable[int], at: datetime) -> None:
    wanted = sorted(set(ids))
    if wanted:
        await conn.execute(
            update(wallboard_tokens)
            .where(wallboard_tokens.c.id.in_(wanted))
            .values(last_seen_at=at)
        )
