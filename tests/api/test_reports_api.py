"""The daily report form (日报表) on SQLite and PostgreSQL: a day built through the real desk
(tickets taken, dispatched, returned, cancelled, called back) and a few stored rows (calls,
violations, anomalies), every cell of the form checked against the count worked out by hand,
the CSV and the XLSX (opened with openpyxl) holding the same figures, and bad periods
refused with a clear 4xx."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from callcenter import cli
from callcenter.clock import FakeClock
from tests.api import month_rows as mr
from tests.api.test_callbacks_api import SATISFIED, due_list, returned
from tests.api.test_orders_api import dispatch
from tests.api.test_tickets_api import person, take
from tests.conftest import Hotline, HotlineFactory

# 10:00 on Saturday 21 November 2026 in Asia/Shanghai; the report is of Monday the 23rd.
START = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
DAY = "2026-11-23"
UNMATCHED = "火星市不存在路1号"  # no rule of the sample book matches: no station


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str) -> Hotline:
    h: Hotline = await hotline_factory(db_url, clock=FakeClock(START))
    return h


def advance(h: Hotline, hours: float) -> None:
    h.clock.advance(hours * 3600)  # type: ignore[attr-defined]


async def _get(h: Hotline, path: str, who: dict[str, str], status: int = 200) -> Any:
    response = await h.client.get(path, headers=who)
    assert response.status == status, await response.text()
    return await response.json() if status != 200 or "format=" not in path else response


@pytest.fixture
async def day(hotline: Hotline) -> dict[str, dict[str, str]]:
    """Saturday 21st: hongcheng ×2 (one returned that day), yulong ×1, a consultation.
    Monday 23rd: hongcheng ice cold, xingfu leak (dispatched, not back), one with no station,
    a repair cancelled, two consultations; hongcheng's second Saturday ticket returned, and
    the callback of Saturday's return made. Calls and violations of Monday stored as rows."""
    h = hotline
    agent = await person(h, "li.na", "agent", "2001", "007")
    boss = await person(h, "boss", "supervisor")
    sat1 = await take(h, agent, station="hongcheng")
    sat2 = await take(h, agent, station="hongcheng")
    await take(h, agent, station="yulong", category="ice_cold")
    await take(h, agent, kind="consultation", address=None, category=None, severity=None,
               fault_location=None)  # fmt: skip
    await returned(h, agent, sat1["id"])
    advance(h, 48)  # Monday 10:00
    await take(h, agent, station="hongcheng", category="ice_cold")
    leak = await take(h, agent, station="xingfu", category="leak")
    await dispatch(h, agent, leak["id"])
    await take(h, agent, address=UNMATCHED, category="temperature_check")
    wrong = await take(h, agent, station="wanke")
    cancel = await h.client.patch(
        f"/api/tickets/{wrong['id']}", json={"status": "cancelled", "note": "录错"}, headers=agent
    )
    assert cancel.status == 200, await cancel.text()
    for _ in range(2):
        await take(h, agent, kind="consultation", address=None, category=None, severity=None,
                   fault_location=None)  # fmt: skip
    await returned(h, agent, sat2["id"])
    [saturdays, _mondays] = sorted(await due_list(h, agent), key=lambda c: c["created_at"])
    made = await h.client.post(f"/api/callbacks/{saturdays['id']}", json=SATISFIED, headers=agent)
    assert made.status == 200, await made.text()
    monday = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    calls = [mr.call_row(f"c{i}", monday + timedelta(minutes=i)) for i in range(3)]
    async with h.svc.db().begin() as conn:
        await mr.insert(conn, "calls", calls)
        await mr.insert(conn, "violations", [
            mr.violation_row("v1", "c0", 1, "late_answer", monday),
            mr.violation_row("v2", "c1", 1, "hung_up_first", monday),
            mr.violation_row("v3", "c2", 1, "late_answer", monday - timedelta(days=1)),
        ])  # fmt: skip
        await mr.insert(conn, "anomalies", [mr.anomaly_row("a1", 1, monday, False)])
    advance(h, 24)  # Tuesday: Monday is over
    return {"agent": agent, "boss": boss}


# By hand, Monday 23rd (season from 15 November):
# hongcheng: cumulative reports 3 (sat1, sat2, Monday's), repairs 2 (sat1 Saturday, sat2
#   Monday), unfinished 1; today reports 1, repairs 1 (sat2's first return).
# yulong: 1 / 0 / 1, today 0 / 0.  xingfu: 1 / 0 / 1, today 1 / 0 (dispatched, not back).
# no station: 1 / 0 / 1, today 1 / 0.  wanke: cancelled, not counted.
# Total: 6 / 2 / 4, today 3 / 1.  First line: 报修 3, 咨询 2, 已维修 1, 已回访 1 (Saturday's
# callback, made on Monday); 不热 0, 冰凉 1, 要求测温 1, 漏水 1.
ROWS = {
    "hongcheng": [3, 2, 1, 1, 1],
    "yulong": [1, 0, 1, 0, 0],
    "xingfu": [1, 0, 1, 1, 0],
    None: [1, 0, 1, 1, 0],
}
TOTAL = [6, 2, 4, 3, 1]
COLUMNS = ["cumulative_reports", "cumulative_repairs", "unfinished", "reports", "repairs"]


async def test_every_cell_of_the_day_is_the_count_worked_out_by_hand(
    hotline: Hotline, day: dict[str, dict[str, str]]
) -> None:
    body = await _get(hotline, f"/api/reports/daily?date={DAY}", day["boss"])
    assert (body["kind"], body["period"], body["complete"]) == ("daily", DAY, True)
    assert body["season_start"] == "2026-11-15"
    assert body["summary"] == {
        "repair_reports": 3, "consultations": 2, "repaired": 1, "called_back": 1,
        "categories": {"not_hot": 0, "ice_cold": 1, "temperature_check": 1, "leak": 1},
    }  # fmt: skip
    stations = body["stations"]
    book = [s.code for s in hotline.svc.address_book().stations]
    assert [s["code"] for s in stations] == [*book, None]  # the form's order, then 未分站
    assert len(book) == 17
    for s in stations:
        assert [s[c] for c in COLUMNS] == ROWS.get(s["code"], [0] * 5), s["code"]
    assert [body["total"][c] for c in COLUMNS] == TOTAL
    hot = body["hotline"]
    assert (hot["calls"]["offered"], hot["calls"]["answered"]) == (3, 3)
    assert hot["violations"] == {"ring_limit": 0, "late_answer": 1, "rang_out": 0,
                                 "hung_up_first": 1}  # fmt: skip
    # The stored accept_late, and the three the service itself raised for xingfu's order,
    # dispatched on Monday and never accepted: its accept, contact and repair deadlines.
    late = {k: n for k, n in hot["anomalies"].items() if n}
    assert late == {"accept_late": 2, "contact_late": 1, "repair_late": 1}
    # Monday's return booked one callback, not made by Monday's end: 0 of 1.
    assert hot["callbacks"] == {"owed": 1, "made_in_time": 0, "rate": 0.0}

    saturday = await _get(hotline, "/api/reports/daily?date=2026-11-21", day["boss"])
    assert saturday["summary"]["repair_reports"] == 3 and saturday["summary"]["repaired"] == 1
    assert saturday["hotline"]["callbacks"] == {"owed": 1, "made_in_time": 0, "rate": 0.0}


async def test_the_csv_and_the_xlsx_hold_the_same_cells(
    hotline: Hotline, day: dict[str, dict[str, str]]
) -> None:
    response = await _get(hotline, f"/api/reports/daily?date={DAY}&format=csv", day["boss"])
    assert response.headers["Content-Disposition"].endswith(f'report-daily-{DAY}.csv"')
    text = (await response.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    figures = {r[0]: r[2] for r in rows[2:] if len(r) == 3}
    assert figures["repair_reports"] == "3" and figures["category.leak"] == "1"
    table = {r[0]: r[2:] for r in rows if len(r) == 7 and r[0] != "station"}
    assert table["hongcheng"] == [str(n) for n in ROWS["hongcheng"]]
    assert table[""] == [str(n) for n in ROWS[None]]
    assert table["total"] == [str(n) for n in TOTAL]

    response = await _get(hotline, f"/api/reports/daily?date={DAY}&format=xlsx", day["boss"])
    ws = load_workbook(io.BytesIO(await response.read())).active
    assert ws is not None
    assert ws["A1"].value == "11月23日供暖报修报表"
    assert ws["A2"].value == "2026年11月23日供暖报修数据统计"
    cells = {(r, c): ws.cell(r, c).value for r in range(1, ws.max_row + 1) for c in range(1, 7)}
    assert [cells[(3, c)] for c in range(1, 5)] == ["报修量", "咨询量", "已维修", "已回访"]
    assert [cells[(4, c)] for c in range(1, 5)] == [3, 2, 1, 1]
    assert [cells[(5, c)] for c in range(1, 5)] == ["报修不热", "报修冰凉", "要求测温", "报修漏水"]
    assert [cells[(6, c)] for c in range(1, 5)] == [0, 1, 1, 1]
    header = next(r for r in range(1, ws.max_row + 1) if cells[(r, 1)] == "维修站")
    assert [cells[(header, c)] for c in range(2, 7)] == [
        "累计报修", "累计维修", "未完成", "今日报修", "今日维修",
    ]  # fmt: skip
    by_name = {cells[(r, 1)]: [cells[(r, c)] for c in range(2, 7)]
               for r in range(header + 1, header + 20)}  # fmt: skip
    assert by_name["宏城"] == ROWS["hongcheng"] and by_name["幸福"] == ROWS["xingfu"]
    assert by_name["未分站"] == ROWS[None] and by_name["总计"] == TOTAL
    assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4)  # one A4 page
    assert ws.page_setup.fitToHeight == 1 and ws.page_setup.fitToWidth == 1


async def test_longer_reports_and_the_days_export(
    hotline: Hotline, day: dict[str, dict[str, str]]
) -> None:
    week = await _get(hotline, "/api/reports/weekly?week=2026-W48", day["boss"])
    assert week["period"] == "2026-W48" and week["first_day"] == "2026-11-23"
    assert week["summary"]["repair_reports"] == 3  # the week of Monday the 23rd, so far
    month = await _get(hotline, "/api/reports/monthly?month=2026-11", day["boss"])
    assert month["summary"]["repair_reports"] == 6 and month["summary"]["repaired"] == 2
    assert month["complete"] is False  # November still runs
    assert [month["total"][c] for c in COLUMNS] == [6, 2, 4, 6, 2]
    season = await _get(hotline, "/api/reports/season?season=2026", day["boss"])
    assert season["period"] == "2026/27" and season["total"]["cumulative_reports"] == 6
    days = await _get(
        hotline, "/api/reports/days?from=2026-11-21&to=2026-11-23&format=csv", day["boss"]
    )
    lines = list(csv.reader(io.StringIO((await days.read()).decode("utf-8-sig"))))
    assert [r[:5] for r in lines] == [
        ["day", "repair_reports", "consultations", "repaired", "called_back"],
        ["2026-11-21", "3", "1", "1", "0"],
        ["2026-11-22", "0", "0", "0", "0"],
        ["2026-11-23", "3", "2", "1", "1"],
    ]


@pytest.mark.parametrize(
    ("path", "status", "error", "field"),
    [
        ("/api/reports/daily?date=2026-13-01", 400, "bad-period", "date"),
        ("/api/reports/daily?date=23.11.2026", 400, "bad-period", "date"),
        ("/api/reports/daily?date=2026-11-30", 400, "future-period", "period"),
        ("/api/reports/daily?date=2020-01-01", 404, "outside-data", None),
        ("/api/reports/weekly?week=2026-W60", 400, "bad-period", "week"),
        ("/api/reports/monthly?month=2026-1", 400, "bad-period", "month"),
        ("/api/reports/daily?date=2026-11-23&format=pdf", 400, "bad-format", "format"),
        ("/api/reports/days?from=2025-01-01&to=2026-11-23", 400, "range-too-large", "to"),
        ("/api/reports/days?from=2026-11-23&to=2026-11-21", 400, "bad-range", "to"),
        ("/api/reports/days?to=2026-11-21", 400, "missing-parameter", "from"),
    ],
)
async def test_bad_periods_get_a_clear_4xx(
    hotline: Hotline, day: dict[str, dict[str, str]], path: str, status: int, error: str,
    field: str | None,
) -> None:  # fmt: skip
    body = await _get(hotline, path, day["boss"], status)
    assert body["error"] == error and body.get("field") == field, body


async def test_agents_do_not_read_reports(hotline: Hotline, day: dict[str, dict[str, str]]) -> None:
    body = await _get(hotline, f"/api/reports/daily?date={DAY}", day["agent"], 403)
    assert body["error"] == "forbidden"


async def test_the_command_prints_what_the_api_gives(
    hotline: Hotline, day: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{hotline.svc.settings.database_url}"\n')
    out = tmp_path / "day.json"
    argv = ["report", "daily", "--config", str(config), "--date", DAY, "--out", str(out)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    printed = json.loads(out.read_text(encoding="utf-8"))
    api = await _get(hotline, f"/api/reports/daily?date={DAY}", day["boss"])
    for body in (printed, api):
        body.pop("generated_at")
        body["hotline"]["calls"].pop("pending", None)
    assert printed == api
    xlsx = tmp_path / "day.xlsx"
    argv = ["report", "daily", "--config", str(config), "--date", DAY, "--out", str(xlsx)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert load_workbook(xlsx).active["A1"].value == "11月23日供暖报修报表"  # type: ignore[index]
    bad = ["report", "daily", "--config", str(config), "--date", "2026-02-30"]
    assert await asyncio.to_thread(cli.main, bad) == 1
