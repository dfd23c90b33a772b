"""Accounts: add users, issue API tokens, log browsers in, and tell who a request is."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import store
from callcenter.auth.model import EXTENSION_RE, NAME_RE, Principal, Role
from callcenter.clock import Clock
from callcenter.errors import Conflict, Invalid, NotFound, Unauthenticated

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the answer time the same, so
# a login form does not tell which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD = 8


def token_hash(token: str) -> str:
    """API tokens and session ids are 256-bit random: a plain SHA-256 suffices to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


async def add_user(
    engine: AsyncEngine,
    clock: Clock,
    name: str,
    role: str,
    password: str,
    extension: str | None = None,
    work_number: str | None = None,
    language: str | None = None,
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
    try:
        async with engine.begin() as conn:
            user_id = await store.insert_user(
                conn,
                name=name,
                role=role_value.value,
                extension=extension,
                work_number=work_number,
                password_hash=_hasher.hash(password),
                language=language,
                disabled=False,
                created_at=clock.now(),
            )
    except IntegrityError:
        raise Conflict(
            "user-exists", f"a user named {name!r} or with extension {extension!r} exists", "name"
        ) from None
    return Principal(user_id, name, role_value, extension, work_number, language)


async def create_token(engine: AsyncEngine, clock: Clock, name: str) -> str:
    token = "cc_" + secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        user = await store.user_by_name(conn, name)
        if user is None:
            raise NotFound("no-such-user", f"no user named {name!r}", "name")
        await store.insert_token(conn, user.id, token_hash(token), clock.now())
    return token


async def login(
    engine: AsyncEngine, clock: Clock, name: str, password: str, hours: float
) -> tuple[Principal, str]:
    """Check the password; return the user and a new session id for the cookie."""
    async with engine.begin() as conn:
        found = await store.login_candidate(conn, name)
        try:
            _hasher.verify(found[1] if found else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            found = None
        if found is None:
            raise Unauthenticated("bad-credentials", "wrong user name or password")
        user, hashed = found
        if _hasher.check_needs_rehash(hashed):
            await store.update_password_hash(conn, user.id, _hasher.hash(password))
        session = secrets.token_urlsafe(32)
        now = clock.now()
        await store.delete_expired_sessions(conn, now)
        await store.insert_session(
            conn, user.id, token_hash(session), now, now + timedelta(hours=hours)
        )
    return user, session


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
        try:
            async with asyncio.timeout(5):
                await usage.flush(db())
        except Exception as exc:
            log.warning(
                "token last use lost at shutdown count=%d error=%s",
                usage.pending,
                type(exc).__name__,
            )
        raise


async def set_password(engine: AsyncEngine, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            "weak-password", f"password must be at least {MIN_PASSWORD} characters", "password"
        )
    async with engine.begin() as conn:
        user = await store.user_by_name(conn, name)
        if user is None:
            raise NotFound("no-such-user", f"no user named {name!r}", "name")
        await store.update_password_hash(conn, user.id, _hasher.hash(password))
