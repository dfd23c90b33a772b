"""Which instance of the pair is active: the one holding a PostgreSQL advisory lock on a
connection of its own.

PostgreSQL releases a session lock the moment the session ends: at once when the active's
process dies (its socket closes), and after `ha.silence_seconds` when its host or network
goes silent, because the active's lock session runs with idle_session_timeout and proves
itself alive with a query every `ha.heartbeat_seconds`. The standby asks for the lock every
`ha.poll_seconds`. An active whose lock session fails stops at once (service.py): it can no
longer tell whether the standby has taken over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from callcenter.clock import iso_z
from callcenter.ha import store
from callcenter.ha.settings import HaSettings
from callcenter.ha.store import Fence

log = logging.getLogger(__name__)

Role = Literal["starting", "standby", "active"]


class Leadership:
    def __init__(self, url: str, settings: HaSettings) -> None:
        self.url = url
        self.settings = settings
        self.name = settings.name
        self.role: Role = "starting"
        self.active_name: str | None = None  # as the lock holder's session names itself
        self.active_since: datetime | None = None
        self.fence: Fence | None = None
        self.last_error: str | None = None
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._alive_at = 0.0  # monotonic: the lock session last answered

    @property
    def active(self) -> bool:
        return self.role == "active"

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            # Autocommit: the session never sits in a transaction, so idle_session_timeout
            # (which ignores sessions idle inside one) applies to it.
            self._engine = create_async_engine(
                self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
            )
            conn = await self._engine.connect()
            await conn.execute(
                text("SELECT set_config('application_name', :name, false)"),
                {"name": store.APPLICATION_PREFIX + self.name},
            )
            self._conn = conn
        return self._conn

    async def _drop(self) -> None:
        conn, engine, self._conn, self._engine = self._conn, self._engine, None, None
        try:
            if conn is not None:
                await conn.close()
        except (SQLAlchemyError, OSError):
            pass
        if engine is not None:
            await engine.dispose()

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; note who does if somebody does."""
        try:
            conn = await self._connection()
            if await store.try_lock(conn):
                self.fence = Fence(await store.backend_pid(conn))
                self._alive_at = time.monotonic()
                self.active_name = self.name
                self.last_error = None
                return True
            found = await store.holder(conn)
            self.active_name = found[1] if found is not None else None
            self.last_error = None
        except (SQLAlchemyError, OSError) as exc:
            self.last_error = _first_line(exc)
            log.warning("ha: cannot reach PostgreSQL for the lock error=%s", self.last_error)
            await self._drop()
        return False

    async def wait(self) -> None:
        """The standby's loop: until this instance holds the lock."""
        self.role = "standby"
        while True:
            if await self.try_acquire():
                return
            await asyncio.sleep(self.settings.poll_seconds)

    async def hold(self, lost: Callable[[str], None]) -> None:
        """The active's loop: prove the lock session alive; `lost` if it is not."""
        conn = self._conn
        if conn is None:  # never reconnected here: a new session would not hold the lock
            lost("no lock session")
            return
        silence_ms = int(self.settings.silence_seconds * 1000)
        try:
            await conn.execute(
                text("SELECT set_config('idle_session_timeout', :ms, false)"),
                {"ms": f"{silence_ms}ms"},
            )
        except SQLAlchemyError as exc:  # PostgreSQL before 14 has no such setting
            log.warning("ha: no idle_session_timeout (%s): a silent active is noticed only by "
                        "TCP keepalive", _first_line(exc))  # fmt: skip
        self._alive_at = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                async with asyncio.timeout(self.settings.takeover_seconds / 3):
                    await conn.execute(text("SELECT 1"))
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                lost(_first_line(exc) or type(exc).__name__)
                return
            self._alive_at = time.monotonic()

    def current(self) -> bool:
        """Whether this instance may send an alert: active, and its lock session answered
        within `silence_seconds` (after that PostgreSQL may have ended it and the standby
        taken over: an active frozen and resumed must not send what it had queued)."""
        return self.active and time.monotonic() - self._alive_at < self.settings.silence_seconds

    async def close(self) -> None:
        await self._drop()

    def status(self) -> dict[str, object]:
        return {
            "instance": self.name,
            "role": self.role,
            "active": self.active_name,
            "active_since": iso_z(self.active_since),
            "lock_error": self.last_error,
        }


def _first_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc)
    return text_.splitlines()[0][:300] if text_ else type(exc).__name__
