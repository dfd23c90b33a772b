"""The screen-pop's copy of the live incidents: read off the pops' path, once for all the
pops waiting, again at once after a change made here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from callcenter.incidents import covering
from callcenter.incidents.covering import LiveCopy


class Database:
    """Counts the reads of the live incidents; each takes a moment, as a real one does."""

    def __init__(self) -> None:
        self.reads = 0

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        yield None

    async def live(self, _conn: Any) -> list[Any]:
        self.reads += 1
        await asyncio.sleep(0.01)
        return []


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> Database:
    database = Database()
    monkeypatch.setattr(covering.store, "live", database.live)
    return database


def copy_of(db: Database) -> LiveCopy:
    return LiveCopy(lambda: db, lambda: None)  # type: ignore[arg-type,return-value]


async def test_pops_arriving_together_before_the_first_read_read_once(db: Database) -> None:
    copy = copy_of(db)
    await asyncio.gather(*(copy.covering(["城关区东兴街东兴里5号楼1单元101室"]) for _ in range(20)))
    assert db.reads == 1


async def test_a_fresh_copy_is_not_read_again_by_pops_but_is_after_a_change(db: Database) -> None:
    copy = copy_of(db)
    for _ in range(10):
        await copy.incidents()
    assert db.reads == 1
    await copy.changed()
    assert db.reads == 2
    await copy.incidents()
    assert db.reads == 2
