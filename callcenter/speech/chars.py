"""From the model's timed words to the transcript's timed characters: simplified, without the
punctuation the model adds (it hears none), each character with its own span. Pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

from callcenter.speech.model import Char

Word = tuple[str, float, float]  # the model's text for a word, its start and end in seconds
# One Char each: a digit run (with its decimal point, time colon or percent sign), a Latin
# word (WiFi, OK), else any single character that is not punctuation or space.
_TOKEN = re.compile(r"[0-9]+(?:[.:][0-9]+)*%?|[A-Za-z]+(?:['’][A-Za-z]+)*|\S")


def _heard(ch: str) -> bool:
    return not ch.isspace() and not unicodedata.category(ch).startswith("P")


def heard_count(word: str) -> int:
    """The characters of a word that take time (not spaces or punctuation)."""
    return sum(1 for ch in word if _heard(ch))


def _timed(words: Iterable[Word]) -> tuple[str, list[tuple[float, float]]]:
    """The words' text and each of its characters' span. Whisper gives a span per word, and a
    word of Chinese is one token: one character, or several (情况) whose span is split
    evenly. Spaces and punctuation take no time."""
    text: list[str] = []
    spans: list[tuple[float, float]] = []
    for word, start, end in words:
        count = heard_count(word)
        step = (end - start) / count if count else 0.0
        at = start
        for ch in word:
            if _heard(ch):
                spans.append((at, at + step))
                at += step
            else:
                spans.append((at, at))
            text.append(ch)
    return "".join(text), spans


def _convert(text: str, to_simplified: Callable[[str], str]) -> list[tuple[str, int]]:
    """Each output character with the index of the input character it comes from. OpenCC
    converts whole phrases (乾燥→干燥) when the text keeps its length, as it nearly always
    does; otherwise it goes character by character so that every character keeps its time.
    NFKC then makes full-width digits and letters plain (１２→12)."""
    whole = to_simplified(text)
    if len(whole) == len(text):
        pairs = list(zip(whole, range(len(text)), strict=True))
    else:
        pairs = [(out, i) for i, ch in enumerate(text) for out in to_simplified(ch)]
    return [(out, i) for ch, i in pairs for out in unicodedata.normalize("NFKC", ch)]


def chars_from_words(
    words: Sequence[Word], to_simplified: Callable[[str], str], offset: float = 0.0
) -> list[Char]:
    """The characters heard in `words`, their times moved by `offset` (the chunk's start)."""
    raw, spans = _timed(words)
    converted = _convert(raw, to_simplified)
    text = "".join(ch for ch, _ in converted)
    origin = [i for _, i in converted]
    out: list[Char] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if len(token) == 1 and not _heard(token):
            continue
        first, last = spans[origin[match.start()]], spans[origin[match.end() - 1]]
        out.append(Char(token, round(first[0] + offset, 3), round(last[1] + offset, 3)))
    return out


def in_order(chars: Iterable[Char], duration: float) -> list[Char]:
    """The characters with times that never go back and stay inside the recording: word
    timestamps of neighbouring words overlap by a few hundredths at times."""
    out: list[Char] = []
    floor = 0.0
    for c in chars:
        start = min(max(c.start, floor), duration)
        end = min(max(c.end, start), duration)
        out.append(Char(c.text, start, end))
        floor = start
    return out


# Shorter than any character said: Mandarin runs at 4-6 characters a second.
COLLAPSED_SECONDS = 0.04
COLLAPSED_RUN = 3


def drop_collapsed(chars: Sequence[Char]) -> list[Char]:
    """The characters without a run of COLLAPSED_RUN or more given (nearly) no time, one
    after another. The model sometimes loops at a 30 s window's seam, writing the sentences
    before again with no time of their own (a 10-minute test call: 30 characters at 42.41 s):
    they were never said there, and would be found as the script said where it was not."""

    def instant(c: Char, before: Char | None) -> bool:
        close = before is None or c.start - before.end < COLLAPSED_SECONDS
        return c.end - c.start < COLLAPSED_SECONDS and close

    out: list[Char] = []
    i = 0
    while i < len(chars):
        j = i
        if instant(chars[i], None):
            while j + 1 < len(chars) and instant(chars[j + 1], chars[j]):
                j += 1
        if j + 1 - i >= COLLAPSED_RUN:
            i = j + 1
            continue
        out.append(chars[i])
        i += 1
    return out


def character_error_rate(reference: str, heard: str) -> float:
    """Edits (substitutions, insertions, deletions) to turn `heard` into `reference`, per
    reference character: the figure the benchmark and the tests report."""
    previous = list(range(len(heard) + 1))
    for i, want in enumerate(reference, 1):
        row = [i]
        for j, got in enumerate(heard, 1):
            row.append(min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (want != got)))
        previous = row
    return previous[-1] / max(1, len(reference))
