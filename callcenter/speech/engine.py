"""The speech engine (optional extra `callcenter[speech]`): Whisper base, int8 on the CPU
through faster-whisper, loaded once per process from the installed weight packages, and
`transcribe(path)` -> Transcript, or SpeechSkipped / SpeechFailed saying why not.

Importable without the extra: faster-whisper, numpy and OpenCC are imported when the model
loads, so the service can ask `available()` and say that transcription is off."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callcenter.errors import Unavailable
from callcenter.speech import weights
from callcenter.speech.model import MANDARIN, Char, SpeechSkipped, Transcript

if TYPE_CHECKING:
    from callcenter.speech.audio import Samples

log = logging.getLogger(__name__)

# The extra's modules, by import name, and the distribution that brings each.
_MODULES = {"faster_whisper": "faster-whisper", "opencc": "opencc", "pypinyin": "pypinyin"}
DETECT_SECONDS = 30.0  # of speech, for the language (Whisper's window)
# Of audio transcribed at a time. Measured on a 10-minute synthetic call (scripts/
# bench_speech.py, the two clips over and over): CER 11 % at 30 and 60 s, 13 % at 45 s, 20-23 %
# at 90, 120 and 300 s (the model adds words in long stretches of dense speech); peak memory
# above the loaded model +150 MB at 60 s, +280 MB at 300 s (the whole chunk's spectrogram);
# CPU time the same within 10 %.
CHUNK_SECONDS = 60.0
BEAM_SIZE = 5


class SpeechOff(Unavailable):
    """The extra is not installed: the service runs without transcripts."""


def unavailable_reason() -> str | None:
    """Why transcription is off (the extra or its model is not installed), or None."""
    missing = [dist for mod, dist in _MODULES.items() if importlib.util.find_spec(mod) is None]
    missing += weights.missing_packages()
    if missing:
        return f"transcription is off: install callcenter[speech] ({', '.join(missing)} missing)"
    return None


def available() -> bool:
    return unavailable_reason() is None


@dataclass(frozen=True)
class SpeechModel:
    """A loaded model: Whisper (faster_whisper.WhisperModel), its VAD options, OpenCC t2s."""

    whisper: Any
    vad: Any  # faster_whisper.vad.VadOptions
    to_simplified: Callable[[str], str]
    name: str
    sha256: str
    threads: int


_lock = threading.Lock()
_loaded: SpeechModel | None = None


def load_model(*, threads: int = 1, cache: Path | None = None) -> SpeechModel:
    """The process's model, loaded the first time and reused (measured: under a second, 320
    MB peak, 175 MB resident); the weights' digests are checked at each load. Raises
    SpeechOff or weights.ModelError."""
    global _loaded
    with _lock:
        if _loaded is not None and _loaded.threads == threads:
            return _loaded
        reason = unavailable_reason()
        if reason:
            raise SpeechOff("speech-off", reason)
        found = weights.prepare(cache)
        # faster-whisper logs every chunk's duration at INFO: noise in a service's log.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        import opencc
        from faster_whisper import WhisperModel
        from faster_whisper.vad import VadOptions

        # A folder, never a model name: faster-whisper downloads from a hub only for names.
        whisper = WhisperModel(
            str(found.folder), device="cpu", compute_type="int8", cpu_threads=threads
        )
        converter = opencc.OpenCC("t2s")
        version = metadata.version("faster-whisper")
        _loaded = SpeechModel(
            whisper=whisper,
            vad=VadOptions(),
            to_simplified=converter.convert,
            name=f"{weights.MODEL_NAME} int8 (faster-whisper {version})",
            sha256=found.sha256,
            threads=threads,
        )
        log.info("speech model loaded name=%r threads=%d", _loaded.name, threads)
        return _loaded


def _speech(model: SpeechModel, audio: Samples) -> list[Samples]:
    from faster_whisper.vad import get_speech_timestamps

    return [audio[s["start"] : s["end"]] for s in get_speech_timestamps(audio, model.vad)]


def detect_language(model: SpeechModel, source: Iterator[Samples]) -> tuple[str, float] | None:
    """The language of the first DETECT_SECONDS of speech (the voice activity detector finds
    it: silence, noise and music on hold are not speech), or None when there is no speech."""
    import numpy as np

    from callcenter.speech.audio import SAMPLE_RATE

    want = int(DETECT_SECONDS * SAMPLE_RATE)
    heard: list[Samples] = []
    count = 0
    for block in source:
        for piece in _speech(model, block):
            heard.append(piece[: want - count])
            count += len(heard[-1])
            if count >= want:
                break
        if count >= want:
            break
    if count == 0:
        return None
    language, probability, _ = model.whisper.detect_language(audio=np.concatenate(heard))
    return str(language), float(probability)


def _transcribe_chunk(model: SpeechModel, offset: float, audio: Samples) -> list[Char]:
    from callcenter.speech.audio import trim_to_sound
    from callcenter.speech.chars import chars_from_words
    from callcenter.speech.edges import place_edges

    segments, _ = model.whisper.transcribe(
        audio,
        language=MANDARIN,
        task="transcribe",
        beam_size=BEAM_SIZE,
        vad_filter=True,
        vad_parameters=model.vad,
        word_timestamps=True,
        # Each window on its own: a misheard window does not drag the next into a loop.
        condition_on_previous_text=False,
        # No resampling at higher temperatures when a window "fails": measured on a call,
        # the fallback tripled the CPU time, made the text differ from run to run and
        # raised the error rate (13 % -> 22-49 %); Whisper base samples garbage.
        temperature=0.0,
    )
    words = place_edges(
        [[(w.word, float(w.start), float(w.end)) for w in s.words or ()] for s in segments], audio
    )
    return trim_to_sound(chars_from_words(words, model.to_simplified, offset), audio, offset)


def transcribe(
    path: Path | str,
    *,
    threads: int = 1,
    chunk_seconds: float = CHUNK_SECONDS,
    cache: Path | None = None,
) -> Transcript:
    """The recording at `path`, transcribed. Raises SpeechSkipped("no-speech") for silence,
    noise, music or an empty file, SpeechSkipped("not-mandarin", language=…) for another
    language, SpeechFailed("corrupt-audio") when it cannot be decoded; SpeechOff and
    weights.ModelError when the model cannot load (not the recording's fault).

    Two passes over the file, each decoded a block at a time: the first finds the language
    on the first 30 s of speech and stops there; the second transcribes chunk by chunk."""
    from callcenter.speech.audio import SAMPLE_RATE, blocks, chunks
    from callcenter.speech.chars import drop_collapsed, in_order

    if chunk_seconds < 30:
        raise ValueError(f"chunk_seconds must be >= 30 (one Whisper window), got {chunk_seconds}")
    path = Path(path)
    model = load_model(threads=threads, cache=cache)
    source = blocks(path)
    try:
        found = detect_language(model, source)
    finally:
        source.close()  # stops ffmpeg when the language was found early
    if found is None:
        raise SpeechSkipped("no-speech", "no speech was heard in the recording")
    language, probability = found
    if language != MANDARIN:
        raise SpeechSkipped(
            "not-mandarin", f"the recording is in {language} ({probability:.2f})", language
        )
    chars: list[Char] = []
    samples = 0
    for offset, audio in chunks(blocks(path), chunk_seconds):
        chars.extend(_transcribe_chunk(model, offset, audio))
        samples = round(offset * SAMPLE_RATE) + len(audio)
    duration = round(samples / SAMPLE_RATE, 3)
    chars = drop_collapsed(in_order(chars, duration))
    if not chars:
        raise SpeechSkipped("no-speech", "the model heard no words", language)
    return Transcript(
        text="".join(c.text for c in chars),
        chars=tuple(chars),
        language=language,
        language_probability=round(probability, 3),
        duration=duration,
        model=model.name,
        model_sha256=model.sha256,
    )
