"""Database plumbing: the declarative base, UTC timestamps, engines and the migration check.

Tables are declared by each capability's store.py; Alembic (callcenter/migrations) owns the
schema. The same code runs on SQLite (aiosqlite) and PostgreSQL (asyncpg).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, MetaData, Table, and_, event, or_, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from callcenter.errors import StartupError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite keeps naive UTC text (so ranges compare as
    strings in order); PostgreSQL keeps timestamptz."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets API readers run while the call tracker writes; NORMAL is durable across a
    # process crash (only an OS crash can lose the last commits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


async def locked_row(conn: AsyncConnection, table: Table, where: Any, query: Any) -> Any:
    """`query` (a SELECT of the row `where` names), the row held until the caller's writing
    transaction ends: FOR UPDATE on PostgreSQL. SQLite has no row locks and begins a
    transaction only at its first write, so a read before it may be stale by the time the
    write comes (two pauses at one instant both saw none): a write that changes nothing
    comes first and takes the database's write lock."""
    if conn.dialect.name == "postgresql":
        return await conn.execute(query.with_for_update(of=table))
    key = next(iter(table.primary_key.columns))
    await conn.execute(update(table).where(where).values({key.name: key}))
    return await conn.execute(query)


def create_engine(url: str, server_settings: dict[str, str] | None = None) -> AsyncEngine:
    """`server_settings`: PostgreSQL session settings for every connection (asyncpg)."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, poolclass=NullPool if ":memory:" in url else None)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"server_settings": server_settings} if server_settings else {}
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args=connect_args
    )


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


def _upgrade(connection: Connection, cfg: AlembicConfig) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every pending migration (`callcenter db upgrade`, `serve --migrate`)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, cfg)


async def open_database(url: str, migrate: bool) -> AsyncEngine:
    """An engine on a database at the schema's head: migrated when `migrate`, else refused
    with what to run."""
    engine = create_engine(url)
    try:
        current = await current_revision(engine)
        head = head_revision()
        if current != head:
            if not migrate:
                raise StartupError(
                    f"the database is not migrated (at {current or 'an empty schema'}, "
                    f"needs {head}): run `callcenter db upgrade` or `callcenter serve --migrate`"
                )
            log.info("migrating the database from %s to %s", current, head)
            await upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


def keyset_before(at: Any, id_: Any, cursor: tuple[datetime, str]) -> Any:
    """Rows after `cursor` in newest-first order (at desc, id desc): keyset paging, stable
    while rows are added."""
    return or_(at < cursor[0], and_(at == cursor[0], id_ < cursor[1]))
