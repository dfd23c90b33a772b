"""An incident's area read against the sample address book: which flats a place covers,
which places overlap, and the places it refuses by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.incidents.model import (
    AreaError,
    address_keys,
    household,
    overlapping,
    resolve_place,
)
from callcenter.stations import service
from callcenter.stations.model import AddressBook, route

BOOK_FILE = Path(__file__).resolve().parents[2] / "config" / "stations.toml"


@pytest.fixture(scope="module")
def book() -> AddressBook:
    return service.load_for_service(BOOK_FILE, required=True)


def keys_of(book: AddressBook, typed: str):  # type: ignore[no-untyped-def]
    routing = route(book, typed)
    return address_keys(book, routing.standard, routing.station)


def test_a_community_covers_its_flats_and_no_others(book: AddressBook) -> None:
    place, stations = resolve_place(book, "community", "东兴小区")  # an alias of 东兴里
    assert place.key == "城关区东兴街东兴里" and stations == {"dongxing"}
    assert place.covers(keys_of(book, "大龙市东兴里五号楼一单元303"))
    assert not place.covers(keys_of(book, "幸福里3号楼2单元502"))


def test_a_building_covers_its_flats_only(book: AddressBook) -> None:
    place, stations = resolve_place(book, "building", "幸福里3号楼")
    assert stations == {"xingfu"}  # buildings 1-20 of 幸福里 are xingfu's
    assert place.covers(keys_of(book, "幸福里3栋2单元502"))
    assert not place.covers(keys_of(book, "幸福里30号楼1单元101"))
    _, far = resolve_place(book, "building", "幸福里30号楼")
    assert far == {"dongxing"}


def test_a_street_and_a_station_cover_what_lies_in_them(book: AddressBook) -> None:
    street, stations = resolve_place(book, "street", "幸福路")
    assert stations >= {"xingfu", "dongxing"}
    assert street.covers(keys_of(book, "幸福里3号楼2单元502"))
    station, _ = resolve_place(book, "station", "东兴")
    assert station.covers(keys_of(book, "东兴里5号楼1单元101"))


def test_places_overlap_when_one_lies_in_the_other(book: AddressBook) -> None:
    community, _ = resolve_place(book, "community", "幸福里")
    building, _ = resolve_place(book, "building", "幸福里3号楼")
    other_building, _ = resolve_place(book, "building", "幸福里4号楼")
    street, _ = resolve_place(book, "street", "幸福路")
    elsewhere, _ = resolve_place(book, "community", "东兴里")
    assert overlapping([community], [building])
    assert overlapping([building], [street])
    assert not overlapping([building], [other_building])
    assert not overlapping([elsewhere], [street])


@pytest.mark.parametrize(
    ("kind", "name", "code"),
    [
        ("community", "火星小区", "area-unmatched"),
        ("building", "东兴里5号楼1单元101", "area-too-small"),
        ("building", "东兴里", "area-unmatched"),
        ("street", "银河大道", "area-unmatched"),
        ("station", "nowhere", "area-unmatched"),
        ("community", "   ", "empty-place"),
    ],
)
def test_a_place_the_book_cannot_read_is_refused_by_name(
    book: AddressBook, kind: str, name: str, code: str
) -> None:
    with pytest.raises(AreaError) as refused:
        resolve_place(book, kind, name)  # type: ignore[arg-type]
    assert refused.value.code == code and refused.value.message


def test_a_household_is_its_flat_else_its_number() -> None:
    assert household("城关区东兴街东兴里5号楼1单元101室", "13800000001") == (
        "flat:城关区东兴街东兴里5号楼1单元101室"
    )
    assert household("城关区东兴街东兴里5号楼", "13800000001") == "phone:13800000001"
    assert household(None, None) is None
