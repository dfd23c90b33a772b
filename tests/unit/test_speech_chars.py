"""The model's timed words become the transcript's timed characters: simplified, no
punctuation, a word of several characters split over its span; long audio is cut into
chunks at quiet moments. Pure: no model here (tests/speech/ runs the real one)."""

from __future__ import annotations

import numpy as np
import pytest

from callcenter.speech.audio import SAMPLE_RATE, chunks, trim_to_sound
from callcenter.speech.chars import character_error_rate, chars_from_words, drop_collapsed, in_order
from callcenter.speech.edges import place_edges
from callcenter.speech.model import Char

T2S = {"線": "线", "處": "处", "於": "于", "乾": "干"}


def to_simplified(text: str) -> str:
    return "".join(T2S.get(ch, ch) for ch in text)


def test_a_word_of_two_characters_splits_its_span_evenly() -> None:
    chars = chars_from_words([("的", 2.86, 3.04), ("情况", 3.04, 3.5)], to_simplified)
    assert chars == [Char("的", 2.86, 3.04), Char("情", 3.04, 3.27), Char("况", 3.27, 3.5)]


def test_traditional_characters_come_out_simplified_with_their_times() -> None:
    chars = chars_from_words([("一二線", 0.0, 0.9), ("處於", 1.0, 1.4)], to_simplified)
    assert "".join(c.text for c in chars) == "一二线处于"
    assert [c.start for c in chars] == [0.0, 0.3, 0.6, 1.0, 1.2]


def test_punctuation_the_model_adds_is_dropped_and_takes_no_time() -> None:
    chars = chars_from_words([("您好,", 0.0, 0.4), ("再见。", 0.5, 0.9), ("!", 0.9, 1.0)], str)
    assert [(c.text, c.start, c.end) for c in chars] == [
        ("您", 0.0, 0.2),
        ("好", 0.2, 0.4),
        ("再", 0.5, 0.7),
        ("见", 0.7, 0.9),
    ]


def test_a_digit_run_and_a_latin_word_are_one_char_each() -> None:
    words = [("电话", 0.0, 0.4), ("138", 0.4, 1.0), ("0000", 1.0, 1.6), (" WiFi", 1.7, 2.0)]
    chars = chars_from_words(words, str)
    assert [c.text for c in chars] == ["电", "话", "1380000", "WiFi"]
    assert (chars[2].start, chars[2].end) == (0.4, 1.6)


def test_full_width_digits_become_plain_and_a_hyphen_splits_a_number() -> None:
    chars = chars_from_words([("１２-5%", 0.0, 1.0)], str)
    assert [c.text for c in chars] == ["12", "5%"]


def test_the_chunk_offset_moves_every_time() -> None:
    chars = chars_from_words([("好", 0.5, 0.7)], str, offset=300.0)
    assert chars == [Char("好", 300.5, 300.7)]


def test_in_order_never_goes_back_and_stays_inside_the_recording() -> None:
    chars = in_order([Char("甲", 1.0, 1.5), Char("乙", 0.9, 1.2), Char("丙", 4.8, 5.6)], 5.0)
    assert [(c.start, c.end) for c in chars] == [(1.0, 1.5), (1.0, 1.2), (4.8, 5.0)]


@pytest.mark.parametrize(
    ("reference", "heard", "rate"),
    [("城市", "城市", 0.0), ("一二线城市", "一二线尝试", 0.4), ("停滞", "", 1.0), ("", "好", 1.0)],
)
def test_character_error_rate(reference: str, heard: str, rate: float) -> None:
    assert character_error_rate(reference, heard) == pytest.approx(rate)


def tone(seconds: float, quiet_at: float) -> np.ndarray:
    """A loud tone with one 0.3 s silence at `quiet_at`."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    audio = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    start = int(quiet_at * SAMPLE_RATE)
    audio[start : start + int(0.3 * SAMPLE_RATE)] = 0
    return audio


def test_chunks_cut_in_the_quiet_and_lose_no_sample() -> None:
    audio = tone(100.0, quiet_at=56.0)
    blocks = iter(np.array_split(audio, 37))
    got = list(chunks(blocks, chunk_seconds=60))
    assert got[0][0] == 0.0
    assert 56.0 <= got[1][0] <= 56.3  # cut inside the silence, not at 60 s
    assert sum(len(a) for _, a in got) == len(audio)
    assert np.array_equal(np.concatenate([a for _, a in got]), audio)


def test_chunks_stay_near_their_size_whatever_the_length() -> None:
    blocks = (np.zeros(30 * SAMPLE_RATE, dtype=np.float32) for _ in range(40))  # 20 minutes
    got = list(chunks(blocks, chunk_seconds=120))
    assert all(len(a) <= 120 * SAMPLE_RATE for _, a in got)
    assert sum(len(a) for _, a in got) == 40 * 30 * SAMPLE_RATE
    offsets = [o for o, _ in got]
    assert offsets == sorted(offsets)


def with_pause(*parts: tuple[float, float]) -> np.ndarray:
    """(seconds, amplitude) pieces: a tone where amplitude > 0, digital silence elsewhere."""
    out = []
    for seconds, amplitude in parts:
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        out.append((amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    return np.concatenate(out)


def test_a_character_that_took_in_a_pause_is_pulled_back_to_its_sound() -> None:
    # 1 s of speech, 2 s of pause, 0.5 s of speech: 好 ends late, 再 starts early.
    audio = with_pause((1.0, 0.5), (2.0, 0.0), (0.5, 0.5))
    chars = [Char("您", 10.0, 10.6), Char("好", 10.6, 12.0), Char("再", 12.0, 13.4)]
    got = trim_to_sound(chars, audio, offset=10.0)
    assert got[0] == chars[0]  # short: left alone
    assert (got[1].start, got[1].end) == (10.6, 11.0)
    assert (got[2].start, got[2].end) == (13.0, 13.4)


def test_a_span_holding_the_last_words_tail_keeps_its_own_sound() -> None:
    audio = with_pause((0.2, 0.5), (1.0, 0.0), (0.4, 0.5))
    got = trim_to_sound([Char("一", 0.0, 1.6)], audio, offset=0.0)
    assert (got[0].start, got[0].end) == (1.2, 1.6)


def test_a_noisy_line_leaves_the_times_alone() -> None:
    rng = np.random.default_rng(1)
    audio = (0.3 * rng.standard_normal(3 * SAMPLE_RATE)).astype(np.float32)
    chars = [Char("好", 0.2, 2.0)]
    assert trim_to_sound(chars, audio, offset=0.0) == chars


def test_a_segments_first_word_given_the_sentence_befores_tail_moves_onto_its_sound() -> None:
    # The call of tests/integration/test_qa_speech_desk.py in small: a sentence until 1.2 s,
    # a 2 s pause, the next from 3.2 s. The model ended 中 early (1.0 s) and started the
    # next segment's 甚 there, stretched over the tail and the pause; 至 at 3.5 s.
    audio = with_pause((1.2, 0.5), (2.0, 0.0), (1.0, 0.5))
    segments = [
        [("整", 0.6, 0.8), ("中", 0.8, 1.0)],
        [("甚", 1.0, 1.9), ("至", 3.5, 3.8), ("出", 3.8, 4.1)],
    ]
    words = place_edges(segments, audio)
    assert words[2] == ("甚", 3.2, 3.5)
    assert words[:2] + words[3:] == segments[0] + segments[1][1:]


def test_a_segments_last_word_stretched_into_the_next_utterance_keeps_its_own_sound() -> None:
    # 好 said at 0.4-0.7 s, then a pause, the next utterance from 2.5 s; the model ran 好 on
    # to 2.7 s.
    audio = with_pause((0.7, 0.5), (1.8, 0.0), (1.0, 0.5))
    segments = [[("您", 0.0, 0.4), ("好", 0.4, 2.7)], [("请", 2.7, 3.0), ("问", 3.0, 3.3)]]
    words = place_edges(segments, audio)
    assert words[1] == ("好", 0.4, 0.7)
    assert words[2:] == segments[1]


def test_edge_words_said_where_the_model_put_them_are_left_alone() -> None:
    audio = with_pause((0.4, 0.0), (2.0, 0.5), (0.6, 0.0))
    segments = [[("请", 0.4, 0.7), ("问", 0.7, 1.0), ("您", 1.0, 1.3)], [("好", 1.3, 2.4)]]
    # a one-word segment has no neighbour to place it by: trim_to_sound's
    assert place_edges(segments, audio) == [w for s in segments for w in s]


def test_a_run_of_characters_given_one_instant_is_dropped_as_never_said() -> None:
    said = [Char("况", 40.22, 40.45), Char("一", 41.7, 42.27), Char("二", 42.27, 42.41)]
    loop = [Char(c, 42.41, 42.41) for c in "线尝试虽然也处于调整中甚至"]
    after = [Char("第", 42.41, 42.47), Char("二", 42.47, 42.53), Char("线", 42.53, 42.81)]
    # 第 and 二 are 60 ms each: quick, but said; the run they would join is not theirs.
    assert drop_collapsed([*said, *loop, *after]) == [*said, *after]


def test_two_quick_characters_are_kept() -> None:
    chars = [Char("嗯", 1.0, 1.0), Char("好", 1.0, 1.02), Char("的", 1.3, 1.5)]
    assert drop_collapsed(chars) == chars
