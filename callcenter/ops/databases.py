"""The database half of a backup: a consistent dump, a look at what a target holds, and
the restore, for each engine.

SQLite: the online backup API (a consistent copy while the service writes), saved as one
self-contained file (journal mode DELETE); restored with the same API into the target, in
one step. PostgreSQL: `pg_dump --format=custom` of the configured database (one snapshot);
restored by `psql --single-transaction` from `pg_restore`'s script, after dropping what the
target's public schema holds, in the same transaction: a failure leaves the target as it
was. libpq gets the password through the environment, never on a command line."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from callcenter import db

# Empties the public schema (in restore's transaction): every table, view, sequence,
# function and type of ours; objects an extension owns are the extension's.
_CLEAR_PUBLIC = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.objid = c.oid AND d.deptype IN ('e', 'a', 'i'))
  LOOP
    EXECUTE format('DROP %s IF EXISTS %s CASCADE',
      CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                     WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                     ELSE 'TABLE' END, r.name);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.name);
  END LOOP;
  FOR r IN SELECT t.oid::regtype AS name FROM pg_type t
           JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm')
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('DROP TYPE IF EXISTS %s CASCADE', r.name);
  END LOOP;
END $$;
"""


class DatabaseError(Exception):
    """A dump or restore tool failed, or is missing; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Contents:
    """What a database holds: its tables (none: empty), its schema revision, and other
    sessions connected to it (PostgreSQL: a service still running)."""

    tables: int
    revision: str | None
    other_sessions: int = 0


def engine_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def sqlite_path(url: str) -> Path:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or ":memory:" in path:
        raise DatabaseError("database.url: an in-memory SQLite database cannot be backed up")
    return Path(path)


# -- PostgreSQL tools ---------------------------------------------------------------------
def pg_tool(name: str) -> str:
    """pg_dump, pg_restore or psql: from PATH, else Debian's newest /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    raise DatabaseError(
        f"{name} not found: install the PostgreSQL client (Debian: postgresql-client), "
        "the same major version as the server or newer"
    )


def libpq_env(url: str) -> dict[str, str]:
    """The connection as libpq's environment variables (the password stays off argv)."""
    u = make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    query = {k: str(v) for k, v in u.query.items()}
    host = u.host or query.get("host")
    for key, value in (
        ("PGHOST", host),
        ("PGPORT", str(u.port) if u.port else query.get("port")),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
        ("PGSSLMODE", query.get("sslmode") or query.get("ssl")),
    ):
        if value:
            env[key] = str(value)
    env["PGAPPNAME"] = "callcenter-backup"
    return env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DatabaseError(f"{what} failed (exit {done.returncode}): {' / '.join(detail[-3:])}")


# -- what a database holds ----------------------------------------------------------------
async def _pg_contents(url: str) -> Contents:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalar_one()
            others = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                    )
                )
            ).scalar_one()
            revision = None
            if tables:
                revision = await db.current_revision(engine)
        return Contents(int(tables), revision, int(others))
    finally:
        await engine.dispose()


def _sqlite_contents(path: Path) -> Contents:
    if not path.exists() or path.stat().st_size == 0:
        return Contents(0, None)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        revision = None
        if "alembic_version" in names:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
    conn.close()
    return Contents(len(names), revision)


def contents(url: str) -> Contents:
    try:
        if engine_of(url) == "sqlite":
            return _sqlite_contents(sqlite_path(url))
        return asyncio.run(_pg_contents(url))
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"cannot read the database: {exc}") from exc
    except Exception as exc:  # asyncpg and SQLAlchemy raise their own kinds
        if isinstance(exc, DatabaseError):
            raise
        raise DatabaseError(f"cannot connect to the database: {exc}") from exc


# -- dump ---------------------------------------------------------------------------------
def dump(url: str, to: Path) -> str | None:
    """Write a consistent dump of the database to `to`; returns its schema revision."""
    if engine_of(url) == "sqlite":
        path = sqlite_path(url)
        if not path.is_file():
            raise DatabaseError(f"database.url: no SQLite database at {path}")
        src = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        dst = sqlite3.connect(to)
        try:
            src.backup(dst)
            # One self-contained file: the copy of a WAL database would want its -wal beside.
            dst.execute("PRAGMA journal_mode=DELETE")
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite backup failed: {exc}") from exc
        finally:
            dst.close()
            src.close()
        return _sqlite_contents(to).revision
    revision = contents(url).revision
    _run(
        [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={to}"],
        libpq_env(url),
        "pg_dump",
    )
    return revision


# -- restore ------------------------------------------------------------------------------
def restore(url: str, dump_file: Path) -> None:
    """Replace the database's contents with the dump's, in one step."""
    if engine_of(url) == "sqlite":
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{dump_file}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite restore failed: {exc}") from exc
        finally:
            dst.close()
            src.close()
        return
    env = libpq_env(url)
    script = subprocess.Popen(
        [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(dump_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert script.stdout is not None
    try:
        loaded = subprocess.run(
            [pg_tool("psql"), "--single-transaction", "--no-psqlrc", "--quiet",
             "-v", "ON_ERROR_STOP=1", "--command", _CLEAR_PUBLIC, "--file=-"],
            stdin=script.stdout, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        script.stdout.close()
        script_err = script.stderr.read().decode(errors="replace") if script.stderr else ""
        script.wait()
    if script.returncode != 0:
        raise DatabaseError(f"pg_restore failed (exit {script.returncode}): {script_err.strip()}")
    if loaded.returncode != 0:
        detail = (loaded.stderr or loaded.stdout).strip().splitlines()
        raise DatabaseError(
            f"psql failed (exit {loaded.returncode}); the database is as it was: "
            + " / ".join(detail[-3:])
        )
