"""The bench database: a throw-away PostgreSQL 15 cluster on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.integration.bench.processes import (
    INSTALL_HINT,
    LOCALHOST,
    free_tcp_port,
    log_tail,
    require_executable,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresCluster:
    """Throw-away PostgreSQL 15 cluster owned by user ``postgres`` (it refuses root).

    ``start()`` runs initdb (trust auth) in a fresh ``/tmp/callcenter-pg-*`` dir
    owned by postgres and ``pg_ctl start`` on 127.0.0.1:``port`` (socket in the
    same dir, fsync off); ``stop()`` stops it and deletes the directory.
    """

    def __init__(self, port: int | None = None):
        self.host = LOCALHOST
        self.port = port or free_tcp_port()
        self.base_dir: Path | None = None

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy async URL."""
        return f"postgresql+asyncpg://postgres@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq / asyncpg DSN."""
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def _as_postgres(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        runuser = require_executable("runuser", "runuser (util-linux)")
        return subprocess.run(
            [runuser, "-u", "postgres", "--", *argv],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
            cwd="/",
        )

    def start(self) -> None:
        for tool in ("initdb", "pg_ctl", "psql"):
            if not (PG_BIN / tool).exists():
                pytest.fail(
                    f"PostgreSQL 15 not installed ({PG_BIN / tool} missing): {INSTALL_HINT}",
                    pytrace=False,
                )
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                f"PostgreSQL not installed (no 'postgres' user): {INSTALL_HINT}", pytrace=False
            )
        self.base_dir = Path(tempfile.mkdtemp(prefix="callcenter-pg-", dir="/tmp"))
        os.chown(self.base_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base_dir, 0o700)
        try:
            self._as_postgres(
                str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
                "-E", "UTF8", "--locale=C", "-N",
            )  # fmt: skip
            opts = (
                f"-p {self.port} -k {self.base_dir} -c listen_addresses={self.host} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            self._as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                "-o", opts, "-w", "-t", "30", "start",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            log = log_tail(self.log_path) if self.base_dir else ""
            self.stop()
            pytest.fail(
                f"PostgreSQL did not start: {exc.stderr}\n{exc.stdout}\n{log}", pytrace=False
            )

    def psql(self, sql: str, database: str = "postgres") -> str:
        res = self._as_postgres(
            str(PG_BIN / "psql"), "-h", self.host, "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql,
        )  # fmt: skip
        return res.stdout

    def create_database(self, name: str | None = None) -> str:
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.base_dir is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            self._as_postgres(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop",
                check=False,
            )  # fmt: skip
        shutil.rmtree(self.base_dir, ignore_errors=True)
        self.base_dir = None
