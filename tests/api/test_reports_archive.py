"""The report archive on SQLite and PostgreSQL: at the archive hour the service archives
yesterday's report by itself; asked again, the report says it equals its archive, until a
change after the day (a ticket cancelled the next morning) shows as the difference, never
silently replacing what was archived; the database refuses to alter an entry, and one
altered behind its back breaks the chain `verify` checks."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import text, update

from callcenter.reports import archive
from tests.api.test_reports_api import DAY, UNMATCHED, _get, day, hotline  # noqa: F401
from tests.conftest import Hotline
from tests.waiting import eventually


async def _archived_day(h: Hotline, who: dict[str, str]) -> dict[str, Any]:
    async def listed() -> Any:
        body = await _get(h, "/api/reports/archive", who)
        return body if any(e["period"] == DAY for e in body["entries"]) else None

    found: dict[str, Any] = await eventually(listed)
    return found


async def test_yesterdays_report_is_archived_and_late_data_shows_as_a_difference(
    hotline: Hotline,  # noqa: F811
    day: dict[str, dict[str, str]],  # noqa: F811
) -> None:
    boss, agent = day["boss"], day["agent"]
    listing = await _archived_day(hotline, boss)
    assert listing["chain"] == {"ok": True, "entries": len(listing["entries"]),
                                "reason": "intact", "broken_at": None}  # fmt: skip
    kinds = {(e["kind"], e["period"]) for e in listing["entries"]}
    assert ("daily", DAY) in kinds and ("weekly", "2026-W47") in kinds
    report = await _get(hotline, f"/api/reports/daily?date={DAY}", boss)
    assert report["archive"]["same"] is True and report["archive"]["differences"] == []

    kept = await hotline.client.get(f"/api/reports/archive/daily/{DAY}", headers=boss)
    raw = await kept.read()
    assert hashlib.sha256(raw).hexdigest() == kept.headers["X-Content-SHA256"]
    assert report["archive"]["sha256"] == kept.headers["X-Content-SHA256"]
    assert json.loads(raw)["summary"]["repair_reports"] == 3

    # Tuesday morning: Monday's ticket with no station was typed by mistake and cancelled.
    tickets = await _get(hotline, "/api/tickets?limit=50", agent)
    [mistake] = [t for t in tickets if t.get("address") == UNMATCHED or
                 t.get("address_typed") == UNMATCHED]  # fmt: skip
    cancel = await hotline.client.patch(
        f"/api/tickets/{mistake['id']}", json={"status": "cancelled", "note": "重复"},
        headers=agent,
    )  # fmt: skip
    assert cancel.status == 200, await cancel.text()
    again = await _get(hotline, f"/api/reports/daily?date={DAY}", boss)
    assert again["summary"]["repair_reports"] == 2  # the figure as the database holds it now
    verdict = again["archive"]
    assert verdict["same"] is False
    changed = {d["path"]: (d["archived"], d["now"]) for d in verdict["differences"]}
    assert changed["summary.repair_reports"] == (3, 2)
    assert changed["summary.categories.temperature_check"] == (1, 0)
    assert changed["total.reports"] == (3, 2)
    assert changed["stations[-]"][0]["reports"] == 1 and changed["stations[-]"][1] is None
    # The archive itself is what it was.
    kept_again = await hotline.client.get(f"/api/reports/archive/daily/{DAY}", headers=boss)
    assert await kept_again.read() == raw


async def test_the_database_refuses_changes_and_verify_finds_a_forged_entry(
    hotline: Hotline,  # noqa: F811
    day: dict[str, dict[str, str]],  # noqa: F811
) -> None:
    await _archived_day(hotline, day["boss"])
    engine = hotline.svc.db()
    for statement in (
        update(archive.report_archive).values(body="{}"),
        archive.report_archive.delete(),
    ):
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(statement)
    assert (await archive.verify(engine)).ok

    # Someone with the database's owner rights drops the guard and edits a figure.
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "DROP TRIGGER report_archive_no_update" + (" ON report_archive" if postgres else "")
            )
        )
        row = (await conn.execute(archive.report_archive.select().limit(1))).first()
        assert row is not None
        forged = row.body.replace('"repair_reports":', '"repair_reports":1', 1)
        await conn.execute(
            update(archive.report_archive)
            .where(archive.report_archive.c.seq == row.seq)
            .values(body=forged)
        )
    verdict = await archive.verify(engine)
    assert (verdict.ok, verdict.broken_at) == (False, row.seq)
    assert "altered" in verdict.reason
    listing = await _get(hotline, "/api/reports/archive", day["boss"])
    assert listing["chain"]["ok"] is False


def test_differences_compare_station_rows_by_code() -> None:
    old = {"stations": [{"code": "a", "reports": 1}, {"code": "b", "reports": 2}], "x": 1}
    new = {"stations": [{"code": "b", "reports": 3}, {"code": "a", "reports": 1}], "x": 1}
    assert list(archive.differences(old, new)) == [
        {"path": "stations[b].reports", "archived": 2, "now": 3}
    ]
