"""[reports]: the daily report form (日报表) and its archive.

    [reports]
    season_start = "11-15"   # the heating season's first day: "MM-DD" every year, or a date
    archive_hour = 1         # local hour the service archives yesterday's daily report

Cumulative figures (累计报修, 累计维修) run from the season's first day. "11-15" is 15
November, when the city's heating starts; a season running past New Year began the year
before (a report for 2027-01-10 counts from 2026-11-15).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from callcenter.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ReportsSettings:
    season_start: str = "11-15"
    archive_hour: int = 1

    def season_of(self, day: date) -> date:
        """The first day of the heating season `day` belongs to."""
        return season_start_for(self.season_start, day)


def season_start_for(text: str, day: date) -> date:
    if len(text) == 10:
        return date.fromisoformat(text)
    month, dom = int(text[:2]), int(text[3:5])
    this_year = date(day.year, month, dom)
    return this_year if this_year <= day else date(day.year - 1, month, dom)


def _season_text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, 'must be "MM-DD" or a date "YYYY-MM-DD"')
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        elif len(value) == 5 and value[2] == "-" and value[:2].isdigit() and value[3:].isdigit():
            # 2001: not a leap year, so "02-29" (a day most years lack) is refused
            date(2001, int(value[:2]), int(value[3:]))
        else:
            raise ValueError(value)
    except ValueError:
        raise ConfigError(key, f'must be "MM-DD" or a date "YYYY-MM-DD", got {value!r}') from None
    return value


def parse_reports(raw: Any) -> ReportsSettings:
    if not isinstance(raw, dict):
        raise ConfigError("reports", "must be a table")
    known = {f.name for f in fields(ReportsSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"reports.{name}"
        if name not in known:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(known))})")
        if name == "season_start":
            values[name] = _season_text(key, value)
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
            raise ConfigError(key, f"must be an hour 0-23, got {value!r}")
        else:
            values[name] = value
    return ReportsSettings(**values)
