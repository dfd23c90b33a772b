"""The first and last words of each of Whisper's segments, put back where they were said.

The model's word times are contiguous across a pause: the first word after a pause often
starts where the word before the pause ended, and the last word before one may end where
the next utterance begins. On a call spliced with a 2 s pause, 甚 (甚至出现…) was given
5.08–6.04 s, at the tail of the sentence before, while it was said at ~8.0 s. A segment
starts and ends at an utterance's edges, so its first word is the sound just before its
second word, and its last word the sound just after the word before it: a stretched edge
word is moved onto the last (first) run of sound between them. The characters inside a
segment are left to audio.trim_to_sound."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from callcenter.speech.audio import LONG_CHAR, Samples, loudness, sound_runs
from callcenter.speech.chars import Word, heard_count

_FPS = 50  # frames per second of audio.loudness


def place_edges(segments: Sequence[Sequence[Word]], audio: Samples) -> list[Word]:
    """The segments' words, in the chunk's own time (as the model gave them), with each
    segment's stretched first and last words moved onto their sound."""
    found = loudness(audio)
    out: list[Word] = []
    for segment in segments:
        words = list(segment)
        if found is not None and len(words) >= 2:
            level, quiet = found
            loud = level > quiet
            words[0] = _first(words[0], words[1][1], loud)
            words[-1] = _last(words[-2][2], words[-1], loud)
        out += words
    return out


def _stretched(word: Word, span: float) -> bool:
    return span > LONG_CHAR * max(1, heard_count(word[0]))


Runs = list[tuple[int, int]]


def _runs(loud: npt.NDArray[np.bool_], start: float, end: float) -> tuple[int, Runs]:
    first = max(0, int(start * _FPS))
    last = min(len(loud), int(np.ceil(end * _FPS)))
    return first, sound_runs(loud[first:last]) if last > first else []


def _first(word: Word, next_start: float, loud: npt.NDArray[np.bool_]) -> Word:
    """The segment's first word is the last sound before the second word."""
    text, start, _ = word
    if not _stretched(word, next_start - start):
        return word
    first, runs = _runs(loud, start, next_start)
    if not runs:
        return word
    s, e = runs[-1]
    moved = (first + s) / _FPS
    return text, moved, max(moved, min(next_start, (first + e) / _FPS))


def _last(previous_end: float, word: Word, loud: npt.NDArray[np.bool_]) -> Word:
    """The segment's last word is the first sound after the word before it."""
    text, _, end = word
    if not _stretched(word, end - previous_end):
        return word
    first, runs = _runs(loud, previous_end, end)
    if not runs:
        return word
    s, e = runs[0]
    moved = max(previous_end, (first + s) / _FPS)
    return text, moved, max(moved, (first + e) / _FPS)
