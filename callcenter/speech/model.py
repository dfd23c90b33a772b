"""What listening to a recording gives (issue 16: Mandarin transcripts): the words with the
second each character was said, the language heard, and the phrases found in them. Pure: the
engine (engine.py, the optional extra `callcenter[speech]`) makes a Transcript, phrase
spotting (spotting.py) reads one, the queue (queue.py) stores both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# A recording's state in the transcription queue. skipped: nothing to transcribe (no speech,
# music on hold), or not Mandarin (the language is kept, nothing is matched); failed: the
# file could not be read or decoded (the reason is kept); neither is retried on its own.
JobState = Literal["queued", "running", "done", "skipped", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "skipped", "failed")
MANDARIN = "zh"


@dataclass(frozen=True, slots=True)
class Char:
    """One character heard (a Latin word or a digit run counts as one), in seconds from the
    recording's start."""

    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str  # simplified Chinese, as heard (no punctuation added by us)
    chars: tuple[Char, ...]  # "".join(c.text for c in chars) == text
    language: str  # ISO 639-1 of the language detected first ("zh", "es", …)
    language_probability: float  # the detector's confidence, 0–1
    duration: float  # seconds of audio
    model: str  # e.g. "whisper-base int8 (faster-whisper 1.2.1)"
    model_sha256: str  # of the weights (model.bin) that made it

    @property
    def mandarin(self) -> bool:
        return self.language == MANDARIN


class SpeechSkipped(Exception):
    """Nothing to transcribe: `reason` is a short code (no-speech, not-mandarin, …)."""

    def __init__(self, reason: str, detail: str = "", language: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.language = language


class SpeechFailed(Exception):
    """The recording could not be transcribed: `reason` is a short code (corrupt-audio, …)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Found:
    """A checklist item's phrase heard in a transcript: evidence for the reviewer, never a
    score. `how`: exact (the characters), pinyin (the same toneless syllables within the
    tolerance: homophones the model wrote wrong), readback (the agent read back what the
    ticket holds: address, name, phone)."""

    item: str  # the checklist item's key
    phrase: str  # what was expected
    heard: str  # the transcript's characters that matched
    start: float
    end: float
    confidence: float  # 0–1
    how: Literal["exact", "pinyin", "readback"]
    # A long sentence is rarely said word for word: it is listened for clause by clause (or
    # an address part by part), and `missing` names what was not heard, for the reviewer.
    clauses: int = 1
    missing: tuple[str, ...] = ()
