"""The address book's file (config/stations.toml) read into an AddressBook; every error
names the station or rule (numbered from 1 in file order) and the key at fault."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from callcenter.stations.address import clean
from callcenter.stations.model import AddressBook, Rule, Station

CODE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RANGE_RE = re.compile(r"^\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?$")
_TOP_KEYS = {"drop_prefixes", "station", "rule"}
_STATION_KEYS = {"code", "name", "phone"}
_RULE_KEYS = {"station", "district", "street", "community", "aliases", "buildings"}


class AddressBookError(Exception):
    """A bad address book: `key` says where (e.g. "rule 4.station")."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _unknown(key: str, raw: dict[str, Any], known: set[str]) -> None:
    for name in raw:
        if name not in known:
            raise AddressBookError(
                f"{key}.{name}" if key else name, f"unknown key (known: {', '.join(sorted(known))})"
            )


def _text(key: str, value: Any, longest: int = 64) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise AddressBookError(key, f"must be a non-empty string of at most {longest} characters")
    return value.strip()


def _name(key: str, value: Any) -> str:
    """A place name, cleaned as addresses are, so that it compares with them."""
    name = clean(_text(key, value))
    if not name:
        raise AddressBookError(key, f"{value!r} has nothing left once cleaned like an address")
    return name


def parse_ranges(key: str, value: Any) -> tuple[tuple[int, int], ...]:
    """ "1-12, 15, 20-24" → ((1, 12), (15, 15), (20, 24))."""
    if not isinstance(value, str) or not value.strip():
        raise AddressBookError(key, 'must be building ranges like "1-12, 15, 20-24"')
    out = []
    for part in value.split(","):
        m = _RANGE_RE.match(part)
        if m is None:
            raise AddressBookError(key, f"{part.strip()!r} is not a number or a range like 1-12")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi:
            raise AddressBookError(key, f"{part.strip()!r}: the range is empty ({lo} > {hi})")
        out.append((lo, hi))
    return tuple(sorted(out))


def _station(key: str, raw: Any) -> Station:
    if not isinstance(raw, dict):
        raise AddressBookError(key, "must be a table ([[station]])")
    _unknown(key, raw, _STATION_KEYS)
    code = raw.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise AddressBookError(f"{key}.code", "required: 1-32 of a-z 0-9 _ - starting with a-z")
    return Station(
        code,
        _text(f"{key}.name", raw.get("name"), 32),
        _text(f"{key}.phone", raw.get("phone"), 32),
    )


def _rule(number: int, raw: Any, codes: set[str]) -> Rule:
    key = f"rule {number}"
    if not isinstance(raw, dict):
        raise AddressBookError(key, "must be a table ([[rule]])")
    _unknown(key, raw, _RULE_KEYS)
    station = raw.get("station")
    if station not in codes:
        raise AddressBookError(f"{key}.station", f"unknown station {station!r}")
    names = {
        k: _name(f"{key}.{k}", raw[k]) for k in ("district", "street", "community") if k in raw
    }
    if not names:
        raise AddressBookError(key, "name a community, a street or a district")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list):
        raise AddressBookError(f"{key}.aliases", "must be an array of names")
    buildings: tuple[tuple[int, int], ...] = ()
    if "buildings" in raw:
        if "community" not in names:
            raise AddressBookError(f"{key}.buildings", "building ranges need a community")
        buildings = parse_ranges(f"{key}.buildings", raw["buildings"])
    rule = Rule(
        number=number,
        station=str(station),
        district=names.get("district", ""),
        street=names.get("street", ""),
        community=names.get("community", ""),
        aliases=tuple(
            dict.fromkeys(_name(f"{key}.aliases[{i}]", a) for i, a in enumerate(aliases))
        ),
        buildings=buildings,
    )
    return rule


def book_from_toml(raw: dict[str, Any]) -> AddressBook:
    _unknown("", raw, _TOP_KEYS)
    stations_raw = raw.get("station", [])
    if not isinstance(stations_raw, list) or not stations_raw:
        raise AddressBookError("station", "list the stations as [[station]] tables")
    stations = [_station(f"station {i + 1}", s) for i, s in enumerate(stations_raw)]
    for field in ("code", "name"):
        seen: set[str] = set()
        for i, s in enumerate(stations):
            value = getattr(s, field)
            if value in seen:
                raise AddressBookError(f"station {i + 1}.{field}", f"{value!r} is used twice")
            seen.add(value)
    rules_raw = raw.get("rule", [])
    if not isinstance(rules_raw, list):
        raise AddressBookError("rule", "list the rules as [[rule]] tables")
    codes = {s.code for s in stations}
    rules = [_rule(i + 1, r, codes) for i, r in enumerate(rules_raw)]
    prefixes = raw.get("drop_prefixes", [])
    if not isinstance(prefixes, list):
        raise AddressBookError("drop_prefixes", "must be an array of names")
    cleaned = [_name(f"drop_prefixes[{i}]", p) for i, p in enumerate(prefixes)]
    # Longest first, so 大龙市 goes before 大龙.
    return AddressBook(stations, rules, sorted(cleaned, key=len, reverse=True))


def read_book(path: Path) -> AddressBook:
    """The address book in `path`; AddressBookError names what is wrong."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise AddressBookError(str(path), "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise AddressBookError(str(path), f"not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AddressBookError(str(path), f"cannot be read: {exc}") from None
    return book_from_toml(raw)
