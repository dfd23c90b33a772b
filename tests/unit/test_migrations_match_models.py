"""The schema the migrations build is the one the stores declare: a table, column or index
added to a model without its migration (or the other way round) fails here, not on a
production database."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from callcenter import db
from callcenter.anomalies import store as _anomalies  # noqa: F401  (the stores' tables)
from callcenter.auth import store as _auth  # noqa: F401
from callcenter.calls import store as _calls  # noqa: F401
from callcenter.ha import store as _ha  # noqa: F401
from callcenter.incidents import store as _incidents  # noqa: F401
from callcenter.orders import store as _orders  # noqa: F401
from callcenter.probe import store as _probe  # noqa: F401
from callcenter.recordings import store as _recordings  # noqa: F401
from callcenter.reports import archive as _report_archive  # noqa: F401
from callcenter.speech import store as _speech  # noqa: F401
from callcenter.tickets import store as _tickets  # noqa: F401
from callcenter.timeline import store as _timeline  # noqa: F401
from callcenter.wallboard import store as _wallboard  # noqa: F401


async def test_the_migrated_schema_equals_the_models(db_url: str) -> None:
    engine = db.create_engine(db_url)
    try:
        await db.upgrade(engine)
        async with engine.connect() as conn:

            def compare(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(sync_conn)
                return list(compare_metadata(context, db.Base.metadata))

            diff = await conn.run_sync(compare)
    finally:
        await engine.dispose()
    assert diff == []
