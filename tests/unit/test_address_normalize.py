"""Addresses in one standard form (住址示例修改): the same flat always compares equal, and the
standard form is its own standard form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.stations.address import Address, chinese_number, clean, normalize, parse

CITY = ("大龙市",)


@pytest.mark.parametrize(
    "variants",
    [
        [
            "幸福里3号楼2单元502室",
            "幸福里三号楼二单元五零二",
            "幸福里小区3栋2单元502",
            "幸福里３幢２单元５０２室",
            "幸福里 3# 2-502",
            "幸福里3-2-502",
            "幸福里 3 2 502",
            "幸福里3号楼2门502户",
            "幸福里3座2单元0502号",
            "大龙市幸福里3号楼2单元5楼502",
            "幸福里3号楼，2单元，502。",
            "幸福里三号楼二单元五百零二室",
        ],
        ["幸福里12号楼12单元102室", "幸福里十二号楼十二单元一百零二", "幸福里十二栋12-102"],
        ["建新路18号3号楼", "建新路18 3号楼", "建新路十八号三号楼"],
        ["五里仓2期5号楼", "五里仓小区二期五号楼", "五里仓小区 2期 5栋"],
        ["万科城B号楼1单元201室", "万科城B座1单元201", "万科城b座1单元201室"],
    ],
)
def test_known_variants_of_one_flat_compare_equal(variants: list[str]) -> None:
    assert len({normalize(v, CITY) for v in variants}) == 1, {
        v: normalize(v, CITY) for v in variants
    }


@pytest.mark.parametrize(
    ("typed", "standard"),
    [
        ("大龙市城关区幸福里小区三栋二单元502", "城关区幸福里3号楼2单元502室"),
        ("幸福里 3#楼 2-502", "幸福里3号楼2单元502室"),
        ("幸福里3号楼5层", "幸福里3号楼"),
        ("建新路18号", "建新路18号"),
        ("建新路18号院3号楼", "建新路18号院3号楼"),
        ("五里仓小区", "五里仓"),
        ("三师大院三号楼", "三师大院3号楼"),
        ("", ""),
    ],
)
def test_standard_form(typed: str, standard: str) -> None:
    assert normalize(typed, CITY) == standard


def test_names_with_numerals_keep_them() -> None:
    # Only a numeral before a marker (号 楼 栋 单元 室 …) is a number; 五里仓 and 三师 are names.
    assert normalize("五里仓") == "五里仓"
    assert normalize("三师大院") == "三师大院"
    assert normalize("万科城十号楼") == "万科城10号楼"


def test_unit_and_room_are_split_out() -> None:
    assert parse("幸福里三栋二单元502", CITY) == Address("幸福里", "3", "2", "502")
    assert parse("幸福里3号楼", CITY) == Address("幸福里", "3", None, None)
    assert parse("建新路18号", CITY) == Address("建新路18号", None, None, None)


@pytest.mark.parametrize(
    ("run", "digits"),
    [("三", "3"), ("十", "10"), ("十二", "12"), ("二十", "20"), ("二十三", "23"),
     ("一百零二", "102"), ("五零二", "502"), ("二〇一", "201"), ("两", "2")],
)  # fmt: skip
def test_chinese_numerals(run: str, digits: str) -> None:
    assert chinese_number(run) == digits


def test_clean_drops_spaces_punctuation_and_full_width() -> None:
    assert clean("ＡＢ　幸福里（东门）、３") == "AB幸福里东门3"


# -- properties ----------------------------------------------------------------------------

_PIECES = [
    *"0123456789-# 号楼栋幢座单元门室户层期区排小一二三十百零〇两AB幸福里路院/,，、()（）３＃",
    "号楼", "单元", "小区", "十二", "五零二", "大龙市", "\u3000", "\t",
]  # fmt: skip
address_like = st.lists(st.sampled_from(_PIECES) | st.text(max_size=2), max_size=25).map("".join)


@settings(max_examples=3000)
@given(st.text(max_size=40) | address_like)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text, CITY)
    assert normalize(once, CITY) == once


@settings(max_examples=1000)
@given(st.text(max_size=40) | address_like)
def test_standard_form_has_no_space_or_punctuation(text: str) -> None:
    standard = normalize(text, CITY)
    assert not any(c.isspace() for c in standard)
    assert not set(standard) & set("，。、,.;:!?()（）#＃/")


def _chinese(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + digits[rest] if rest < 10 else _chinese(rest))
    if 10 <= rest < 20:
        tail = "一" + tail
    return digits[n // 100] + "百" + tail


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "0" <= c <= "9" else c for c in text)


@st.composite
def flat_written_two_ways(draw: st.DrawFn) -> tuple[str, str]:
    """One flat (community, building, unit, room) written as residents and agents write it."""
    community = draw(st.sampled_from(["幸福里", "宏城花园", "澜西园", "万科城", "义宾里"]))
    building = draw(st.integers(1, 99))
    unit = draw(st.integers(1, 12))
    room = draw(st.integers(101, 2804))

    def written() -> str:
        number = draw(st.sampled_from(["arabic", "chinese", "full"]))

        read_out = draw(st.booleans())  # 五零二 rather than 五百零二

        def n(value: int) -> str:
            if number == "arabic":
                return str(value)
            if number == "full":
                return _full_width(str(value))
            if read_out or value >= 1000:
                return "".join("零一二三四五六七八九"[int(d)] for d in str(value))
            return _chinese(value)

        style = draw(st.sampled_from(["marked", "hyphens", "spaces"]))
        city = draw(st.sampled_from(["", "大龙市", "大龙市 "]))
        compound = draw(st.sampled_from(["", "小区", " 小区 "]))
        if style == "hyphens":
            room_text = _full_width(str(room)) if number == "full" else str(room)
            b = _full_width(str(building)) if number == "full" else str(building)
            u = _full_width(str(unit)) if number == "full" else str(unit)
            sep = draw(st.sampled_from(["-", "－", "—"]))
            return f"{city}{community}{compound}{b}{sep}{u}{sep}{room_text}"
        if style == "spaces":
            return f"{city}{community}{compound} {building} {unit} {room}"
        b_word = draw(st.sampled_from(["号楼", "栋", "幢", "座", "#", "#楼", "楼"]))
        u_word = draw(st.sampled_from(["单元", "门"]))
        r_word = draw(st.sampled_from(["", "室", "户", "号"]))
        gap = draw(st.sampled_from(["", " ", "，", "、"]))
        flat = f"{n(building)}{b_word}{gap}{n(unit)}{u_word}{gap}{n(room)}{r_word}"
        return f"{city}{community}{compound}{flat}"

    return written(), written()


@settings(max_examples=1000)
@given(flat_written_two_ways())
def test_one_flat_written_two_ways_compares_equal(pair: tuple[str, str]) -> None:
    first, second = pair
    assert normalize(first, CITY) == normalize(second, CITY)
