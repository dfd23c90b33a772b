"""How Mandarin text sounds, for phrase spotting, pure: text as units (a character, a digit, a
Latin word) with the toneless pinyin each can be read as, and the two searches over them —
the same characters, or the same sounds within a number of syllable edits. pypinyin (the
extra `callcenter[speech]`) is imported on first use, so this module imports without it."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from callcenter.speech.model import Transcript

# Digits as spoken: 幺 for 1 and 拐 for 7 (told apart from 一 and 七 on the phone), 洞 for 0,
# 两 for 2. The recognizer writes either these or Arabic digits, so both compare as digits.
DIGIT_WORDS = {
    "零": "0", "〇": "0", "洞": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3",
    "四": "4", "五": "5", "六": "6", "七": "7", "拐": "7", "八": "8", "九": "9",
}  # fmt: skip
# …and a digit sounds like its readings: 1 heard as 衣 or 要 is a homophone, as for words.
_DIGIT_SOUNDS = {
    "0": ("ling", "dong"), "1": ("yi", "yao"), "2": ("er", "liang"), "3": ("san",),
    "4": ("si",), "5": ("wu",), "6": ("liu",), "7": ("qi", "guai"), "8": ("ba",),
    "9": ("jiu",),
}  # fmt: skip
# A digit also "sounds" like itself, so 一 and 1 and 幺 meet whatever their syllables.
_DIGIT_KEY = "#"
# Without a syllable wrong, a homophone is still not the characters: the reviewer should
# know the difference, so a pinyin match is worth at most this much.
PINYIN_CONFIDENCE = 0.9
# speech.pinyin_tolerance: syllable edits allowed per syllable listened for. At 0.2 a clause
# of five syllables may have one wrong (请问您怎么城府), one of four none: short clauses are
# common words, and a looser match finds them in ordinary talk.
DEFAULT_TOLERANCE = 0.2


@dataclass(frozen=True, slots=True)
class Unit:
    """One thing heard or written: `exact` is the comparable form (digits for numerals,
    lower-case Latin), `sounds` the toneless syllables it may be read as."""

    text: str
    exact: str
    sounds: frozenset[str]

    @property
    def digit(self) -> str | None:
        return self.exact if len(self.exact) == 1 and self.exact.isdigit() else None


@dataclass(frozen=True, slots=True)
class Heard:
    """A transcript as units with their times; a Char holding several units (a digit run
    "138") shares its time out evenly among them."""

    units: tuple[Unit, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]

    def text(self, first: int, last: int) -> str:
        return "".join(u.text for u in self.units[first:last])

    def span(self, first: int, last: int) -> tuple[float, float]:
        return self.starts[first], self.ends[last - 1]


@dataclass(frozen=True, slots=True)
class Hit:
    """Units [first, last) of a Heard matching a pattern with `edits` syllable edits."""

    first: int
    last: int
    edits: int
    exact: bool
    score: float


@lru_cache(maxsize=65536)
def _readings(char: str) -> frozenset[str]:
    """Every toneless reading of one character (heteronyms: 重 is zhong and chong)."""
    from pypinyin import Style, pinyin

    return frozenset(pinyin(char, style=Style.NORMAL, heteronym=True, errors="default")[0])


def _contextual(run: str) -> list[str] | None:
    """The reading of each character of `run` in its words (重庆 chong, 重要 zhong); None
    when pypinyin lumps characters it cannot read together (then each is read alone)."""
    from pypinyin import Style, lazy_pinyin

    out = lazy_pinyin(run, style=Style.NORMAL, errors="default")
    return out if len(out) == len(run) else None


def _pieces(text: str) -> Iterator[str]:
    """The units' texts: each ideograph, each digit, each Latin word; no spaces or marks."""
    word = ""
    for c in unicodedata.normalize("NFKC", text):
        if c.isascii() and c.isalpha():
            word += c
            continue
        if word:
            yield word
            word = ""
        decimal = unicodedata.decimal(c, None)
        if decimal is not None:
            yield str(decimal)
        elif c.isalnum():
            yield c
    if word:
        yield word


def _unit(piece: str, reading: str | None) -> Unit:
    if piece.isascii() and piece.isdigit():
        return Unit(piece, piece, frozenset((_DIGIT_KEY + piece, *_DIGIT_SOUNDS[piece])))
    if piece.isascii():
        return Unit(piece, piece.lower(), frozenset((piece.lower(),)))
    sounds = frozenset((reading,)) if reading is not None else _readings(piece)
    digit = DIGIT_WORDS.get(piece)
    if digit is not None:
        return Unit(piece, digit, sounds | {_DIGIT_KEY + digit})
    return Unit(piece, piece, sounds)


def units(text: str, *, contextual: bool = True) -> list[Unit]:
    """What a phrase sounds like. `contextual`: each character as read in its words (the
    script's own reading); otherwise every reading it has (a name's 单 is dan or shan)."""
    pieces = list(_pieces(text))
    readings: list[str | None] = [None] * len(pieces)
    if contextual:
        run = "".join(p for p in pieces if len(p) == 1 and not p.isascii())
        read = _contextual(run) if run else None
        if read is not None:
            it = iter(read)
            readings = [next(it) if len(p) == 1 and not p.isascii() else None for p in pieces]
    return [_unit(p, r) for p, r in zip(pieces, readings, strict=True)]


def heard(transcript: Transcript) -> Heard:
    """A transcript's units with times; characters are read every way they can be, since
    the recognizer chose each one for its sound alone."""
    out: list[Unit] = []
    starts: list[float] = []
    ends: list[float] = []
    for char in transcript.chars:
        pieces = list(_pieces(char.text))
        step = (char.end - char.start) / len(pieces) if pieces else 0.0
        for i, piece in enumerate(pieces):
            out.append(_unit(piece, None))
            starts.append(char.start + i * step)
            ends.append(char.start + (i + 1) * step)
    return Heard(tuple(out), tuple(starts), tuple(ends))


def max_edits(length: int, tolerance: float) -> int:
    """The syllable edits allowed in a pattern of `length` units (5 units at 0.2: one)."""
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance must be from 0 up to 1, got {tolerance}")
    return int(length * tolerance + 1e-9)


def exact(pattern: Sequence[Unit], text: Sequence[Unit]) -> list[tuple[int, int]]:
    """Where the pattern's characters are, as [first, last) of `text`, left to right."""
    want = [u.exact for u in pattern]
    have = [u.exact for u in text]
    m, out, j = len(want), [], 0
    if m == 0:
        return []
    while j + m <= len(have):
        if have[j] == want[0] and have[j : j + m] == want:
            out.append((j, j + m))
            j += m
        else:
            j += 1
    return out


def approximate(pattern: Sequence[Unit], text: Sequence[Unit], edits: int) -> list[Hit]:
    """Where the pattern's sounds are within `edits` syllable insertions, deletions and
    substitutions (two units match when they share a reading), non-overlapping, the fewest
    edits first. Sellers' dynamic programme: any start in `text` is free."""
    m = len(pattern)
    if m == 0 or edits >= m:
        return []
    masks: dict[str, int] = {}
    for i, u in enumerate(pattern):
        for s in u.sounds:
            masks[s] = masks.get(s, 0) | (1 << i)
    cost = list(range(m + 1))
    begin = [0] * (m + 1)
    found: list[tuple[int, int, int]] = []
    for t, unit in enumerate(text, start=1):
        eq = 0
        for s in unit.sounds:
            eq |= masks.get(s, 0)
        diag_cost, diag_begin = cost[0], begin[0]
        cost[0], begin[0] = 0, t
        for i in range(1, m + 1):
            up_cost, up_begin = cost[i], begin[i]
            c, b = (diag_cost if eq >> (i - 1) & 1 else diag_cost + 1), diag_begin
            if up_cost + 1 < c:
                c, b = up_cost + 1, up_begin
            if cost[i - 1] + 1 < c:
                c, b = cost[i - 1] + 1, begin[i - 1]
            diag_cost, diag_begin = up_cost, up_begin
            cost[i], begin[i] = c, b
        if cost[m] <= edits:
            found.append((cost[m], begin[m], t))
    # Each true match shows as a few neighbouring ends; keep the fewest edits, then the
    # length nearest the pattern's.
    found.sort(key=lambda f: (f[0], abs(f[2] - f[1] - m), f[1]))
    taken: list[Hit] = []
    for e, first, last in found:
        if all(last <= h.first or h.last <= first for h in taken):
            score = PINYIN_CONFIDENCE * (1.0 - e / m)
            taken.append(Hit(first, last, e, False, score))
    return sorted(taken, key=lambda h: h.first)


def search(pattern: Sequence[Unit], text: Sequence[Unit], tolerance: float) -> list[Hit]:
    """The same characters (score 1), else the same sounds within the tolerance (score
    below PINYIN_CONFIDENCE by the edits), left to right, non-overlapping."""
    hits = [Hit(a, b, 0, True, 1.0) for a, b in exact(pattern, text)]
    for h in approximate(pattern, text, max_edits(len(pattern), tolerance)):
        if all(h.last <= e.first or e.last <= h.first for e in hits):
            hits.append(h)
    return sorted(hits, key=lambda h: h.first)
