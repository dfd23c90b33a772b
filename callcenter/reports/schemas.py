"""A report as JSON, and the form's labels (zh-CN as on the department's sheet, English)
shared by the CSV, the XLSX and the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from callcenter.clock import iso_z
from callcenter.reports.model import FORM_CATEGORIES, Report, StationRow

# The form's first line, in its order (xx月xx日供暖报修报表).
SUMMARY_LABELS: tuple[tuple[str, str, str], ...] = (
    ("repair_reports", "报修量", "repair reports"),
    ("consultations", "咨询量", "consultations"),
    ("repaired", "已维修", "repaired"),
    ("called_back", "已回访", "called back"),
)
CATEGORY_LABELS = {
    "not_hot": ("报修不热", "not hot"),
    "ice_cold": ("报修冰凉", "ice cold"),
    "temperature_check": ("要求测温", "temperature check"),
    "leak": ("报修漏水", "leak"),
}
# The station table's columns, in the form's order.
STATION_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cumulative_reports", "累计报修", "cumulative reports"),
    ("cumulative_repairs", "累计维修", "cumulative repairs"),
    ("unfinished", "未完成", "unfinished"),
    ("reports", "今日报修", "reports"),
    ("repairs", "今日维修", "repairs"),
)


def station_json(r: StationRow) -> dict[str, Any]:
    return {
        "code": r.code or None,
        "name": r.name,
        **{k: getattr(r, k) for k, *_ in STATION_COLUMNS},
    }


def report_json(report: Report, complete: bool) -> dict[str, Any]:
    p, s, h = report.period, report.summary, report.hotline
    return {
        "kind": p.kind,
        "period": p.key,
        "first_day": p.first.isoformat(),
        "last_day": (p.end - timedelta(days=1)).isoformat(),
        "season_start": p.season.isoformat(),
        "timezone": report.timezone,
        "complete": complete,
        "generated_at": iso_z(report.generated_at),
        "summary": {
            **{k: getattr(s, k) for k, *_ in SUMMARY_LABELS},
            "categories": {k: s.categories.get(k, 0) for k in FORM_CATEGORIES},
        },
        "stations": [station_json(r) for r in report.stations],
        "total": station_json(report.total),
        "hotline": {
            "calls": dict(h.calls),
            "violations": dict(h.violations),
            "anomalies": dict(h.anomalies),
            "callbacks": {
                "owed": h.callbacks_owed,
                "made_in_time": h.callbacks_made_in_time,
                "rate": h.callback_rate,
            },
        },
    }
