"""Addresses in one standard form (住址示例修改), pure: the same flat always compares equal.

`clean` makes text comparable (full-width to half-width, Chinese numerals before a marker to
digits, spaces and punctuation dropped); `parse` splits the building (号楼), unit (单元) and
room (室) off the place; `Address.standard` writes them back in one form:

    "大龙市城关区幸福里小区三栋二单元502"  →  "城关区幸福里3号楼2单元502室"
    "幸福里 3#楼 2-502"                    →  "幸福里3号楼2单元502室"

`normalize(normalize(x)) == normalize(x)` for any text. Naming the community in its book
form (district, street, community) is the address book's job (stations/model.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# Chinese numerals, converted only right before a marker (三号楼 → 3号楼, 十二单元 → 12单元),
# never inside a name (五里仓, 三师, 十里堡). 万 is left out on purpose: 万科 is a name.
_NUMERAL_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_NUMERAL_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMERAL = "零〇一二两三四五六七八九十百千"
_MARKERS = "号楼|号|栋|幢|座|楼|单元|门|室|户|层|期|区|排"
_NUMERAL_BEFORE_MARKER = re.compile(f"([{_NUMERAL}]+)(?={_MARKERS})")
# …and a room read out as numerals at the very end: 二单元五零二 → 2单元502.
_NUMERAL_ROOM_AT_END = re.compile(f"(?:(?<=单元)|(?<=号楼)|(?<=[栋幢座楼门层]))([{_NUMERAL}]+)$")
# "3#", "3#楼", "三#": the building sign written as a hash.
_HASH_BUILDING = re.compile(f"([0-9]+[A-Z]?|[{_NUMERAL}]+)#楼?")
# Anything but letters and digits between two digits separates numbers: "3 2 502", "3/2/502".
_DIGIT_SEPARATOR = re.compile(r"(?<=[0-9])[^0-9A-Z\u3007\u3400-\u4dbf\u4e00-\u9fff]+(?=[0-9])")
# What an address is written with: CJK ideographs, 〇, ASCII letters and digits. Everything
# else (spaces, punctuation, symbols, other scripts) is dropped.
_NOT_ADDRESS = re.compile(
    "[^0-9A-Z\\-\u3007\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef\U00030000-\U0003134f]"
)
_LONE_HYPHEN = re.compile(r"(?<![0-9])-+|-+(?![0-9])")
_HYPHENS = re.compile(r"-{2,}")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

_BUILDING_WORD = "号楼|栋|幢|座|楼"
_BUILDING_END = re.compile(f"([0-9]+[A-Z]?|[A-Z])(?:{_BUILDING_WORD})$")
_UNIT_END = re.compile(r"([0-9]+)(?:单元|门)$")
_FLOOR_END = re.compile(r"[0-9]+层$")
_FLOOR_AS_LOU_END = re.compile(r"[0-9]+楼$")
_ROOM_MARKED_END = re.compile(r"([0-9]+)(?:室|户)$")
_ROOM_BARE_END = re.compile(r"([0-9]+)号?$")
_TRIPLE_END = re.compile(r"([0-9]+)-([0-9]+)-([0-9]+)(?:室|户|号)?$")
_PAIR_END = re.compile(r"([0-9]+)-([0-9]+)(?:室|户|号)?$")
_HOUSE_NUMBER_END = re.compile(r"([0-9]+)号$")
_BARE_NUMBER_END = re.compile(r"([0-9]+)$")


def chinese_number(run: str) -> str:
    """三 → 3, 十二 → 12, 二十三 → 23, 一百零二 → 102, 五零二 → 502 (read digit by digit)."""
    if not any(c in _NUMERAL_UNITS for c in run):
        return "".join(str(_NUMERAL_DIGITS[c]) for c in run)
    total = current = 0
    for c in run:
        if c in _NUMERAL_UNITS:
            total += (current or 1) * _NUMERAL_UNITS[c]
            current = 0
        else:
            current = current * 10 + _NUMERAL_DIGITS[c] if current else _NUMERAL_DIGITS[c]
    return str(total + current)


def _ascii_digits(text: str) -> str:
    """Other scripts' decimal digits (٣, ३) as ASCII, so every number reads alike."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(c)) if not c.isascii() and unicodedata.decimal(c, None) is not None
        else c
        for c in text
    )  # fmt: skip


def clean(text: str) -> str:
    """Comparable text: half-width, upper-case ASCII, numerals before a marker as digits, a
    single hyphen only between two numbers, no spaces or punctuation."""
    s = _ascii_digits(unicodedata.normalize("NFKC", text)).translate(_ASCII_UPPER)
    s = _HASH_BUILDING.sub(r"\1号楼", s)
    s = _DIGIT_SEPARATOR.sub("-", s)
    s = _NOT_ADDRESS.sub("", s)
    s = _HYPHENS.sub("-", _LONE_HYPHEN.sub("", s))
    while "小区" in s:  # a generic word: 幸福里小区 is 幸福里
        s = s.replace("小区", "")
    # After the filter, so that what the filter removed cannot put a numeral next to a marker.
    s = _NUMERAL_BEFORE_MARKER.sub(lambda m: chinese_number(m.group(1)), s)
    s = _NUMERAL_ROOM_AT_END.sub(lambda m: chinese_number(m.group(1)), s)
    return _HYPHENS.sub("-", _LONE_HYPHEN.sub("", s))


def _number(digits: str) -> str:
    """Leading zeros dropped: 0502 → 502 (not int(): a 5,000-digit number is still text)."""
    head = digits.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    tail = digits[len(head) :]
    return (head.lstrip("0") or ("0" if head else "")) + tail


@dataclass(frozen=True, slots=True)
class Address:
    """One flat: the place (district, street, community, as written) and the building, unit
    and room, each None when not given."""

    place: str
    building: str | None = None
    unit: str | None = None
    room: str | None = None

    @property
    def standard(self) -> str:
        """The standard form: place, then N号楼, N单元, N室."""
        place = self.place
        if self.building is not None and place[-1:].isdigit():
            place += "号"  # "建新路18 3号楼": house number 18, building 3
        return (
            place
            + (f"{self.building}号楼" if self.building is not None else "")
            + (f"{self.unit}单元" if self.unit is not None else "")
            + (f"{self.room}室" if self.room is not None else "")
        )

    @property
    def building_number(self) -> int | None:
        """The building's number for range rules (3A → 3; a lettered building B → None)."""
        if self.building is None:
            return None
        digits = self.building.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return int(digits) if digits and len(digits) <= 9 else None


def _ends_with_part(text: str) -> bool:
    """Whether a bare number after `text` is a room: text ends with a building, unit or floor."""
    return bool(_BUILDING_END.search(text) or _UNIT_END.search(text) or _FLOOR_END.search(text))


def _drop_floors(s: str) -> str:
    """A floor (5层, or 5楼 after a building or unit) says nothing the room number doesn't."""
    while True:
        m = _FLOOR_END.search(s)
        if m is None:
            m = _FLOOR_AS_LOU_END.search(s)
            if m is None or not (
                _BUILDING_END.search(s[: m.start()]) or _UNIT_END.search(s[: m.start()])
            ):
                return s
        s = s[: m.start()]


def _drop_prefixes(s: str, prefixes: Sequence[str]) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if prefix and s.startswith(prefix):
                s, changed = s[len(prefix) :], True
    return s


def parse(text: str, drop_prefixes: Sequence[str] = ()) -> Address:
    """Split an address into place, building, unit and room. `drop_prefixes` are cleaned
    names (the city, the province) left off the front.

    The standard form is a fixed point: what one reading leaves in the place (a floor that
    hid a numeral's marker, a number that a dropped word kept apart) is read again from the
    standard form until nothing moves; real addresses settle in one or two readings."""
    address = _parse_once(text, drop_prefixes)
    for _ in range(_MAX_READINGS):
        again = _parse_once(address.standard, drop_prefixes)
        if again == address:
            break
        address = again
    return address


_MAX_READINGS = 8


def _parse_once(text: str, drop_prefixes: Sequence[str]) -> Address:
    s = _drop_floors(_drop_prefixes(clean(text), drop_prefixes)).rstrip("-")
    building = unit = room = None
    if m := _TRIPLE_END.search(s):  # 3-2-502: building, unit, room
        building, unit, room = m.group(1), m.group(2), m.group(3)
        s = s[: m.start()]
    elif m := _PAIR_END.search(s):
        head = s[: m.start()]
        if _UNIT_END.search(head):  # 2单元5-502: floor 5, room 502
            room = m.group(2)
        elif _BUILDING_END.search(head):  # 3号楼2-502: unit 2, room 502
            unit, room = m.group(1), m.group(2)
        else:  # 幸福里3-502: building 3, room 502
            building, room = m.group(1), m.group(2)
        s = head
    else:
        if m := _ROOM_MARKED_END.search(s):
            room, s = m.group(1), s[: m.start()]
        elif (m := _ROOM_BARE_END.search(s)) and _ends_with_part(s[: m.start()]):
            room, s = m.group(1), s[: m.start()]
    s = _drop_floors(s.rstrip("-"))
    if unit is None and building is None and (m := _UNIT_END.search(s)):
        unit, s = m.group(1), _drop_floors(s[: m.start()].rstrip("-"))
    if building is None:
        if m := _BUILDING_END.search(s):
            building, s = m.group(1), s[: m.start()]
        elif (unit or room) and (m := _HOUSE_NUMBER_END.search(s) or _BARE_NUMBER_END.search(s)):
            building, s = m.group(1), s[: m.start()]  # 幸福里3号2单元, 18-2单元
    s = s.rstrip("-")
    return Address(
        place=s,
        building=_number(building) if building is not None else None,
        unit=_number(unit) if unit is not None else None,
        room=_number(room) if room is not None else None,
    )


def normalize(text: str, drop_prefixes: Sequence[str] = ()) -> str:
    """The standard form of an address, textually (see the module docstring)."""
    return parse(text, drop_prefixes).standard
