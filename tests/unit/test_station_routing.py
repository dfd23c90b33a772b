"""The address book: the sample's 17 stations, routing an address to its station (never by
guess), and the check that finds overlapping and unused rules."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.stations.model import AddressBook, check, route
from callcenter.stations.store import AddressBookError, book_from_toml, read_book

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "stations.toml"
# The stations of the daily report form (日报表), in its order.
FORM = (
    "宏城 裕龙 万科 马坡 建新 五里仓 西辛 滨河 龙府 东兴 幸福 裕祥 义宾 怡馨 澜西园 三师 金宝"
).split()


@pytest.fixture(scope="module")
def book() -> AddressBook:
    return read_book(SAMPLE)


def small(text: str) -> AddressBook:
    return book_from_toml(tomllib.loads(text))


STATIONS = """
[[station]]
code = "a"
name = "甲站"
phone = "1"
[[station]]
code = "b"
name = "乙站"
phone = "2"
"""


def test_sample_has_the_17_stations_of_the_daily_report_in_order(book: AddressBook) -> None:
    assert [s.name for s in book.stations] == FORM
    assert len({s.code for s in book.stations}) == 17
    assert all(s.phone for s in book.stations)


def test_sample_book_has_no_problems(book: AddressBook) -> None:
    assert check(book) == []


@pytest.mark.parametrize(
    ("typed", "standard", "station"),
    [
        ("大龙市城关区幸福里小区三栋二单元502", "城关区幸福路幸福里3号楼2单元502室", "xingfu"),
        ("幸福里25号楼1单元101", "城关区幸福路幸福里25号楼1单元101室", "dongxing"),
        ("宏城小区3号楼", "城关区宏城路宏城花园3号楼", "hongcheng"),
        ("五里仓3号楼", "城关区五里仓路五里仓3号楼", "wulicang"),
        ("五里仓路18号", "城关区五里仓路18号", "wulicang"),
        ("万科城32号楼", "开发区龙府大街万科城32号楼", "yuxiang"),
        ("万科城3号楼", "开发区龙府大街万科城3号楼", "wanke"),
        ("马坡镇西街村12号", "马坡镇西街村12号", "mapo"),
        ("澜西园二区5号楼", "河西区澜西路澜西园2区5号楼", "lanxiyuan"),
        ("三师家属院3号楼", "城关区府前街三师大院3号楼", "sanshi"),
    ],
)
def test_the_matching_rule_proposes_the_station_and_the_standard_form(
    book: AddressBook, typed: str, standard: str, station: str
) -> None:
    routing = route(book, typed)
    assert (routing.standard, routing.status, routing.station) == (standard, "matched", station)


def test_an_address_no_rule_names_is_flagged_not_routed(book: AddressBook) -> None:
    routing = route(book, "火星路1号")
    assert routing.status == "unmatched" and routing.station is None
    assert routing.reason == "no rule names this address"


def test_a_building_outside_every_range_is_flagged(book: AddressBook) -> None:
    routing = route(book, "万科城99号楼")
    assert routing.status == "unmatched" and routing.station is None
    assert "building 99" in routing.reason


def test_a_community_split_by_building_needs_the_building(book: AddressBook) -> None:
    routing = route(book, "幸福里")
    assert routing.status == "ambiguous" and routing.station is None
    assert set(routing.candidates) == {"xingfu", "dongxing"}


def test_two_places_named_apart_are_ambiguous(book: AddressBook) -> None:
    routing = route(book, "幸福里对面龙府花园3号楼")
    assert routing.status == "ambiguous" and routing.station is None


def test_an_address_naming_another_district_is_not_routed(book: AddressBook) -> None:
    routing = route(book, "开发区幸福里3号楼")
    assert routing.status == "unmatched" and routing.station is None


def test_one_community_name_in_two_districts_needs_the_district() -> None:
    b = small(
        STATIONS
        + """
[[rule]]
station = "a"
district = "东区"
community = "幸福里"
[[rule]]
station = "b"
district = "西区"
community = "幸福里"
"""
    )
    assert route(b, "幸福里3号楼").status == "ambiguous"
    assert route(b, "西区幸福里3号楼").station == "b"
    assert route(b, "东区幸福里3号楼").station == "a"


def test_check_reports_overlapping_rules() -> None:
    b = small(
        STATIONS
        + """
[[rule]]
station = "a"
community = "幸福里"
buildings = "1-20"
[[rule]]
station = "b"
community = "幸福里小区"
buildings = "15-30"
"""
    )
    (problem,) = check(b)
    assert problem.kind == "overlap" and problem.rules == (1, 2)
    assert "15-20" in problem.message
    assert route(b, "幸福里16号楼").status == "ambiguous"
    assert route(b, "幸福里10号楼").station == "a"


def test_a_range_and_the_rest_of_a_community_do_not_overlap() -> None:
    b = small(
        STATIONS
        + """
[[rule]]
station = "a"
community = "幸福里"
[[rule]]
station = "b"
community = "幸福里"
buildings = "21-36"
"""
    )
    assert check(b) == []
    assert route(b, "幸福里25号楼").station == "b"
    assert route(b, "幸福里3号楼").station == "a"
    assert route(b, "幸福里").station == "a"


def test_check_reports_unreachable_rules_and_stations_with_no_rule() -> None:
    b = small(
        STATIONS
        + """
[[rule]]
station = "a"
community = "幸福里"
[[rule]]
station = "a"
street = "幸福里"
[[rule]]
station = "a"
community = "和平里3号楼"
"""
    )
    kinds = sorted((p.kind, p.rules[:1]) for p in check(b))
    assert kinds == [("no-rule", ()), ("unreachable", (2,)), ("unreachable", (3,))]
    messages = "\n".join(p.message for p in check(b))
    assert "station b (乙站) has no rule" in messages


@pytest.mark.parametrize(
    ("rule", "key"),
    [
        ('station = "zz"\ncommunity = "x"', "rule 1.station"),
        ('station = "a"', "rule 1"),
        ('station = "a"\nstreet = "x路"\nbuildings = "1-3"', "rule 1.buildings"),
        ('station = "a"\ncommunity = "x"\nbuildings = "9-3"', "rule 1.buildings"),
        ('station = "a"\ncommunity = "x"\nbuildings = "one"', "rule 1.buildings"),
        ('station = "a"\ncommunity = "x"\nflats = 3', "rule 1.flats"),
        ('station = "a"\ncommunity = "，。"', "rule 1.community"),
    ],
)
def test_a_broken_rule_is_refused_naming_the_key(rule: str, key: str) -> None:
    with pytest.raises(AddressBookError) as caught:
        small(STATIONS + "[[rule]]\n" + rule + "\n")
    assert caught.value.key == key


def test_a_station_code_used_twice_is_refused() -> None:
    with pytest.raises(AddressBookError) as caught:
        small(STATIONS.replace('code = "b"', 'code = "a"'))
    assert caught.value.key == "station 2.code"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AddressBookError, match="no such file"):
        read_book(tmp_path / "stations.toml")


# -- the book's standard form is stable too ------------------------------------------------


def _pieces(book: AddressBook) -> list[str]:
    names = {n for r in book.rules for n in (*r.names, r.district, r.street) if n}
    return [*sorted(names), "大龙市", "小区", "3号楼", "二单元", "502", " ", "东门", "二十一栋"]


@settings(max_examples=1500)
@given(st.data())
def test_routing_the_standard_form_again_changes_nothing(
    book: AddressBook, data: st.DataObject
) -> None:
    pieces = data.draw(st.lists(st.sampled_from(_pieces(book)) | st.text(max_size=3), max_size=7))
    first = route(book, "".join(pieces))
    again = route(book, first.standard)
    assert again.standard == first.standard
    assert (again.status, again.station) == (first.status, first.station)
    if first.status != "matched":
        assert first.station is None  # never routed by guess
