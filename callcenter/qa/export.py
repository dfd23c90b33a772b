"""The monthly assessment out: JSON (the API), CSV (UTF-8 with a BOM, so a spreadsheet reads
the Chinese) and an XLSX sheet a department head prints on A4 landscape, with a line for
each agent's signature (各人签字确认) and one for the department head's."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from callcenter.clock import iso_z
from callcenter.qa.assessment import LINES, ZH, Assessment
from callcenter.qa.settings import Fines


@dataclass(frozen=True, slots=True)
class Month:
    month: str  # "2026-12"
    timezone: str
    start: datetime
    end: datetime
    generated_at: datetime
    rows: tuple[Assessment, ...]


def agent_json(a: Assessment) -> dict[str, Any]:
    return {
        "agent": {"id": a.agent.id, "name": a.agent.name, "work_number": a.agent.work_number},
        "evaluations": {**a.sheets, "pending": a.pending},
        "deducted": {**a.deducted, "pct": a.deducted_pct},
        "counts": dict(a.counts),
        "fines": [
            {
                "kind": f.kind,
                "zh": ZH[f.kind],
                "count": f.count,
                "yuan_each": f.yuan_each,
                "yuan": f.yuan,
                "reason": f.reason,
            }
            for f in a.fines
        ],
        "fines_yuan": a.fines_yuan,
        "callbacks_made": a.callbacks_made,
        "good_examples": a.good_examples,
        "bonus": {"yuan": a.bonus_yuan, "reason": a.bonus_reason},
    }


def _totals(rows: Sequence[Assessment]) -> dict[str, int]:
    return {
        "fines_yuan": sum(a.fines_yuan for a in rows),
        "bonus_yuan": sum(a.bonus_yuan for a in rows),
        "callbacks_made": sum(a.callbacks_made for a in rows),
        "good_examples": sum(a.good_examples for a in rows),
        "pending": sum(a.pending for a in rows),
        **{k: sum(a.counts[k] for a in rows) for k in LINES},
    }


def month_json(m: Month, fines: Fines) -> dict[str, Any]:
    return {
        "month": m.month,
        "timezone": m.timezone,
        "from": iso_z(m.start),
        "to": iso_z(m.end),
        "generated_at": iso_z(m.generated_at),
        "fines_table": {k: getattr(fines, k) for k in LINES},
        "agents": [agent_json(a) for a in m.rows],
        "totals": _totals(m.rows),
    }


# (header zh, header en, value) — one column each, the same in the CSV and on the sheet.
_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("工号", "work_number", lambda a: a.agent.work_number or ""),
    ("姓名", "agent", lambda a: a.agent.name),
    ("接报抽查(份)", "intake_checked", lambda a: a.sheets["intake"]),
    ("接报扣分", "intake_deducted", lambda a: a.deducted["intake"]),
    ("回访抽查(份)", "callback_checked", lambda a: a.sheets["callback"]),
    ("回访扣分", "callback_deducted", lambda a: a.deducted["callback"]),
    ("待确认", "pending", lambda a: a.pending),
    *((ZH[k], k, (lambda a, k=k: a.counts[k])) for k in LINES if k != "serious_after_third"),
    ("罚款(元)", "fines_yuan", lambda a: a.fines_yuan),
    ("回访量", "callbacks_made", lambda a: a.callbacks_made),
    ("闪光点", "good_examples", lambda a: a.good_examples),
    ("奖金等级(元)", "bonus_yuan", lambda a: a.bonus_yuan),
)
HEADERS_ZH = tuple(c[0] for c in _COLUMNS)
HEADERS_EN = tuple(c[1] for c in _COLUMNS)


def _detail(a: Assessment) -> str:
    return "; ".join(f"{f.kind} {f.count}×{f.yuan_each}={f.yuan}" for f in a.fines if f.count)


def to_csv(m: Month) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["month", *HEADERS_EN, "fines_detail", "bonus_reason"])
    for a in m.rows:
        w.writerow([m.month, *(c[2](a) for c in _COLUMNS), _detail(a), a.bonus_reason])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_SIGN = "各人签字确认"


def to_xlsx(m: Month, fines: Fines) -> bytes:
    """One sheet: title, the period, a header, one row per agent with a signature cell, the
    totals, each agent's fines itemised, and the department head's signature line."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = m.month
    year, mon = m.month.split("-")
    width = len(_COLUMNS) + 1
    last = get_column_letter(width)
    ws["A1"] = f"月度考核表 {year}年{mon}月"
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.merge_cells(f"A1:{last}1")
    table = "，".join(f"{ZH[k]}{getattr(fines, k)}元" for k in LINES)
    ws["A2"] = f"客服部 · 统计区间 {m.month}（{m.timezone}）· 生成于 {iso_z(m.generated_at)}"
    ws["A3"] = f"罚款标准：{table}"
    for ref in ("A2", "A3"):
        ws[ref].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(f"A2:{last}2")
    ws.merge_cells(f"A3:{last}3")
    ws.row_dimensions[3].height = 30
    header = 4
    for col, text in enumerate((*HEADERS_ZH, _SIGN), start=1):
        cell = ws.cell(header, col, text)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
        cell.border = _BOX
    ws.row_dimensions[header].height = 42
    row = header
    for a in m.rows:
        row += 1
        for col, c in enumerate(_COLUMNS, start=1):
            ws.cell(row, col, c[2](a)).border = _BOX
        ws.cell(row, width).border = _BOX  # left empty: the agent signs here
        ws.row_dimensions[row].height = 26
    row += 1
    ws.cell(row, 1, "合计").font = Font(bold=True)
    sums = _totals(m.rows)
    sums |= {
        "intake_checked": sum(a.sheets["intake"] for a in m.rows),
        "intake_deducted": sum(a.deducted["intake"] for a in m.rows),
        "callback_checked": sum(a.sheets["callback"] for a in m.rows),
        "callback_deducted": sum(a.deducted["callback"] for a in m.rows),
    }
    for col, key in enumerate(HEADERS_EN, start=1):
        cell = ws.cell(row, col, sums.get(key, ws.cell(row, col).value))
        cell.border = _BOX
        cell.font = Font(bold=True)
    ws.cell(row, width).border = _BOX
    row += 2
    ws.cell(row, 1, "罚款明细").font = Font(bold=True)
    for a in m.rows:
        if a.fines_yuan or a.bonus_yuan:
            row += 1
            items = "；".join(f"{ZH[f.kind]} {f.count}×{f.yuan_each}={f.yuan}元"
                             for f in a.fines if f.count)  # fmt: skip
            ws.cell(row, 1, a.agent.work_number or "")
            ws.cell(row, 2, a.agent.name)
            ws.cell(row, 3, f"{items or '无罚款'}。奖金 {a.bonus_yuan}元（{a.bonus_reason}）")
            ws.merge_cells(start_row=row, start_column=3, end_row=row, end_column=width)
    row += 3
    ws.cell(row, 1, "客服部长签字：")
    ws.cell(row, 9, "日期：")
    for col in (*range(3, 8), *range(10, 13)):
        ws.cell(row, col).border = Border(bottom=_THIN)
    widths = {1: 8, 2: 10, width: 16}
    for col in range(1, width + 1):
        ws.column_dimensions[get_column_letter(col)].width = widths.get(col, 7.5)
    setup = ws.page_setup
    setup.orientation = "landscape"
    setup.paperSize = ws.PAPERSIZE_A4
    setup.fitToWidth = 1
    setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{header}:{header}"
    ws.print_options.horizontalCentered = True
    footer = ws.oddFooter
    if footer is not None and footer.center is not None:
        footer.center.text = "第 &P 页 / 共 &N 页"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
