"""Password logins: throttled per user name and client address, checked off the event loop,
logged and kept in the auth log, flagged when outside the user's shift."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import passwords, service, store
from callcenter.auth.guard import LoginGuard, TooManyAttempts
from callcenter.auth.model import NAME_RE, Principal
from callcenter.auth.shifts import Shift, on_shift, shifts_of
from callcenter.clock import Clock, iso_z
from callcenter.errors import Unauthenticated

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    # No user has a longer name; the log and the guard keep no more, and no control
    # characters (PostgreSQL refuses NUL in text, a newline would forge a log line).
    tried = _CONTROL.sub("\ufffd", name[:64])
    try:
        ticket = rules.guard.admit(tried, address)
    except TooManyAttempts as exc:
        await _refused(engine, clock, tried, address, exc)
        raise
    decided = False
    try:
        found = None  # a name no user can have is not looked up (but is still "checked")
        if NAME_RE.match(name):
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
        await store.insert_session(conn, user.id, service.token_hash(session), now, expires)
        await store.insert_auth_event(
            conn,
            **service.auth_event(now, "login", user.name, address=address, suspicious=suspicious),
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
        detail = f"locked until {iso_z(locked_until)}"
        log.warning("login locked name=%r address=%s until=%s", name, address, iso_z(locked_until))
    await service.record_event(
        engine,
        service.auth_event(
            now, "login", name, address=address, ok=False, reason=reason, detail=detail
        ),
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
    values = service.auth_event(
        clock.now(), "login", name, address=address, ok=False, reason=reason
    )
    await service.record_event(
        engine, values | {"detail": f"retry after {retry} s; repeats not recorded"}
    )
