"""[reports]: the season's first day (every year, or one date) and the archive hour; a bad
value stops start-up naming its key."""

from __future__ import annotations

from datetime import date

import pytest

from callcenter.config import parse_settings
from callcenter.errors import ConfigError
from callcenter.reports.settings import ReportsSettings, parse_reports


def test_a_season_past_new_year_began_the_year_before() -> None:
    every_year = ReportsSettings(season_start="11-15")
    assert every_year.season_of(date(2026, 11, 15)) == date(2026, 11, 15)
    assert every_year.season_of(date(2027, 1, 10)) == date(2026, 11, 15)
    assert every_year.season_of(date(2026, 11, 14)) == date(2025, 11, 15)
    assert ReportsSettings(season_start="2026-10-20").season_of(date(2027, 3, 1)) == date(
        2026, 10, 20
    )


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"season_start": "15-11"}, "reports.season_start"),
        ({"season_start": "2026-13-01"}, "reports.season_start"),
        ({"season_start": 1115}, "reports.season_start"),
        ({"season_start": "02-29"}, "reports.season_start"),  # most years have no such day
        ({"archive_hour": 24}, "reports.archive_hour"),
        ({"archive_hour": True}, "reports.archive_hour"),
        ({"archive_day": 1}, "reports.archive_day"),
    ],
)
def test_a_bad_value_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"reports": raw})
    assert err.value.key == key


def test_the_defaults_and_the_shipped_file_agree() -> None:
    assert parse_reports({"season_start": "10-01"}).season_start == "10-01"
    assert parse_settings({}).reports == ReportsSettings()
