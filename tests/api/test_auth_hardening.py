"""Authentication under attack and outage: reads never write, password guessing is throttled
and audited, and it never stalls the event loop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import store
from tests.conftest import Hotline


@contextmanager
def writes_refused(engine: AsyncEngine) -> Iterator[None]:
    """The database answers reads but refuses every write, as a full disk or a read-only
    replica would."""

    def refuse(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise OperationalError(statement, None, Exception("the database is read-only"))

    event.listen(engine.sync_engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", refuse)


async def last_used(hotline: Hotline) -> list[Any]:
    async with hotline.svc.db().connect() as conn:
        rows = await conn.execute(select(store.api_tokens.c.last_used_at))
        return [r.last_used_at for r in rows]


async def test_a_bearer_request_reads_while_the_database_refuses_writes(
    hotline: Hotline,
) -> None:
    headers = await hotline.token("boss", "supervisor")
    with writes_refused(hotline.svc.db()):
        response = await hotline.client.get("/api/calls", headers=headers)
        assert response.status == 200, await response.text()
        assert (await hotline.client.get("/api/me", headers=headers)).status == 200


async def test_last_use_of_a_token_is_written_later_in_a_batch(hotline: Hotline) -> None:
    headers = await hotline.token("boss", "supervisor")
    assert (await hotline.client.get("/api/calls", headers=headers)).status == 200
    assert await last_used(hotline) == [None]  # the request itself wrote nothing
    usage = hotline.svc.token_usage
    with writes_refused(hotline.svc.db()):
        try:
            await usage.flush(hotline.svc.db())
        except OperationalError:
            pass
    assert usage.pending == 1  # kept for the next try
    assert await usage.flush(hotline.svc.db()) == 1
    assert await last_used(hotline) == [hotline.clock.now()]
