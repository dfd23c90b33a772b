"""Alembic environment: runs on the connection callcenter.db.upgrade hands over, or on
the URL for the `alembic` command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from callcenter import auth, calls  # noqa: F401  (registers the tables)
from callcenter.anomalies import store as _anomalies_store  # noqa: F401
from callcenter.auth import store as _auth_store  # noqa: F401
from callcenter.callbacks import store as _callbacks_store  # noqa: F401
from callcenter.calls import store as _calls_store  # noqa: F401
from callcenter.db import Base
from callcenter.ha import store as _ha_store  # noqa: F401
from callcenter.orders import store as _orders_store  # noqa: F401
from callcenter.qa import store as _qa_store  # noqa: F401
from callcenter.recordings import store as _recordings_store  # noqa: F401
from callcenter.reports import archive as _report_archive  # noqa: F401
from callcenter.tickets import store as _tickets_store  # noqa: F401

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    url = config.get_main_option("sqlalchemy.url") or ""
    sync_url = url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")
    with create_engine(sync_url).connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
