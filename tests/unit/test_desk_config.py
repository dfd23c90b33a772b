"""[desk] holidays: the announced dates of the holiday openings; bad values named by key."""

from __future__ import annotations

from datetime import date

import pytest

from callcenter.config import ConfigError, Holiday, parse_settings

SPRING = {"from": "2027-02-10", "to": "2027-02-17", "opening": "新年好"}


def test_no_holidays_by_default() -> None:
    assert parse_settings({}).desk.holidays == ()


def test_holidays_as_strings_or_toml_dates() -> None:
    labour = {"from": date(2027, 5, 1), "to": date(2027, 5, 5), "opening": "劳动节快乐"}
    desk = parse_settings({"desk": {"holidays": [SPRING, labour]}}).desk
    assert desk.holidays == (
        Holiday(date(2027, 2, 10), date(2027, 2, 17), "新年好"),
        Holiday(date(2027, 5, 1), date(2027, 5, 5), "劳动节快乐"),
    )


@pytest.mark.parametrize(
    ("holidays", "key"),
    [
        ("新年好", "desk.holidays"),
        ([["2027-02-10"]], "desk.holidays[0]"),
        ([{**SPRING, "from": "2027-02-30"}], "desk.holidays[0].from"),
        ([{**SPRING, "to": "next week"}], "desk.holidays[0].to"),
        ([{**SPRING, "to": "2027-02-01"}], "desk.holidays[0].to"),
        ([{"from": "2027-02-10", "to": "2027-02-17"}], "desk.holidays[0].opening"),
        ([{**SPRING, "opening": ""}], "desk.holidays[0].opening"),
        ([{**SPRING, "greeting": "新年好"}], "desk.holidays[0].greeting"),
        ([SPRING, {**SPRING, "from": "2027-02-17", "to": "2027-02-18"}], "desk.holidays[1].from"),
    ],
)
def test_bad_holidays_name_the_key(holidays: object, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"desk": {"holidays": holidays}})
    assert caught.value.key == key


def test_an_unknown_desk_key_is_named() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"desk": {"holiday": []}})
    assert caught.value.key == "desk.holiday"
