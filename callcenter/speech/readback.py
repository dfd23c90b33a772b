"""Read-backs (跟读确认), pure: the script has the agent repeat the resident's address, name
and phone number; what the agent typed on the ticket says what should be heard. The address
is compared as normalized (stations/address.py), the name as typed or as surname + 先生/女士,
the phone number digit by digit, spoken (幺三八…, 一三八…) or written (138…) alike."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from callcenter.speech import pinyin
from callcenter.speech.model import Found, Transcript
from callcenter.speech.pinyin import DEFAULT_TOLERANCE, Heard, Hit
from callcenter.stations.address import Address, parse
from callcenter.tickets.model import normalize_phone

ReadBack = Literal["address", "name", "phone"]
# The intake sheet's read-back items (config/qa/intake.toml) and what each compares.
READ_BACK_ITEMS: dict[str, ReadBack] = {
    "read_back_address": "address",
    "read_back_name": "name",
    "read_back_phone": "phone",
}
_ITEM: dict[ReadBack, str] = {kind: key for key, kind in READ_BACK_ITEMS.items()}

TITLES = ("先生", "女士", "小姐")
COMPOUND_SURNAMES = (
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文",
    "司徒", "夏侯", "令狐", "澹台", "轩辕", "端木", "百里", "呼延", "南宫", "西门", "申屠",
)  # fmt: skip
# A number with one digit heard wrong is still the number read back (the recognizer's slip or
# the agent's: the reviewer listens); with two wrong it is another number. So a phone number
# is allowed at most one digit edit whatever the tolerance.
# A phone number read back in groups (138，0000，0001) with a word between ("嗯", "对"):
# digits at most this many units or seconds apart are one number.
DIGIT_FILLER = 2
DIGIT_PAUSE = 3.0
# What may follow the community's name in one address: 三号楼二单元五零二室 and a pause.
ADDRESS_UNITS = 24
ADDRESS_SECONDS = 10.0
_PLACE_SEGMENT = re.compile(r".*?(?:省|自治区|市|区|县|镇|乡|街道|大街|路|街|巷|胡同)|.+$")
# Digits only a phone call uses, as the numerals the address rules read (二单元, 五零二).
_LAST_WORDS = ("室", "户", "号")
_SPOKEN_DIGITS = str.maketrans({"幺": "一", "洞": "零", "拐": "七"})


def find_readbacks(
    transcript: Transcript,
    *,
    address: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[Found]:
    """Every place the ticket's address, name or phone number was heard, in the order heard
    (the resident's telling and the agent's read-back alike: the later is the read-back).
    Found.item is the intake sheet's read-back item. Nothing for a non-Mandarin transcript."""
    pinyin.max_edits(0, tolerance)
    if not transcript.mandarin:
        return []
    heard = pinyin.heard(transcript)
    out: list[Found] = []
    if phone and phone.strip():
        out += _phones(heard, phone, tolerance)
    if name and name.strip():
        out += _names(heard, name, tolerance)
    if address and address.strip():
        out += _addresses(heard, address, tolerance)
    return sorted(out, key=lambda f: (f.start, f.item))


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    first: int  # units [first, last) of the Heard
    last: int
    phrase: str  # what was listened for
    missing: tuple[str, ...] = ()
    parts: int = 1


def _best(heard: Heard, kind: ReadBack, candidates: list[_Candidate]) -> list[Found]:
    """The best of overlapping candidates (highest score, then longest) as Founds."""
    taken: list[_Candidate] = []
    for c in sorted(candidates, key=lambda c: (-c.score, c.first - c.last, c.first)):
        if all(c.last <= t.first or t.last <= c.first for t in taken):
            taken.append(c)
    out = []
    for c in taken:
        start, end = heard.span(c.first, c.last)
        out.append(
            Found(
                item=_ITEM[kind],
                phrase=c.phrase,
                heard=heard.text(c.first, c.last),
                start=round(start, 3),
                end=round(end, 3),
                confidence=round(c.score, 3),
                how="readback",
                clauses=c.parts,
                missing=c.missing,
            )
        )
    return out


# -- the phone number -------------------------------------------------------------------


def phone_forms(phone: str) -> list[str]:
    """The digits to listen for: the number, and a landline's local part (said without the
    area code by a resident of the same town)."""
    digits = normalize_phone(phone) or "".join(
        c for c in unicodedata.normalize("NFKC", phone) if c.isascii() and c.isdigit()
    )
    forms = [digits] if len(digits) >= 5 else []
    if digits.startswith("0") and len(digits) >= 10:
        forms.append(digits[3 if digits[1] in "12" else 4 :])  # 010 / 02x, else 0xxx
    return forms


def _digit_runs(heard: Heard) -> list[list[int]]:
    """The digits heard, as the indices of their units, grouped into numbers."""
    runs: list[list[int]] = []
    run: list[int] = []
    for i, unit in enumerate(heard.units):
        if unit.digit is None:
            continue
        if run and (
            i - run[-1] - 1 > DIGIT_FILLER or heard.starts[i] - heard.ends[run[-1]] > DIGIT_PAUSE
        ):
            runs.append(run)
            run = []
        run.append(i)
    return [*runs, run] if run else runs


def _phones(heard: Heard, phone: str, tolerance: float) -> list[Found]:
    forms = phone_forms(phone)
    if not forms:
        return []
    found: list[_Candidate] = []
    for run in _digit_runs(heard):
        digits = [heard.units[i] for i in run]
        for form in forms:
            pattern = pinyin.units(form)
            for hit in pinyin.search(pattern, digits, min(tolerance, 1 / len(pattern))):
                # Digits are digits, not homophones: confidence is the share of them right.
                score = 1.0 - hit.edits / len(pattern)
                found.append(_Candidate(score, run[hit.first], run[hit.last - 1] + 1, forms[0]))
    return _best(heard, "phone", found)


# -- the name -------------------------------------------------------------------------------


def name_forms(name: str) -> list[str]:
    """How the agent reads a name back: as typed with its title (张女士), or the full name
    and the surname with each title (张秀英, 张先生, 张女士, 张小姐)."""
    clean = re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", name))
    if not clean or clean.isascii() or any(clean.endswith(t) for t in TITLES):
        return [clean] if clean else []
    surname = next((s for s in COMPOUND_SURNAMES if clean.startswith(s)), clean[:1])
    full = [clean] if len(clean) > len(surname) else []
    return full + [surname + t for t in TITLES]


def _names(heard: Heard, name: str, tolerance: float) -> list[Found]:
    found: list[_Candidate] = []
    for form in name_forms(name):
        # Every reading of a name's characters: surnames are read their own way (单 shan).
        for hit in pinyin.search(pinyin.units(form, contextual=False), heard.units, tolerance):
            found.append(_Candidate(hit.score, hit.first, hit.last, form))
    return _best(heard, "name", found)


# -- the address ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Part:
    field: Literal["place", "building", "unit", "room"]
    value: str
    said: str  # as the reviewer reads it: 3号楼


def _parts(address: Address, rest: str) -> list[_Part]:
    """The parts that must follow the community's name: a house number left in the place
    (建新路18号), the building, unit and room."""
    parts = [_Part("place", address.place, rest)] if rest else []
    for field, value, word in (
        ("building", address.building, "号楼"),
        ("unit", address.unit, "单元"),
        ("room", address.room, "室"),
    ):
        if value is not None:
            parts.append(_Part(field, value, value + word))  # type: ignore[arg-type]
    return parts


def _anchor(place: str) -> tuple[str, int] | None:
    """The place's last named segment (幸福里 of 城关区幸福路幸福里) and where it ends:
    residents and agents say the community, seldom the district and road before it."""
    end = 0
    segments: list[tuple[str, int]] = []
    for m in _PLACE_SEGMENT.finditer(place):
        if m.group(0):
            end = m.end()
            segments.append((m.group(0), end))
    for text, at in reversed(segments):
        if sum(1 for u in pinyin.units(text) if u.digit is None) >= 2:
            return text, at
    return None


def _addresses(heard: Heard, address: str, tolerance: float) -> list[Found]:
    expected = parse(address)
    anchor = _anchor(expected.place)
    if anchor is None:
        return []
    text, at = anchor
    parts = _parts(expected, expected.place[at:])
    found: list[_Candidate] = []
    for hit in pinyin.search(pinyin.units(text), heard.units, tolerance):
        length, matched = _best_tail(heard, hit, expected.place[:at], parts)
        if parts and not matched:
            continue  # the community named, nothing of the flat: not a read-back
        found.append(
            _Candidate(
                score=(hit.score + len(matched)) / (1 + len(parts)),
                first=hit.first,
                last=hit.last + length,
                phrase=expected.standard,
                missing=tuple(p.said for p in parts if p not in matched),
                parts=1 + len(parts),
            )
        )
    return _best(heard, "address", found)


def _best_tail(heard: Heard, hit: Hit, place: str, parts: list[_Part]) -> tuple[int, list[_Part]]:
    """How many units after the community's name make the address that agrees with the
    ticket on most parts (then the fewest units), read as the address rules read it."""
    best: tuple[int, list[_Part]] = (0, [])
    said = ""
    pause_from = heard.ends[hit.last - 1]
    for length in range(1, ADDRESS_UNITS + 1):
        j = hit.last + length - 1
        if j >= len(heard.units) or heard.starts[j] - pause_from > ADDRESS_SECONDS:
            break
        said += heard.units[j].text.translate(_SPOKEN_DIGITS)
        candidate = parse(place + said)
        matched = [p for p in parts if getattr(candidate, p.field) == p.value]
        if len(matched) > len(best[1]):
            best = (length, matched)
    end = hit.last + best[0]
    if best[1] and end < len(heard.units) and heard.units[end].text in _LAST_WORDS:
        return best[0] + 1, best[1]  # 502室: the room's word belongs to what was read back
    return best
