"""The monthly assessment (月度考核) on SQLite and PostgreSQL: a December built row by row,
its figures worked out by hand below, checked in the JSON, every cell of the agents' rows in
the CSV and in the XLSX (opened with openpyxl), and who may read it."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from callcenter import cli
from callcenter.auth.store import users
from callcenter.qa.checklists import load
from callcenter.qa.export import HEADERS_EN, HEADERS_ZH
from tests.api import month_rows as mr
from tests.conftest import Hotline

SHEETS = load(Path(__file__).resolve().parents[2] / "config" / "qa")
INTAKE, CALLBACK = SHEETS["intake"], SHEETS["callback"]
# December 2026 in Asia/Shanghai: 2026-11-30T16:00Z to 2026-12-31T16:00Z.
DEC = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)
BEFORE = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 23:00 on 30 November, local
AFTER = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January, local
URL = "/api/qa/assessment?month=2026-12"


async def _id(h: Hotline, name: str, work_number: str | None = None) -> int:
    async with h.svc.db().begin() as conn:
        if work_number:
            await conn.execute(
                update(users).where(users.c.name == name).values(work_number=work_number)
            )
        found = (await conn.execute(users.select().where(users.c.name == name))).first()
    assert found is not None
    return int(found.id)


@pytest.fixture
async def month(hotline: Hotline) -> dict[str, dict[str, str]]:
    h = hotline
    tokens = {
        "li.na": await h.token("li.na", "agent", "2001"),
        "wang.wei": await h.token("wang.wei", "agent", "2002"),
        "lead": await h.token("lead", "team_lead"),
        "qa": await h.token("qa", "qa_lead"),
        "boss": await h.token("boss", "supervisor"),
    }
    await h.add_user("zhao.min", "agent", "2003")
    li, wang = await _id(h, "li.na", "1001"), await _id(h, "wang.wei", "1002")
    await _id(h, "zhao.min", "1003")
    lead, qa = await _id(h, "lead"), await _id(h, "qa")
    t = lambda minutes: DEC + timedelta(minutes=minutes)  # noqa: E731
    # li.na's evaluations: (id, recording, sheet, deducted, when, status, good, reviewer,
    # the findings the reviewer marked)
    li_evals: list[tuple[Any, ...]] = [
        ("e1", "r1", INTAKE, {"address": 5, "station": 5, "opening": 2}, t(10), "acknowledged"),
        (
            "e2",
            "r2",
            INTAKE,
            {"address": 3},
            t(20),
            "acknowledged",
            False,
            lead,
            ("bad_attitude", "invalid_promise"),
        ),
        ("e3", "r3", INTAKE, {"station": 5, "name": 1}, t(30), "upheld"),
        (
            "e4",
            "r4",
            INTAKE,
            {"phone": 1, "closing": 4},
            t(40),
            "acknowledged",
            False,
            lead,
            ("invalid_promise",),
        ),
        ("e5", "r5", INTAKE, {}, t(50), "upheld", True),
        # r1 scored earlier by the QA lead: the team lead's later e1 is the one that counts.
        (
            "e6",
            "r1",
            INTAKE,
            {"ask_name": 1, "closing": 4},
            t(5),
            "acknowledged",
            False,
            qa,
            ("bad_attitude",),
        ),
        ("e7", "r6", INTAKE, {"address": 5}, t(60), "revised"),
        ("e8", "r7", CALLBACK, {"opening": 3}, t(70), "acknowledged", True),
        (
            "e9",
            "r8",
            INTAKE,
            {"address": 5},
            t(80),
            "open",
            False,
            lead,
            ("bad_attitude",),
        ),  # pending: not counted
        ("e10", "r9", INTAKE, {"address": 5}, BEFORE, "acknowledged"),  # November
    ]
    wang_evals: list[tuple[Any, ...]] = [
        ("e11", "r10", INTAKE, {"seat": 1}, t(10), "acknowledged", True),
        ("e12", "r11", INTAKE, {}, t(20), "acknowledged", True, lead, ("wrong_guidance",)),
        ("e13", "r12", CALLBACK, {}, t(30), "acknowledged", True),
    ]
    samples, evaluations, recs = [], [], set()
    for agent, evals in ((li, li_evals), (wang, wang_evals)):
        for ev_id, rec, sheet, deducted, at, status, *rest in evals:
            good = bool(rest[0]) if rest else False
            reviewer = rest[1] if len(rest) > 1 else lead
            marked = rest[2] if len(rest) > 2 else ()
            s, e = mr.evaluation_rows(
                ev_id, rec, agent, reviewer, sheet, deducted, at, status, good, marked
            )
            samples.append(s)
            evaluations.append(e)
            recs.add(rec)
    viol = [("ring_limit", li, DEC), ("ring_limit", li, t(1)), ("late_answer", li, t(2)),
            ("rang_out", li, t(3)), ("hung_up_first", li, t(4)), ("late_answer", li, AFTER),
            ("late_answer", wang, t(5))]  # fmt: skip
    async with h.svc.db().begin() as conn:
        await mr.insert(conn, "recordings", [mr.recording_row(r, DEC) for r in sorted(recs)])
        await mr.insert(conn, "qa_samples", samples)
        await mr.insert(conn, "qa_evaluations", evaluations)
        await mr.insert(
            conn, "calls", [mr.call_row(f"c{i}", at) for i, (_, _, at) in enumerate(viol)]
        )
        await mr.insert(
            conn,
            "violations",
            [mr.violation_row(f"v{i}", f"c{i}", a, k, at) for i, (k, a, at) in enumerate(viol)],
        )
        await mr.insert(
            conn,
            "anomalies",
            [
                mr.anomaly_row("a1", li, t(1), True),
                mr.anomaly_row("a2", li, t(2), True),
                mr.anomaly_row("a3", li, t(3), False),
            ],
        )
        await mr.insert(conn, "tickets", [mr.ticket_row(f"t{i}", DEC) for i in range(5)])
        await mr.insert(
            conn,
            "callbacks",
            [
                mr.callback_row("cb0", "t0", li, "li.na", t(1)),
                mr.callback_row("cb1", "t1", li, "li.na", t(2)),
                mr.callback_row("cb2", "t2", wang, "li.na", t(3)),  # made for a colleague
                mr.callback_row("cb3", "t3", li, "li.na", BEFORE),  # November
                mr.callback_row("cb4", "t4", li, None, t(4)),  # still due
            ],
        )
    return tokens


# By hand. li.na: counted intake sheets e1 12, e2 3, e3 6, e4 5, e5 0, e7 5 (e6 superseded
# by e1 on r1, e9 open, e10 November) = 6 sheets, 31 points; callback e8 = 1 sheet, 3.
# Share: 34 / (6 × 35 + 16) = 34 / 226 = 15.04 % -> 15.0.
# Findings: non_standard e1 (opening), e4 (closing), e8 (callback opening) = 3; name e3 = 1;
# phone e4 = 1; address e1, e2, e7 = 3; station e1, e3 = 2. Marked by the reviewer: bad
# attitude e2 = 1 (e6 superseded, e9 open); invalid promise e2, e4 = 2. Serious: address 3 +
# station 2 + invalid promise 2 = 7, after the third 7 - 3 = 4. Late: 2 ring_limit + 1
# late_answer = 3 (rang_out not fined; the one of 1 January is next month's). Hung up first
# 1. 漏报 2.
# Yuan: 3×10 + 3×10 + 1×50 + 1×50 + 1×10 + 1×20 + 3×20 + 2×30 + 2×20 + 2×0 + 7×10 + 4×50
#     = 30 + 30 + 50 + 50 + 10 + 20 + 60 + 60 + 40 + 0 + 70 + 200 = 620.
# Good examples e5, e8 = 2; bonus: 620 yuan is past 150 -> the last level, 100; 2 // 3 = 0.
# Callbacks made: cb0, cb1, cb2 = 3. Pending: e9 = 1.
LI = {
    "work_number": "1001", "agent": "li.na", "intake_checked": 6, "intake_deducted": 31,
    "callback_checked": 1, "callback_deducted": 3, "pending": 1, "non_standard": 3,
    "late_answer": 3, "bad_attitude": 1, "hung_up_first": 1, "name_wrong": 1,
    "phone_wrong": 1, "address_wrong": 3, "wrong_station": 2, "unreported_anomaly": 2,
    "invalid_promise": 2, "wrong_guidance": 0, "serious": 7,
    "fines_yuan": 620, "callbacks_made": 3, "good_examples": 2, "bonus_yuan": 100,
}  # fmt: skip
LI_YUAN = {"non_standard": 30, "late_answer": 30, "bad_attitude": 50, "hung_up_first": 50,
           "name_wrong": 10, "phone_wrong": 20, "address_wrong": 60, "wrong_station": 60,
           "unreported_anomaly": 40, "invalid_promise": 0, "wrong_guidance": 0, "serious": 70,
           "serious_after_third": 200}  # fmt: skip
# wang.wei: intake e11 1 (seat: neither a field nor a phrase), e12 0; callback e13 0.
# Share 1 / (2 × 35 + 16) = 1 / 86 = 1.16 % -> 1.2. Wrong guidance marked on e12: counted,
# 0 yuan by the table. One late answer: 10 yuan. Level: 500
# needs 0 yuan; 400 allows 30 yuan and 6 % -> 400; 3 good examples lift one level -> 500.
WANG = {
    "work_number": "1002", "agent": "wang.wei", "intake_checked": 2, "intake_deducted": 1,
    "callback_checked": 1, "callback_deducted": 0, "pending": 0, "non_standard": 0,
    "late_answer": 1, "bad_attitude": 0, "hung_up_first": 0, "name_wrong": 0,
    "phone_wrong": 0, "address_wrong": 0, "wrong_station": 0, "unreported_anomaly": 0,
    "invalid_promise": 0, "wrong_guidance": 1, "serious": 0, "fines_yuan": 10,
    "callbacks_made": 0, "good_examples": 3, "bonus_yuan": 500,
}  # fmt: skip
# zhao.min: nothing in the month, nothing fined: 500.
ZHAO = {k: 0 for k in WANG} | {"work_number": "1003", "agent": "zhao.min", "bonus_yuan": 500}


async def test_the_json_holds_the_hand_computed_month(hotline: Hotline, month: Any) -> None:
    response = await hotline.client.get(URL, headers=month["qa"])
    assert response.status == 200
    body = await response.json()
    assert (body["month"], body["from"], body["to"]) == (
        "2026-12", "2026-11-30T16:00:00.000Z", "2026-12-31T16:00:00.000Z",
    )  # fmt: skip
    rows = body["agents"]
    assert [r["agent"]["name"] for r in rows] == ["li.na", "wang.wei", "zhao.min"]
    li = rows[0]
    assert li["evaluations"] == {"intake": 6, "callback": 1, "pending": 1}
    assert li["deducted"] == {"intake": 31, "callback": 3, "pct": 15.0}
    assert {f["kind"]: f["yuan"] for f in li["fines"]} == LI_YUAN
    after = next(f for f in li["fines"] if f["kind"] == "serious_after_third")
    assert (after["count"], after["yuan_each"]) == (4, 50)
    assert after["reason"].endswith("(7 − 3): 4 × 50")
    assert li["fines_yuan"] == 620 == sum(LI_YUAN.values())
    assert (li["callbacks_made"], li["good_examples"], li["bonus"]["yuan"]) == (3, 2, 100)
    wang = rows[1]
    assert wang["deducted"]["pct"] == 1.2
    assert wang["bonus"] == {
        "yuan": 500,
        "reason": "fines 10 yuan, 1.2% deducted: level 400, 3 good examples lift it 1 to 500",
    }
    assert rows[2]["fines_yuan"] == 0 and rows[2]["bonus"]["yuan"] == 500
    assert body["totals"]["fines_yuan"] == 630
    assert body["totals"]["bonus_yuan"] == 1100
    assert body["totals"]["serious_after_third"] == 4


async def test_the_csv_has_every_cell(hotline: Hotline, month: Any) -> None:
    response = await hotline.client.get(URL + "&format=csv", headers=month["boss"])
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert 'filename="assessment-2026-12.csv"' in response.headers["Content-Disposition"]
    raw = await response.read()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    for row, want in zip(rows, (LI, WANG, ZHAO), strict=True):
        assert row["month"] == "2026-12"
        assert {k: row[k] for k in HEADERS_EN} == {k: str(v) for k, v in want.items()}
    assert "serious_after_third 4×50=200" in rows[0]["fines_detail"]


async def test_the_xlsx_sheet_prints_every_cell_and_the_signatures(
    hotline: Hotline, month: Any
) -> None:
    response = await hotline.client.get(URL + "&format=xlsx", headers=month["qa"])
    assert response.status == 200
    assert response.content_type.endswith("spreadsheetml.sheet")
    assert 'filename="assessment-2026-12.xlsx"' in response.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(await response.read())).active
    assert ws is not None
    assert ws["A1"].value == "月度考核表 2026年12月"
    header = [c.value for c in ws[4]]
    assert header == [*HEADERS_ZH, "各人签字确认"]
    for r, want in zip((5, 6, 7), (LI, WANG, ZHAO), strict=True):
        cells = [ws.cell(r, col).value for col in range(1, len(HEADERS_EN) + 1)]
        assert cells == list(want.values()), r
        assert ws.cell(r, len(HEADERS_EN) + 1).value is None  # the agent signs here
    totals = [ws.cell(8, col).value for col in range(1, len(HEADERS_EN) + 1)]
    sums = [sum(int(w[k]) for w in (LI, WANG, ZHAO)) for k in HEADERS_EN[2:]]
    assert totals == ["合计", None, *sums]
    assert totals[HEADERS_EN.index("fines_yuan")] == 630
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.startswith("客服部长签字") for t in texts)
    assert any("严重违纪超过3次加罚 4×50=200元" in t for t in texts)
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize or 0) == 9  # A4


async def test_an_agent_reads_only_their_own_row(hotline: Hotline, month: Any) -> None:
    mine = await hotline.client.get(URL + "&agent=me", headers=month["li.na"])
    assert mine.status == 200
    rows = (await mine.json())["agents"]
    assert [r["agent"]["name"] for r in rows] == ["li.na"]
    assert rows[0]["fines_yuan"] == 620
    for query in ("", "&agent=wang.wei"):
        denied = await hotline.client.get(URL + query, headers=month["li.na"])
        assert denied.status == 403
    one = await hotline.client.get(URL + "&agent=wang.wei", headers=month["qa"])
    assert [r["agent"]["name"] for r in (await one.json())["agents"]] == ["wang.wei"]


async def test_who_may_read_and_what_is_refused(hotline: Hotline, month: Any) -> None:
    assert (await hotline.client.get(URL)).status == 401
    assert (await hotline.client.get(URL, headers=month["lead"])).status == 403
    for query, field in (
        ("?month=2026-13", "month"),
        ("?month=26-12", "month"),
        ("?month=2026-12&format=pdf", "format"),
        ("?month=2026-12&agent=nobody", "agent"),
    ):
        response = await hotline.client.get("/api/qa/assessment" + query, headers=month["qa"])
        assert response.status == 400, query
        assert (await response.json())["field"] == field


async def test_the_command_writes_the_same_sheet(
    hotline: Hotline, month: Any, tmp_path: Path
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[database]\nurl = "{hotline.svc.settings.database_url}"\n')
    out = tmp_path / "december.xlsx"
    argv = ["qa", "assessment", "--config", str(config), "--month", "2026-12", "--out", str(out)]
    assert await asyncio.to_thread(cli.main, argv) == 0
    ws = load_workbook(out).active
    assert ws is not None
    assert [ws.cell(5, col).value for col in range(1, len(HEADERS_EN) + 1)] == list(LI.values())
