"""A report as CSV (one cell per figure, labelled) and as the department's printable sheet
(XLSX, one A4 page, portrait): the form's first line, its station table with the total row,
then the hotline's own figures. Both read the same Report the JSON does.

And the days of a range as CSV, one row per day, streamed: a season is 150 days, each built
from the query layer, and nothing waits for the whole file."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from callcenter.reports.model import FORM_CATEGORIES, Report, StationRow
from callcenter.reports.schemas import CATEGORY_LABELS, STATION_COLUMNS, SUMMARY_LABELS

TITLES = {"daily": "供暖报修报表", "weekly": "供暖报修周报", "monthly": "供暖报修月报",
          "season": "供暖季报修汇总"}  # fmt: skip
PERIOD_WORDS = {"daily": "今日", "weekly": "本周", "monthly": "本月", "season": "本季"}
CALL_FIGURES = (
    ("offered", "来电量"),
    ("answered", "接听量"),
    ("answered_within_limit", "三声内接听"),
    ("abandoned", "放弃"),
    ("within_limit_rate", "三声内接听率"),
)


def station_headers(kind: str) -> list[str]:
    """累计报修 … 今日报修: the period's word in place of 今日 for longer reports."""
    return [zh.replace("今日", PERIOD_WORDS[kind]) for _, zh, _ in STATION_COLUMNS]


def _station_cells(r: StationRow) -> list[int]:
    return [getattr(r, k) for k, *_ in STATION_COLUMNS]


def summary_cells(report: Report) -> list[tuple[str, str, Any]]:
    """(key, label, value) of every figure outside the station table, in print order."""
    s, h = report.summary, report.hotline
    out: list[tuple[str, str, Any]] = [(k, zh, getattr(s, k)) for k, zh, _ in SUMMARY_LABELS]
    out += [(f"category.{k}", CATEGORY_LABELS[k][0], s.categories.get(k, 0))
            for k in FORM_CATEGORIES]  # fmt: skip
    out += [(f"calls.{k}", zh, h.calls.get(k)) for k, zh in CALL_FIGURES]
    out += [(f"violations.{k}", k, n) for k, n in h.violations.items()]
    out += [(f"anomalies.{k}", k, n) for k, n in h.anomalies.items()]
    out += [
        ("callbacks.owed", "应回访", h.callbacks_owed),
        ("callbacks.made_in_time", "按时回访", h.callbacks_made_in_time),
        ("callbacks.rate", "回访率", h.callback_rate),
    ]
    return out


def to_csv(report: Report) -> bytes:
    """Two blocks: `figure,label,value` for the first line and the hotline's figures, then
    the station table with its total row. UTF-8 with a BOM: Excel opens it in Chinese."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["period", report.period.key, "timezone", report.timezone])
    w.writerow(["figure", "label", "value"])
    for key, label, value in summary_cells(report):
        w.writerow([key, label, "" if value is None else value])
    w.writerow([])
    w.writerow(["station", "维修站", *(k for k, *_ in STATION_COLUMNS)])
    for r in (*report.stations, report.total):
        w.writerow([r.code or "", r.name, *_station_cells(r)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


DAY_COLUMNS = [k for k, _, _ in SUMMARY_LABELS] + [f"category.{k}" for k in FORM_CATEGORIES]


DAY_CALLS = ("offered", "answered", "answered_within_limit", "abandoned")


def days_csv_header() -> bytes:
    return ("\ufeff" + _line(["day", *DAY_COLUMNS, *(f"calls.{k}" for k in DAY_CALLS)])).encode()


def day_csv_row(report: Report) -> bytes:
    s, calls = report.summary, report.hotline.calls
    cells: list[Any] = [report.period.key, *(getattr(s, k) for k, _, _ in SUMMARY_LABELS)]
    cells += [s.categories.get(k, 0) for k in FORM_CATEGORIES]
    cells += [calls.get(k) for k in DAY_CALLS]
    return _line(cells).encode()


def _line(cells: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _boxed(ws: Any, row: int, col: int, value: Any, bold: bool = False) -> None:
    cell = ws.cell(row, col, value)
    cell.border = _BOX
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    if bold:
        cell.font = Font(bold=True)


def to_xlsx(report: Report) -> bytes:
    """The form as the department prints it: title, date line, the first line's eight
    figures, the station table (17 stations, 总计), the hotline's figures, a signature line."""
    p = report.period
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = p.key.replace("/", "-")
    width = 6
    last = get_column_letter(width)
    first = p.first
    ws["A1"] = (
        f"{first.month}月{first.day}日{TITLES[p.kind]}"
        if p.kind == "daily"
        else (f"{p.key} {TITLES[p.kind]}")
    )
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.merge_cells(f"A1:{last}1")
    ws["A2"] = (
        f"{first.year}年{first.month}月{first.day}日供暖报修数据统计"
        if p.kind == "daily"
        else f"统计区间 {p.first.isoformat()} 至 {(p.end - timedelta(days=1)).isoformat()}"
    )
    ws["A2"].alignment = Alignment(horizontal="center")
    ws.merge_cells(f"A2:{last}2")
    s = report.summary
    first_line = [(zh, getattr(s, k)) for k, zh, _ in SUMMARY_LABELS]
    first_line += [(CATEGORY_LABELS[k][0], s.categories.get(k, 0)) for k in FORM_CATEGORIES]
    row = 3
    for half in (first_line[:4], first_line[4:]):
        for col, (label, _) in enumerate(half, start=1):
            _boxed(ws, row, col, label, bold=True)
        for col, (_, value) in enumerate(half, start=1):
            _boxed(ws, row + 1, col, value)
        row += 2
    row += 1
    for col, text in enumerate(["维修站", *station_headers(p.kind)], start=1):
        _boxed(ws, row, col, text, bold=True)
    for r in report.stations:
        row += 1
        for col, value in enumerate([r.name, *_station_cells(r)], start=1):
            _boxed(ws, row, col, value)
    row += 1
    for col, value in enumerate(["总计", *_station_cells(report.total)], start=1):
        _boxed(ws, row, col, value, bold=True)
    row += 2
    h = report.hotline
    calls = [f"{zh} {h.calls.get(k)}" for k, zh in CALL_FIGURES if h.calls.get(k) is not None]
    lines = [
        "话务：" + "，".join(calls),
        "违规：" + "，".join(f"{k} {n}" for k, n in h.violations.items()),
        "异常事件：" + ("，".join(f"{k} {n}" for k, n in h.anomalies.items() if n) or "无"),
        f"回访：应回访 {h.callbacks_owed}，按时回访 {h.callbacks_made_in_time}"
        + (f"，回访率 {h.callback_rate:.0%}" if h.callback_rate is not None else ""),
    ]
    for text in lines:
        ws.cell(row, 1, text).alignment = Alignment(wrap_text=True, vertical="top")
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        ws.row_dimensions[row].height = 30
        row += 1
    row += 1
    ws.cell(row, 1, "统计人签字：")
    ws.cell(row, 4, "审核：")
    for col in (2, 3, 5, 6):
        ws.cell(row, col).border = Border(bottom=_THIN)
    for col in range(1, width + 1):
        ws.column_dimensions[get_column_letter(col)].width = 14
    setup = ws.page_setup
    setup.orientation = "portrait"
    setup.paperSize = ws.PAPERSIZE_A4
    setup.fitToWidth = 1
    setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
