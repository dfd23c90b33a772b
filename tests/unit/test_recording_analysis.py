"""Measuring recordings: real speech made by espeak-ng, the real G.711 call legs, silence;
the WAV reader's expansion equals ffmpeg's, and chunking never changes a result."""

from __future__ import annotations

import asyncio
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.recordings.analysis import (
    BadAudio,
    LevelMeter,
    Rules,
    analyse,
    wav_layout,
)
from tests.audio import audio

RULES = Rules(silence_dbfs=-50.0, min_sound_ms=300)


def run_analyse(path: Path, tmp_path: Path) -> tuple[object, object, bool]:
    out = tmp_path / "rendition.wav"
    return asyncio.run(analyse(path, path.suffix.lstrip("."), path.stat().st_size, RULES, out))


def ffmpeg_pcm(path: Path, *args: str) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", *args, "-i", str(path), "-f", "s16le", "-"],
        check=True,
        capture_output=True,
    ).stdout


@pytest.mark.parametrize("leg", [0, 1])
def test_a_real_alaw_leg_is_read_here_and_rendered_as_ffmpeg_decodes_it(
    leg: int, tmp_path: Path
) -> None:
    path = audio().alaw[leg]
    info, result, made = run_analyse(path, tmp_path)
    assert (info.container, info.codec, info.sample_rate, info.channels) == (  # type: ignore[attr-defined]
        "wav", "pcm_alaw", 8000, 1,
    )  # fmt: skip
    assert made and not result.empty  # type: ignore[attr-defined]
    rendition = (tmp_path / "rendition.wav").read_bytes()
    assert rendition[:4] == b"RIFF" and struct.unpack_from("<H", rendition, 20)[0] == 1  # PCM
    assert rendition[44:] == ffmpeg_pcm(path)  # the same samples, bit for bit


def test_mandarin_speech_in_every_format_is_sound_of_the_same_length(tmp_path: Path) -> None:
    a = audio()
    found = {}
    for path in (a.pcm, a.ulaw, a.mp3, a.gsm):
        out = tmp_path / path.name
        out.mkdir()
        info, result, made = run_analyse(path, out)
        found[path.name] = (info.codec, made, result)  # type: ignore[attr-defined]
    assert {k: v[:2] for k, v in found.items()} == {
        "pcm.wav": ("pcm_s16le", False),  # a browser plays it as it is
        "ulaw.wav": ("pcm_mulaw", True),
        "speech.mp3": ("mp3", False),
        "speech.gsm": ("gsm", True),
    }
    durations = {k: v[2].duration_seconds for k, v in found.items()}  # type: ignore[attr-defined]
    assert durations["pcm.wav"] == pytest.approx(durations["ulaw.wav"] + 1.0, abs=0.05)
    assert durations["speech.mp3"] == pytest.approx(durations["ulaw.wav"], abs=0.1)
    for name, (_codec, _made, result) in found.items():
        assert not result.empty, name  # type: ignore[attr-defined]
        assert -30 < result.loudness_dbfs < -5, name  # type: ignore[attr-defined]
        assert result.longest_sound_ms >= 300, name  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["silent", "silent_ulaw"])
def test_a_silent_call_is_flagged_empty(name: str, tmp_path: Path) -> None:
    _info, result, _made = run_analyse(getattr(audio(), name), tmp_path)
    assert result.empty and result.duration_seconds == 3.0  # type: ignore[attr-defined]
    assert result.longest_sound_ms == 0  # type: ignore[attr-defined]


def test_a_short_click_does_not_make_a_recording_sound(tmp_path: Path) -> None:
    # 3 s of silence with 100 ms of loud noise: shorter than min_sound_ms.
    rate = 8000
    samples = [0] * rate + [12000 if i % 2 else -12000 for i in range(rate // 10)] + [0] * rate
    path = tmp_path / "click.wav"
    write_wav(path, struct.pack(f"<{len(samples)}h", *samples), rate)
    _info, result, _made = run_analyse(path, tmp_path)
    assert result.empty and 80 <= result.longest_sound_ms <= 120  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("truncated_wav", "truncated-audio"),
        ("truncated_mp3", "truncated-audio"),
        ("corrupt_mp3", "corrupt-audio"),
        ("not_audio", "not-audio"),
    ],
)
def test_bad_audio_is_named(name: str, error: str, tmp_path: Path) -> None:
    with pytest.raises(BadAudio) as caught:
        run_analyse(getattr(audio(), name), tmp_path)
    assert caught.value.code == error
    assert not (tmp_path / "rendition.wav").exists()  # nothing half-written is left


def write_wav(path: Path, pcm: bytes, rate: int, data_size: int | None = None) -> None:
    size = len(pcm) if data_size is None else data_size
    header = b"RIFF" + struct.pack("<I", min(36 + size, 0xFFFFFFFF)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    path.write_bytes(header + b"data" + struct.pack("<I", size) + pcm)


def test_a_wav_whose_writer_never_set_the_size_is_read_to_its_end(tmp_path: Path) -> None:
    pcm = struct.pack("<8000h", *([9000, -9000] * 4000))
    path = tmp_path / "streamed.wav"
    write_wav(path, pcm, 8000, data_size=0xFFFFFFFF)
    _info, result, _made = run_analyse(path, tmp_path)
    assert result.duration_seconds == 1.0 and not result.empty  # type: ignore[attr-defined]


def test_wav_layout_reads_the_real_legs_header() -> None:
    path = audio().alaw[0]
    layout = wav_layout(path.read_bytes()[:4096], path.stat().st_size)
    assert layout is not None
    assert (layout.codec, layout.channels, layout.sample_rate) == ("pcm_alaw", 1, 8000)
    assert layout.data_offset + layout.data_size == path.stat().st_size


def test_wav_layout_leaves_other_codecs_to_ffmpeg() -> None:
    assert wav_layout(audio().mp3.read_bytes()[:4096], 10_000) is None
    assert wav_layout(b"RIFF\x00\x00\x00\x00WAVEjunk", 20) is None


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=30))
def test_chunking_never_changes_the_measurement(cuts: list[int]) -> None:
    pcm = REFERENCE_PCM
    whole = LevelMeter(8000, 1, RULES)
    whole.feed(pcm)
    pieces = LevelMeter(8000, 1, RULES)
    at = 0
    for cut in cuts:
        pieces.feed(pcm[at : at + cut * 2])
        at += cut * 2
    pieces.feed(pcm[at:])
    assert pieces.result() == whole.result()


REFERENCE_PCM = ffmpeg_pcm(audio().alaw[1])[: 8000 * 2 * 6]
