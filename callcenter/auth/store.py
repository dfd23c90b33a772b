"""Users, API tokens and browser sessions in the database."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.auth.model import Principal, Role
from callcenter.db import Base, UTCDateTime


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    extension: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    work_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A station's account (role station): the code of the station it acts for.
    station: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # None: the token lasts until it is revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSession(Base):
    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthEvent(Base):
    """The auth log: every login attempt, and every change to who may log in, for audit."""

    __tablename__ = "auth_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # login, password-changed, user-added, user-disabled, user-enabled, token-created,
    # token-revoked
    event: Mapped[str] = mapped_column(String(24))
    # The user the event is about (for a login: the name tried, cut to 64 characters).
    name: Mapped[str] = mapped_column(String(64), index=True)
    # The client's address for a login; None for a change made on the command line.
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    # Why a login failed: unknown-user, bad-password, disabled, locked, throttled, busy.
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A login outside the user's shift (003).
    suspicious: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str | None] = mapped_column(String(255), nullable=True)


users = cast(Table, User.__table__)
api_tokens = cast(Table, ApiToken.__table__)
web_sessions = cast(Table, WebSession.__table__)
auth_log = cast(Table, AuthEvent.__table__)

_PRINCIPAL_COLUMNS = (
    users.c.id,
    users.c.name,
    users.c.role,
    users.c.extension,
    users.c.work_number,
    users.c.language,
    users.c.station,
)


def _principal(row: object) -> Principal:
    m = row._mapping  # type: ignore[attr-defined]
    return Principal(
        id=m["id"],
        name=m["name"],
        role=Role(m["role"]),
        extension=m["extension"],
        work_number=m["work_number"],
        language=m["language"],
        station=m["station"],
    )


async def insert_user(conn: AsyncConnection, **values: object) -> int:
    result = await conn.execute(users.insert().values(**values).returning(users.c.id))
    return int(result.scalar_one())


async def user_by_name(conn: AsyncConnection, name: str) -> Principal | None:
    row = (await conn.execute(select(*_PRINCIPAL_COLUMNS).where(users.c.name == name))).first()
    return _principal(row) if row else None


async def login_candidate(conn: AsyncConnection, name: str) -> tuple[Principal, str, bool] | None:
    """The user of that name, their password hash, and whether they are disabled."""
    row = (
        await conn.execute(
            select(*_PRINCIPAL_COLUMNS, users.c.password_hash, users.c.disabled).where(
                users.c.name == name
            )
        )
    ).first()
    return (_principal(row), row.password_hash, bool(row.disabled)) if row else None


async def update_password_hash(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        update(users).where(users.c.id == user_id).values(password_hash=password_hash)
    )


async def user_by_extension(conn: AsyncConnection, extension: str) -> Principal | None:
    stmt = select(*_PRINCIPAL_COLUMNS).where(users.c.extension == extension)
    row = (await conn.execute(stmt)).first()
    return _principal(row) if row else None


async def list_users(conn: AsyncConnection) -> list[Principal]:
    rows = (await conn.execute(select(*_PRINCIPAL_COLUMNS).order_by(users.c.name))).all()
    return [_principal(r) for r in rows]


async def extensions(conn: AsyncConnection) -> dict[str, tuple[int, str]]:
    """extension → (user id, user name) for every enabled user with an extension."""
    rows = await conn.execute(
        select(users.c.extension, users.c.id, users.c.name).where(
            users.c.extension.is_not(None), users.c.disabled.is_(False)
        )
    )
    return {r.extension: (r.id, r.name) for r in rows}


async def account(conn: AsyncConnection, name: str) -> tuple[Principal, bool] | None:
    """The user of that name and whether they are disabled."""
    stmt = select(*_PRINCIPAL_COLUMNS, users.c.disabled).where(users.c.name == name)
    row = (await conn.execute(stmt)).first()
    return (_principal(row), bool(row.disabled)) if row else None


async def list_accounts(conn: AsyncConnection) -> list[tuple[Principal, bool]]:
    """Every user, and whether they are disabled, by name."""
    stmt = select(*_PRINCIPAL_COLUMNS, users.c.disabled).order_by(users.c.name)
    return [(_principal(r), bool(r.disabled)) for r in await conn.execute(stmt)]


async def set_user_disabled(conn: AsyncConnection, user_id: int, disabled: bool) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))


async def insert_token(
    conn: AsyncConnection,
    user_id: int,
    token_hash: str,
    at: datetime,
    expires: datetime | None = None,
) -> int:
    result = await conn.execute(
        api_tokens.insert()
        .values(user_id=user_id, token_hash=token_hash, created_at=at, expires_at=expires)
        .returning(api_tokens.c.id)
    )
    return int(result.scalar_one())


async def tokens(
    conn: AsyncConnection, name: str | None = None, token_id: int | None = None
) -> list[tuple[int, str, datetime, datetime | None, datetime | None, bool]]:
    """(id, user name, created, last used, expires, user disabled) of every token, or of a
    user's, or the one with that id; never the hash."""
    stmt = (
        select(
            api_tokens.c.id,
            users.c.name,
            api_tokens.c.created_at,
            api_tokens.c.last_used_at,
            api_tokens.c.expires_at,
            users.c.disabled,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .order_by(api_tokens.c.id)
    )
    if name is not None:
        stmt = stmt.where(users.c.name == name)
    if token_id is not None:
        stmt = stmt.where(api_tokens.c.id == token_id)
    return [
        (r.id, r.name, r.created_at, r.last_used_at, r.expires_at, bool(r.disabled))
        for r in await conn.execute(stmt)
    ]


async def delete_token(conn: AsyncConnection, token_id: int) -> None:
    await conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id))


async def user_by_token(
    conn: AsyncConnection, token_hash: str, at: datetime
) -> tuple[Principal, int] | None:
    """The enabled user an unexpired token belongs to, and the token's id. Only reads: its
    last use is written later, in batches (update_tokens_last_used)."""
    row = (
        await conn.execute(
            select(*_PRINCIPAL_COLUMNS, api_tokens.c.id.label("token_id"))
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(
                api_tokens.c.token_hash == token_hash,
                users.c.disabled.is_(False),
                or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > at),
            )
        )
    ).first()
    return (_principal(row), row.token_id) if row else None


async def update_tokens_last_used(conn: AsyncConnection, used: dict[int, datetime]) -> None:
    """token id → when it was last used, in one statement."""
    stmt = (
        update(api_tokens)
        .where(api_tokens.c.id == bindparam("token_id"))
        .values(last_used_at=bindparam("used_at", type_=api_tokens.c.last_used_at.type))
    )
    await conn.execute(stmt, [{"token_id": k, "used_at": v} for k, v in used.items()])


async def insert_session(
    conn: AsyncConnection, user_id: int, token_hash: str, at: datetime, expires: datetime
) -> None:
    await conn.execute(
        web_sessions.insert().values(
            user_id=user_id, token_hash=token_hash, created_at=at, expires_at=expires
        )
    )


async def user_by_session(conn: AsyncConnection, token_hash: str, at: datetime) -> Principal | None:
    row = (
        await conn.execute(
            select(*_PRINCIPAL_COLUMNS)
            .join(web_sessions, web_sessions.c.user_id == users.c.id)
            .where(
                web_sessions.c.token_hash == token_hash,
                web_sessions.c.expires_at > at,
                users.c.disabled.is_(False),
            )
        )
    ).first()
    return _principal(row) if row else None


async def delete_session(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))


async def delete_user_sessions(conn: AsyncConnection, user_id: int) -> int:
    """End every browser session of the user; how many there were."""
    result = await conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
    return int(result.rowcount)


async def delete_expired_sessions(conn: AsyncConnection, at: datetime) -> None:
    await conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= at))


async def insert_auth_event(conn: AsyncConnection, **values: object) -> None:
    await conn.execute(auth_log.insert().values(**values))
