"""Phrase spotting on hand-made transcripts: the script found where it was said, by its
characters or its sound, clause by clause; the read-backs against the ticket; nothing found
in talk that does not contain them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pypinyin", reason="the extra callcenter[speech] is not installed")

from callcenter.config import Holiday
from callcenter.qa.checklists import load
from callcenter.speech.model import Char, Found, Transcript
from callcenter.speech.pinyin import DIGIT_WORDS, units
from callcenter.speech.spotting import (
    clauses,
    evidence,
    expected_phrases,
    find_phrases,
    find_readbacks,
)

SHEETS = load(Path(__file__).resolve().parents[2] / "config" / "qa")
INTAKE, CALLBACK = SHEETS["intake"], SHEETS["callback"]
OPENING = "您好，大龙供暖报修007为您服务，请问您有什么问题"
NEW_YEAR = (Holiday(date(2027, 2, 10), date(2027, 2, 17), "新年好"),)
ORDINARY_DAY, NEW_YEARS_DAY = date(2026, 12, 1), date(2027, 2, 12)
STEP, PAUSE = 0.3, 1.2
ADDRESS = "城关区幸福路幸福里3号楼2单元502室"


def said(*parts: str | Iterable[str], lang: str = "zh") -> Transcript:
    """Characters STEP seconds apart, each lasting 0.25 s, parts PAUSE apart. A part given
    as a list holds the Chars as the recognizer wrote them (a digit run "138" is one)."""
    chars: list[Char] = []
    t = 0.0
    for part in parts:
        for text in part:
            chars.append(Char(text, round(t, 3), round(t + 0.25, 3)))
            t += STEP
        t += PAUSE
    text = "".join(c.text for c in chars)
    return Transcript(text, tuple(chars), lang, 0.98, t, "hand-made", "0" * 64)


def at(transcript: Transcript, piece: str) -> tuple[float, float]:
    """The start of `piece`'s first character and the end of its last, in the transcript."""
    first = transcript.text.index(piece)
    offsets = [0]
    for c in transcript.chars:
        offsets.append(offsets[-1] + len(c.text))
    i = offsets.index(first)
    j = next(k for k, o in enumerate(offsets) if o >= first + len(piece))
    return transcript.chars[i].start, transcript.chars[j - 1].end


def only(found: list[Found], item: str) -> Found:
    hits = [f for f in found if f.item == item]
    assert len(hits) == 1, hits
    return hits[0]


# -- scripted phrases ---------------------------------------------------------------------


def test_exact_phrase_found_at_its_seconds() -> None:
    t = said("喂", "您好大龙供暖报修007为您服务请问您有什么问题", "我家暖气不热")
    f = only(find_phrases(t, {"opening": [OPENING]}), "opening")
    assert (f.start, f.end) == at(t, "您好大龙供暖报修007为您服务请问您有什么问题")
    assert f.heard == "您好大龙供暖报修007为您服务请问您有什么问题"
    assert (f.confidence, f.how, f.clauses, f.missing) == (1.0, "exact", 3, ())


def test_homophone_found_by_pinyin_with_lower_confidence() -> None:
    t = said("我家的暖气循环停止了", "好的")
    f = only(find_phrases(t, {"x": ["暖气循环停滞了"]}), "x")
    assert f.heard == "暖气循环停止了"
    assert f.how == "pinyin"
    assert 0.5 < f.confidence < 1.0
    assert (f.start, f.end) == at(t, "暖气循环停止了")


def test_near_homophone_within_the_tolerance_is_found() -> None:
    t = said("好的", "请问您怎么城府", "我姓张")
    f = only(find_phrases(t, {"ask_name": ["请问您怎么称呼"]}), "ask_name")
    assert (f.heard, f.how) == ("请问您怎么城府", "pinyin")
    exact = only(find_phrases(said("请问您怎么称呼"), {"ask_name": ["请问您怎么称呼"]}), "ask_name")
    assert f.confidence < exact.confidence == 1.0


def test_no_tolerance_finds_no_changed_syllable() -> None:
    t = said("请问您怎么城府")
    assert find_phrases(t, {"ask_name": ["请问您怎么称呼"]}, tolerance=0.0) == []


def test_tolerance_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        find_phrases(said("您好"), {"x": ["您好"]}, tolerance=1.5)


def test_missing_clause_lowers_the_confidence_and_is_named() -> None:
    t = said("您好", "大龙供暖报修007为您服务", "嗯我家暖气漏水了")
    f = only(find_phrases(t, {"opening": [OPENING]}), "opening")
    assert f.confidence == pytest.approx(2 / 3, abs=0.001)
    assert f.missing == ("请问您有什么问题",)
    assert (f.start, f.end) == (at(t, "您好")[0], at(t, "为您服务")[1])


def test_clauses_far_apart_are_not_one_phrase() -> None:
    t = said("大龙供暖报修007为您服务", *["嗯"] * 6, "请问您有什么问题")
    found = find_phrases(t, {"opening": [OPENING]})
    assert [f.heard for f in found] == ["大龙供暖报修007为您服务", "请问您有什么问题"]


def test_one_syllable_clause_is_not_listened_for() -> None:
    assert clauses("好！维修人员会尽快跟您联系。感谢您的来电。再见！") == [
        "维修人员会尽快跟您联系",
        "感谢您的来电",
        "再见",
    ]


UNRELATED = (
    "您好",
    "我是幸福里的住户我家暖气从昨天开始就不热了",
    "有问题一直没人管麻烦你们派人来看看",
    "好的谢谢你再见",
)


def test_unrelated_talk_yields_no_phrase() -> None:
    phrases = {**expected_phrases(INTAKE, on=ORDINARY_DAY, work_number="007")}
    phrases |= {f"cb_{k}": v for k, v in expected_phrases(CALLBACK, on=ORDINARY_DAY).items()}
    assert find_phrases(said(*UNRELATED), phrases) == []


def test_a_short_clause_alone_is_no_evidence() -> None:
    closing = expected_phrases(INTAKE, on=ORDINARY_DAY)["closing"]
    assert find_phrases(said("好的", "再见"), {"closing": closing}) == []


def test_phrase_said_twice_is_found_twice() -> None:
    t = said("请问您怎么称呼", "喂喂听得见吗", "请问您怎么称呼")
    found = find_phrases(t, {"ask_name": ["请问您怎么称呼"]})
    second = t.chars[len("请问您怎么称呼喂喂听得见吗")]
    assert [(f.start, f.confidence) for f in found] == [(0.0, 1.0), (second.start, 1.0)]


def test_non_mandarin_transcript_is_not_matched() -> None:
    t = said("您好大龙供暖报修007为您服务请问您有什么问题", lang="es")
    assert find_phrases(t, {"opening": [OPENING]}) == []
    assert find_readbacks(t, phone="13800000001", name="张女士", address=ADDRESS) == []


def test_work_number_fills_the_opening() -> None:
    phrases = expected_phrases(INTAKE, on=ORDINARY_DAY, work_number="007")["opening"]
    assert phrases == [OPENING, "您好，大龙供暖报修007号为您服务，请问您有什么问题"]
    t = said("您好大龙供暖报修007号为您服务请问您有什么问题")
    f = only(find_phrases(t, {"opening": phrases}), "opening")
    assert (f.confidence, f.phrase) == (1.0, phrases[1])


def test_work_number_spoken_as_numerals_is_exact() -> None:
    t = said("您好大龙供暖报修洞洞拐为您服务请问您有什么问题")
    f = only(find_phrases(t, {"opening": [OPENING]}), "opening")
    assert (f.confidence, f.how) == (1.0, "exact")


def test_another_work_number_is_not_exact() -> None:
    t = said("您好大龙供暖报修012为您服务请问您有什么问题")
    f = only(find_phrases(t, {"opening": [OPENING]}), "opening")
    assert f.how == "pinyin" and f.confidence < 1.0


def test_unfilled_placeholder_splits_the_phrase() -> None:
    phrase = expected_phrases(INTAKE, on=ORDINARY_DAY)["opening"]
    assert phrase == ["您好，大龙供暖报修{工号}为您服务，请问您有什么问题"]
    f = only(
        find_phrases(said("您好大龙供暖报修零零七为您服务请问您有什么问题"), {"o": phrase}), "o"
    )
    assert (f.confidence, f.clauses) == (1.0, 4)


def test_hotline_placeholder_filled_from_placeholders() -> None:
    phrase = expected_phrases(CALLBACK, on=ORDINARY_DAY, placeholders={"热线": "96811"})
    assert "请您随时拨打96811" in phrase["closing"][0]


def test_holiday_greeting_counts_on_a_holiday() -> None:
    t = said("新年好", "大龙供暖报修007为您服务", "请问您有什么问题")
    holiday = expected_phrases(INTAKE, on=NEW_YEARS_DAY, holidays=NEW_YEAR, work_number="007")
    f = only(find_phrases(t, {"opening": holiday["opening"]}), "opening")
    assert (f.confidence, f.missing) == (1.0, ())
    assert f.heard.startswith("新年好")


def test_holiday_greeting_does_not_count_on_an_ordinary_day() -> None:
    t = said("新年好", "大龙供暖报修007为您服务", "请问您有什么问题")
    ordinary = expected_phrases(INTAKE, on=ORDINARY_DAY, holidays=NEW_YEAR, work_number="007")
    f = only(find_phrases(t, {"opening": ordinary["opening"]}), "opening")
    assert f.missing == ("您好",)
    assert f.confidence == pytest.approx(2 / 3, abs=0.001)


# -- read-backs ---------------------------------------------------------------------------

PHONE = "13800000001"


@pytest.mark.parametrize(
    "spoken",
    [
        ["幺三八零零零零零零零一"],
        ["一三八零零零零零零零一"],
        ["幺三八", "零零零零", "零零零一"],  # in groups, with pauses
        ["幺三八", "嗯", "零零零零", "对", "零零零一"],  # …and a word between
        [["138", "0000", "0001"]],  # Arabic digit runs, one Char each
        [["13800000001"]],
    ],
)
def test_phone_read_back_found_however_spoken(spoken: list[str | list[str]]) -> None:
    t = said("好的", *spoken, "对吗")
    f = only(find_readbacks(t, phone=PHONE), "read_back_phone")
    assert (f.how, f.confidence, f.phrase) == ("readback", 1.0, PHONE)
    assert f.start == t.chars[2].start
    assert f.end == t.chars[-3].end


def test_phone_with_one_digit_wrong_is_found_less_sure() -> None:
    f = only(find_readbacks(said("幺三八零零零零零零零二"), phone=PHONE), "read_back_phone")
    assert f.confidence == pytest.approx(10 / 11, abs=0.001)


def test_another_phone_number_is_not_a_read_back() -> None:
    assert find_readbacks(said("幺三九幺二三四五六七八"), phone=PHONE) == []


def test_landline_read_back_without_its_area_code() -> None:
    f = only(find_readbacks(said("五二幺零幺零幺零"), phone="031652101010"), "read_back_phone")
    assert (f.confidence, f.heard) == (1.0, "五二幺零幺零幺零")


def test_numbers_that_are_not_together_are_not_one_phone() -> None:
    t = said("幺三八", "我家住三楼", "零零零零零零零一")
    assert find_readbacks(t, phone=PHONE) == []


@pytest.mark.parametrize("heard", ["张女士", "张先生", "张秀英"])
def test_name_read_back_as_surname_with_title_or_in_full(heard: str) -> None:
    t = said("好的", heard, "您的电话")
    f = only(find_readbacks(t, name="张秀英"), "read_back_name")
    assert (f.heard, f.phrase, f.confidence) == (heard, heard, 1.0)
    assert (f.start, f.end) == at(t, heard)


def test_name_homophone_found_less_sure() -> None:
    f = only(find_readbacks(said("章女士"), name="张秀英"), "read_back_name")
    assert f.phrase == "张女士" and 0.5 < f.confidence < 1.0


def test_surname_alone_is_not_a_name_read_back() -> None:
    assert find_readbacks(said("我家在张庄住"), name="张秀英") == []


def test_compound_surname_keeps_both_characters() -> None:
    f = only(find_readbacks(said("欧阳先生"), name="欧阳娜娜"), "read_back_name")
    assert f.heard == "欧阳先生"


@pytest.mark.parametrize(
    "heard",
    ["幸福里小区三栋二单元五零二", "幸福里三号楼二单元五百零二室", "幸福里3号楼2单元502室"],
)
def test_address_read_back_in_its_spoken_form(heard: str) -> None:
    t = said("好的", heard, "对吧")
    f = only(find_readbacks(t, address=ADDRESS), "read_back_address")
    assert (f.heard, f.phrase, f.confidence, f.missing) == (heard, ADDRESS, 1.0, ())
    assert (f.start, f.end) == at(t, heard)


def test_address_with_another_room_names_the_room_missing() -> None:
    f = only(find_readbacks(said("幸福里三栋二单元五零三"), address=ADDRESS), "read_back_address")
    assert f.missing == ("502室",)
    assert f.confidence == pytest.approx(3 / 4)


def test_community_named_without_the_flat_is_not_a_read_back() -> None:
    assert find_readbacks(said("我是幸福里的住户"), address=ADDRESS) == []


# -- evidence per checklist item ------------------------------------------------------------

CALL = said(
    "您好大龙供暖报修007号为您服务请问您有什么问题",
    "我家暖气不热了",
    "请问您怎么城府",
    "我姓张",
    "张女士",
    "您住哪里",
    "幸福里三栋二单元五零二",
    "幸福里三栋二单元五零二",
    "好的维修人员会尽快跟您联系感谢您的来电",
)


def test_evidence_for_each_item_listened_for() -> None:
    found = evidence(
        INTAKE, CALL, on=ORDINARY_DAY, work_number="007", address=ADDRESS, name="张秀英",
        phone=PHONE,
    )  # fmt: skip
    assert set(found) == {
        "opening", "ask_name", "ask_phone", "closing",
        "read_back_address", "read_back_name", "read_back_phone",
    }  # fmt: skip
    assert found["ask_phone"] is None and found["read_back_phone"] is None  # not said
    opening, closing = found["opening"], found["closing"]
    assert opening is not None and opening.confidence == 1.0
    assert closing is not None and closing.missing == ("再见",)
    ask_name = found["ask_name"]
    assert ask_name is not None and ask_name.how == "pinyin"


def test_evidence_prefers_the_later_of_equal_read_backs() -> None:
    found = evidence(INTAKE, CALL, on=ORDINARY_DAY, address=ADDRESS)
    first, second = find_readbacks(CALL, address=ADDRESS)
    assert found["read_back_address"] == second and second.start > first.start


def test_evidence_skips_read_backs_with_nothing_typed() -> None:
    found = evidence(INTAKE, CALL, on=ORDINARY_DAY)
    assert not any(key.startswith("read_back") for key in found)


def test_evidence_on_the_callback_sheet() -> None:
    t = said(
        "您好我们是供暖报修平台对您家报修的处理情况进行回访您现在方便吗", "方便", "问题解决了吗"
    )
    found = evidence(CALLBACK, t, on=ORDINARY_DAY)
    assert set(found) == {i.key for i in CALLBACK.items}
    assert [k for k, v in found.items() if v is not None] == ["opening", "solved"]


# -- properties ---------------------------------------------------------------------------

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
SCRIPT = sorted(
    {
        phrase
        for sheet in (INTAKE, CALLBACK)
        for phrases in expected_phrases(
            sheet, on=ORDINARY_DAY, work_number="007", placeholders={"热线": "96811"}
        ).values()
        for phrase in phrases
    }
)


def sounds(text: str) -> set[str]:
    """Every syllable `text` can be read as, in its words or alone."""
    return {s for ctx in (True, False) for u in units(text, contextual=ctx) for s in u.sounds}


# Characters sharing no reading with anything listened for: the script, the name's forms
# (张 with each title), the address and the phone's digits.
LISTENED = sounds("".join(SCRIPT) + "张秀英先生女士小姐" + ADDRESS + "0123456789")
SILENT = [
    chr(c)
    for c in range(0x4E00, 0x9FA6)
    if chr(c) not in DIGIT_WORDS and not sounds(chr(c)) & LISTENED
]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(SCRIPT), st.text(CJK, max_size=80), st.text(CJK, max_size=80))
def test_phrase_embedded_in_any_talk_is_found_where_said(
    phrase: str, before: str, after: str
) -> None:
    spoken = "".join(clauses(phrase))  # as heard: no punctuation, 好！ unheard
    t = said(before + spoken + after)
    start = t.chars[len(before)].start
    end = t.chars[len(before) + len(spoken) - 1].end
    found = find_phrases(t, {"item": [phrase]})
    assert any((f.start, f.end, f.confidence, f.how) == (start, end, 1.0, "exact") for f in found)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(SILENT), max_size=300).map("".join))
def test_talk_sharing_no_syllable_never_yields_a_hit(text: str) -> None:
    assert len(SILENT) > 1000  # the property is not vacuous
    t = said(text)
    assert find_phrases(t, {"item": SCRIPT}) == []
    assert find_readbacks(t, address=ADDRESS, name="张秀英", phone=PHONE) == []
