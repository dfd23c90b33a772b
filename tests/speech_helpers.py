"""What the transcription queue's tests run in its worker processes in place of the model: a
script from a recording's SHA-256 (the name of the file a worker is given) to what is
"heard" — a transcript, a skip, a failure, an exception, the process dying, a long job.

This is not a stand-in for the engine (its own tests run the real model on real speech):
the queue's promises — stored once, the state and reason kept, a dead worker replaced, a
restart losing nothing — hold whatever the engine does, and a script makes each case happen
on demand. Module-level functions, so a real ProcessPoolExecutor (spawn) pickles them.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import time
import wave
from collections.abc import Mapping
from pathlib import Path

from callcenter.speech.model import Char, SpeechFailed, SpeechSkipped, Transcript

Script = Mapping[str, tuple[str, ...]]
FALLBACK = ("text", "您好请讲")


def _idle() -> bool:
    return hasattr(os, "SCHED_IDLE") and os.sched_getscheduler(0) == os.SCHED_IDLE


def heard(text: str) -> Transcript:
    """A transcript of `text`, a character every quarter second; its model names the
    worker process's CPU priority (os.nice), so a test sees the priority it ran at."""
    chars = tuple(Char(c, 0.5 + i * 0.25, 0.7 + i * 0.25) for i, c in enumerate(text))
    return Transcript(
        text=text,
        chars=chars,
        language="zh",
        language_probability=0.97,
        duration=1.0 + len(text) * 0.25,
        model=f"scripted (nice {os.nice(0)}{', idle' if _idle() else ''})",
        model_sha256="5" * 64,
    )


def scripted(script: Script, path: Path) -> Transcript:
    kind, *args = script.get(path.stem, FALLBACK)
    if kind == "text":
        return heard(args[0])
    if kind == "skip":
        raise SpeechSkipped(args[0], "scripted", language=args[1] if len(args) > 1 else None)
    if kind == "fail":
        raise SpeechFailed(args[0], "scripted")
    if kind == "raise":
        raise ValueError(args[0])
    if kind == "exit":
        os._exit(3)  # the process dies as the OOM killer or a decoder crash would end it
    if kind == "sleep":
        time.sleep(float(args[0]))
        return heard("久等了")
    raise AssertionError(f"unknown script entry {kind!r}")


def tone(folder: Path, hz: int, seconds: float = 1.0) -> tuple[Path, str]:
    """A loud PCM WAV (a browser plays it as stored, so its worker is given these very
    bytes) and its SHA-256: each pitch is a distinct recording."""
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(int(rate * seconds))
    )
    path = folder / f"tone-{hz}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()
