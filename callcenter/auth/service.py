"""Accounts: add users, issue API tokens, log browsers in, and tell who a request is."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import passwords, store
from callcenter.auth.guard import LoginGuard, TooManyAttempts
from callcenter.auth.model import EXTENSION_RE, NAME_RE, Principal, Role
from callcenter.auth.shifts import Shift, on_shift, shifts_of
from callcenter.clock import Clock
from callcenter.errors import Conflict, Invalid, NotFound, Unauthenticated

log = logging.getLogger(__name__)

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
                password_hash=await passwords.hash_password(password),
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


@dataclass(frozen=True, slots=True)
class LoginRules:
    """What a password login is checked against ([auth] and the web settings)."""

    guard: LoginGuard
    session_hours: float
    timezone: ZoneInfo
    shifts: tuple[Shift, ...] = ()
    shift_grace: timedelta = timedelta(minutes=30)


async def login(
    engine: AsyncEngine, clock: Clock, rules: LoginRules, name: str, password: str, address: str
) -> tuple[Principal, str]:
    """Check the password (throttled, off the event loop), log and record the attempt, and
    return the user and a new session id for the cookie."""
    tried = name[:64]  # no user has a longer name; the log and the guard keep no more
    try:
        ticket = rules.guard.admit(tried, address)
    except TooManyAttempts as exc:
        await _refused(engine, clock, tried, address, exc)
        raise
    decided = False
    try:
        async with engine.connect() as conn:
            found = await store.login_candidate(conn, name)
        try:
            ok = await passwords.verify_password(found[1] if found else None, password)
        except TooManyAttempts as exc:
            await _refused(engine, clock, tried, address, exc)
            raise
        if found is None or not ok or found[2]:
            reason = "unknown-user" if found is None else "bad-password" if not ok else "disabled"
            locked_until = rules.guard.failed(ticket)
            decided = True
            await _failed(engine, clock, tried, address, reason, locked_until)
            raise Unauthenticated("bad-credentials", "wrong user name or password")
        rules.guard.succeeded(ticket)
        decided = True
        user, hashed, _ = found
        return user, await _open_session(engine, clock, rules, user, hashed, password, address)
    finally:
        if not decided:
            rules.guard.release(ticket)


async def _open_session(
    engine: AsyncEngine,
    clock: Clock,
    rules: LoginRules,
    user: Principal,
    hashed: str,
    password: str,
    address: str,
) -> str:
    new_hash = await passwords.hash_password(password) if passwords.needs_rehash(hashed) else None
    now = clock.now()
    local = now.astimezone(rules.timezone)
    shifts = shifts_of(rules.shifts, user.name, user.role.value)
    suspicious = bool(shifts) and not on_shift(shifts, local, rules.shift_grace)
    session = secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        if new_hash is not None:
            await store.update_password_hash(conn, user.id, new_hash)
        await store.delete_expired_sessions(conn, now)
        expires = now + timedelta(hours=rules.session_hours)
        await store.insert_session(conn, user.id, token_hash(session), now, expires)
        await store.insert_auth_event(
            conn,
            **_event(now, "login", user.name, address=address, suspicious=suspicious),
            detail=f"outside shift (local {local:%a %H:%M})" if suspicious else None,
        )
    if suspicious:
        log.warning(
            "login outside shift user=%s role=%s address=%s local=%s",
            user.name,
            user.role.value,
            address,
            f"{local:%a %H:%M}",
        )
    else:
        log.info("login ok user=%s address=%s", user.name, address)
    return session


def _event(at: datetime, event: str, name: str, **values: Any) -> dict[str, Any]:
    return {
        "at": at,
        "event": event,
        "name": name,
        "ok": values.pop("ok", True),
        "suspicious": values.pop("suspicious", False),
        **values,
    }


async def _record(engine: AsyncEngine, values: dict[str, Any]) -> None:
    """An auth log row for a refused or failed login: its loss must not change the answer
    (the log line is written either way)."""
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


async def _failed(
    engine: AsyncEngine,
    clock: Clock,
    name: str,
    address: str,
    reason: str,
    locked_until: datetime | None,
) -> None:
    now = clock.now()
    log.info("login failed name=%r address=%s reason=%s", name, address, reason)
    detail = None
    if locked_until is not None:
        detail = f"locked until {locked_until.isoformat(timespec='seconds')}"
        log.warning("login locked name=%r address=%s until=%s", name, address, locked_until)
    await _record(
        engine, _event(now, "login", name, address=address, ok=False, reason=reason, detail=detail)
    )


async def _refused(
    engine: AsyncEngine, clock: Clock, name: str, address: str, exc: TooManyAttempts
) -> None:
    """A login refused unchecked: the first of each lock or window is logged and recorded,
    the rest are not (a flood of them must not become a flood of writes)."""
    reason = exc.details["reason"]
    if not exc.details["first"]:
        return
    retry = exc.details["retry_after"]
    log.warning(
        "login refused name=%r address=%s reason=%s retry_after=%d (further refusals until "
        "then are not logged)",
        name,
        address,
        reason,
        retry,
    )
    values = _event(clock.now(), "login", name, address=address, ok=False, reason=reason)
    await _record(engine, values | {"detail": f"retry after {retry} s; repeats not recorded"})


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
        await store.update_password_hash(conn, user.id, await passwords.hash_password(password))
