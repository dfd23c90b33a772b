"""Accounts: add users, change who may log in (passwords, disabling, API tokens: each
change logged and kept in the auth log), and tell who a request is."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import passwords, store
from callcenter.auth.model import EXTENSION_RE, NAME_RE, Principal, Role
from callcenter.clock import Clock, iso_z
from callcenter.errors import Conflict, Invalid, NotFound, Unauthenticated

log = logging.getLogger(__name__)

MIN_PASSWORD = 8


def token_hash(token: str) -> str:
    """API tokens and session ids are 256-bit random: a plain SHA-256 suffices to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def auth_event(at: datetime, event: str, name: str, **values: Any) -> dict[str, Any]:
    """An auth log row: a login (ok or not), or a change to who may log in."""
    return {
        "at": at,
        "event": event,
        "name": name,
        "ok": values.pop("ok", True),
        "suspicious": values.pop("suspicious", False),
        **values,
    }


async def record_event(engine: AsyncEngine, values: dict[str, Any]) -> None:
    """Keep an auth log row on its own, for a refused or failed login: its loss must not
    change the answer (the log line is written either way)."""
    try:
        async with engine.begin() as conn:
            await store.insert_auth_event(conn, **values)
    except Exception as exc:
        log.error(
            "auth log row not written event=%s name=%r error=%s",
            values["event"],
            values["name"],
            type(exc).__name__,
        )


async def add_user(
    engine: AsyncEngine,
    clock: Clock,
    name: str,
    role: str,
    password: str,
    extension: str | None = None,
    work_number: str | None = None,
    language: str | None = None,
    actor: str | None = None,
    station: str | None = None,
) -> Principal:
    if not NAME_RE.match(name):
        raise Invalid("bad-name", "name: 1-64 letters, digits, Chinese characters, . _ -", "name")
    try:
        role_value = Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise Invalid("bad-role", f"role must be one of {roles}", "role") from None
    if extension is not None and not EXTENSION_RE.match(extension):
        raise Invalid("bad-extension", "extension: 1-32 digits or letters", "extension")
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            "weak-password", f"password must be at least {MIN_PASSWORD} characters", "password"
        )
    if language is not None and language not in ("zh-CN", "en"):
        raise Invalid("bad-language", "language must be zh-CN or en", "language")
    # A station's account acts for exactly one station; nobody else has one.
    if (role_value == Role.STATION) != (station is not None):
        raise Invalid(
            "bad-station", "a station account needs --station CODE, and only it has one", "station"
        )
    password_hash = await passwords.hash_password(password)
    now = clock.now()
    try:
        async with engine.begin() as conn:
            user_id = await store.insert_user(
                conn,
                name=name,
                role=role_value.value,
                extension=extension,
                work_number=work_number,
                password_hash=password_hash,
                language=language,
                station=station,
                disabled=False,
                created_at=now,
            )
            detail = f"role={role_value.value} by={actor}" if actor else f"role={role_value.value}"
            await store.insert_auth_event(
                conn, **auth_event(now, "user-added", name, detail=detail)
            )
    except IntegrityError:
        raise Conflict(
            "user-exists", f"a user named {name!r} or with extension {extension!r} exists", "name"
        ) from None
    log.info("user added user=%s role=%s by=%s", name, role_value.value, actor or "-")
    return Principal(user_id, name, role_value, extension, work_number, language, station)


def _by(actor: str | None, detail: str = "") -> str | None:
    """The auth log's detail: what changed, and who changed it (the command line's user)."""
    parts = [p for p in (detail, f"by={actor}" if actor else "") if p]
    return "; ".join(parts) or None


async def _account(conn: Any, name: str) -> tuple[Principal, bool]:
    found = await store.account(conn, name)
    if found is None:
        raise NotFound("no-such-user", f"no user named {name!r}", "name")
    return found


async def create_token(
    engine: AsyncEngine,
    clock: Clock,
    name: str,
    expires_days: float | None = None,
    actor: str | None = None,
) -> str:
    """A new bearer token for `name` (shown once: only its hash is stored)."""
    if expires_days is not None and not expires_days > 0:
        raise Invalid("bad-expiry", "expires-days must be > 0", "expires_days")
    token = "cc_" + secrets.token_urlsafe(32)
    now = clock.now()
    expires = now + timedelta(days=expires_days) if expires_days is not None else None
    async with engine.begin() as conn:
        user, _ = await _account(conn, name)
        token_id = await store.insert_token(conn, user.id, token_hash(token), now, expires)
        detail = _by(actor, f"id={token_id} expires={iso_z(expires) or 'never'}")
        await store.insert_auth_event(conn, **auth_event(now, "token-created", name, detail=detail))
    log.info(
        "token created id=%d user=%s expires=%s by=%s",
        token_id,
        name,
        iso_z(expires) or "never",
        actor or "-",
    )
    return token


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token as `token list` shows it: never the token itself."""

    id: int
    user: str
    created_at: datetime
    last_used_at: datetime | None  # written in batches: up to a flush interval behind
    expires_at: datetime | None
    user_disabled: bool

    def state(self, now: datetime) -> str:
        if self.user_disabled:
            return "user-disabled"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


async def list_tokens(engine: AsyncEngine, name: str | None = None) -> list[TokenInfo]:
    async with engine.connect() as conn:
        if name is not None:
            await _account(conn, name)
        return [TokenInfo(*row) for row in await store.tokens(conn, name)]


async def revoke_token(
    engine: AsyncEngine, clock: Clock, token_id: int, actor: str | None = None
) -> TokenInfo:
    now = clock.now()
    async with engine.begin() as conn:
        found = [t for t in await store.tokens(conn, token_id=token_id)]
        if not found:
            raise NotFound("no-such-token", f"no token with id {token_id}", "id")
        token = TokenInfo(*found[0])
        await store.delete_token(conn, token_id)
        detail = _by(actor, f"id={token_id}")
        await store.insert_auth_event(
            conn, **auth_event(now, "token-revoked", token.user, detail=detail)
        )
    log.info("token revoked id=%d user=%s by=%s", token_id, token.user, actor or "-")
    return token


async def set_password(
    engine: AsyncEngine, clock: Clock, name: str, password: str, actor: str | None = None
) -> int:
    """Change the password and end the user's sessions (their browsers log in again); API
    tokens stay (revoke them with revoke_token). Returns how many sessions were ended."""
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            "weak-password", f"password must be at least {MIN_PASSWORD} characters", "password"
        )
    hashed = await passwords.hash_password(password)
    now = clock.now()
    async with engine.begin() as conn:
        user, _ = await _account(conn, name)
        await store.update_password_hash(conn, user.id, hashed)
        ended = await store.delete_user_sessions(conn, user.id)
        detail = _by(actor, f"sessions ended={ended}")
        await store.insert_auth_event(
            conn, **auth_event(now, "password-changed", name, detail=detail)
        )
    log.info("password changed user=%s sessions_ended=%d by=%s", name, ended, actor or "-")
    return ended


async def set_disabled(
    engine: AsyncEngine, clock: Clock, name: str, disabled: bool, actor: str | None = None
) -> bool:
    """Disable (or enable again) a user. A disabled user's sessions are ended and their API
    tokens refused from the next request on; enabling brings the tokens back, not the
    sessions. Returns whether anything changed."""
    now = clock.now()
    event = "user-disabled" if disabled else "user-enabled"
    async with engine.begin() as conn:
        user, was_disabled = await _account(conn, name)
        if was_disabled == disabled:
            return False
        await store.set_user_disabled(conn, user.id, disabled)
        ended = await store.delete_user_sessions(conn, user.id) if disabled else 0
        detail = _by(actor, f"sessions ended={ended}" if disabled else "")
        await store.insert_auth_event(conn, **auth_event(now, event, name, detail=detail))
    if disabled:
        log.info("user disabled user=%s sessions_ended=%d by=%s", name, ended, actor or "-")
    else:
        log.info("user enabled user=%s by=%s", name, actor or "-")
    return True


async def logout(engine: AsyncEngine, session: str) -> None:
    async with engine.begin() as conn:
        await store.delete_session(conn, token_hash(session))


async def authenticate(
    engine: AsyncEngine,
    clock: Clock,
    bearer: str | None,
    session: str | None,
    usage: TokenUsage | None = None,
) -> Principal:
    """Who a bearer token or session cookie belongs to. Only reads the database: a token's
    last use goes to `usage`, written later by run_last_used_flusher."""
    if not bearer and not session:
        raise Unauthenticated("not-authenticated", "log in or send a bearer token")
    now = clock.now()
    user: Principal | None = None
    async with engine.connect() as conn:
        if bearer:
            found = await store.user_by_token(conn, token_hash(bearer), now)
            if found is not None:
                user, token_id = found
                if usage is not None:
                    usage.record(token_id, now)
        elif session:
            user = await store.user_by_session(conn, token_hash(session), now)
    if user is None:
        raise Unauthenticated("bad-credentials", "the token or session is not valid")
    return user


class TokenUsage:
    """When each API token was last used, kept in memory and written in batches: a request
    that only reads writes nothing, so a database refusing writes leaves the read API up."""

    def __init__(self) -> None:
        self._pending: dict[int, datetime] = {}

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, token_id: int, at: datetime) -> None:
        current = self._pending.get(token_id)
        if current is None or at > current:
            self._pending[token_id] = at

    async def flush(self, engine: AsyncEngine) -> int:
        """Write what is pending; on failure keep it for the next try (and raise)."""
        if not self._pending:
            return 0
        batch, self._pending = self._pending, {}
        try:
            async with engine.begin() as conn:
                await store.update_tokens_last_used(conn, batch)
        except BaseException:
            for token_id, at in batch.items():
                self.record(token_id, at)
            raise
        return len(batch)


_FINAL_FLUSH_SECONDS = 5.0


async def run_last_used_flusher(
    db: Callable[[], AsyncEngine], usage: TokenUsage, interval: float = 10.0
) -> None:
    """Write the tokens' last use every `interval` seconds, and once more when stopped.
    Owned by the composition root."""
    try:
        while True:
            await asyncio.sleep(interval)
            try:
                await usage.flush(db())
            except Exception as exc:  # a write outage: the figures wait in memory
                log.warning(
                    "token last use not saved, retrying pending=%d error=%s",
                    usage.pending,
                    type(exc).__name__,
                )
    except asyncio.CancelledError:
        await _final_flush(db, usage)
        raise


async def _final_flush(db: Callable[[], AsyncEngine], usage: TokenUsage) -> None:
    """The last save at shutdown, given its 5 s even when the owner cancels again meanwhile
    (tasks.stop_all does every second): a save cut off inside its transaction lost the
    figures and could leave SQLite's connection waiting for ever."""
    final = asyncio.ensure_future(usage.flush(db()))
    loop = asyncio.get_running_loop()
    until = loop.time() + _FINAL_FLUSH_SECONDS
    while not final.done() and loop.time() < until:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({final}, timeout=until - loop.time())
    if not final.done():
        final.cancel()
        await asyncio.wait({final}, timeout=1)
    if final.done() and not final.cancelled() and final.exception() is not None:
        log.warning(
            "token last use lost at shutdown count=%d error=%s",
            usage.pending,
            type(final.exception()).__name__,
        )
    elif not final.done() or final.cancelled():
        log.warning("token last use lost at shutdown count=%d error=timeout", usage.pending)
