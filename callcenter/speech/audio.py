"""A recording as the model hears it: 16 kHz mono float samples, decoded by ffmpeg through a
pipe a block at a time (never the whole file in memory) and cut into chunks at quiet moments.

Every format the recordings store keeps (PCM, A-law and µ-law WAV, MP3, Ogg, Asterisk's raw
files) goes through ffmpeg here: the model needs 16 kHz, and ffmpeg's resampler is the one
faster-whisper itself uses; the ~80 ms it takes to start is nothing beside transcription.
Raw formats are named for ffmpeg as recordings/analysis.py names them."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from callcenter.errors import Unavailable
from callcenter.recordings.analysis import RAW_INPUTS
from callcenter.speech.model import Char, SpeechFailed

SAMPLE_RATE = 16_000
Samples = npt.NDArray[np.float32]
_STDERR_LIMIT = 1 << 14


def _command(path: Path) -> list[str]:
    raw = RAW_INPUTS.get(path.suffix.lstrip(".").lower(), [])
    return [
        "ffmpeg", "-v", "error", "-nostdin", *raw, "-i", str(path),
        "-map", "0:a:0", "-ac", "1", "-ar", str(SAMPLE_RATE),
        "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1",
    ]  # fmt: skip


def _first_line(err: bytes, path: Path) -> str:
    for line in err.decode("utf-8", "replace").splitlines():
        line = line.strip().replace(f"{path}: ", "")
        if line:
            return line.split("] ", 1)[-1][:200]
    return "ffmpeg failed"


def blocks(path: Path, block_seconds: float = 30.0) -> Generator[Samples, None, None]:
    """The recording's samples, `block_seconds` at a time. A file ffmpeg cannot read or
    decode, or that holds no audio stream, raises SpeechFailed("corrupt-audio") — once read
    to its end; a caller that stops early stops ffmpeg too."""
    if not path.is_file():
        raise SpeechFailed("corrupt-audio", f"{path} is not a file")
    size = int(block_seconds * SAMPLE_RATE) * 4
    with tempfile.TemporaryFile() as errors:
        proc = _start(path, errors)
        assert proc.stdout is not None
        try:
            carry = b""
            while True:
                data = proc.stdout.read(size)
                if not data:
                    break
                data = carry + data
                usable = len(data) - len(data) % 4
                carry = data[usable:]
                if usable:
                    yield np.frombuffer(data[:usable], dtype="<f4").astype(np.float32)
            if proc.wait() != 0:
                errors.seek(0)
                message = _first_line(errors.read(_STDERR_LIMIT), path)
                raise SpeechFailed("corrupt-audio", f"the audio cannot be decoded: {message}")
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            proc.stdout.close()
            proc.wait()


def _start(path: Path, errors: IO[bytes]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            _command(path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
        )
    except FileNotFoundError:
        # Not the recording's fault: it stays queued.
        raise Unavailable(
            "ffmpeg-missing", "ffmpeg is not installed (Debian: apt-get install ffmpeg)"
        ) from None


def _quietest(audio: Samples, start: int, stop: int) -> int:
    """The middle of the quietest 100 ms window of audio[start:stop]: where to cut so that no
    word is split (a phone call pauses every few seconds)."""
    window = SAMPLE_RATE // 10
    span = audio[start:stop]
    count = len(span) // window
    if count == 0:
        return stop
    frames = span[: count * window].reshape(count, window)
    energy = np.einsum("ij,ij->i", frames, frames)
    return start + int(np.argmin(energy)) * window + window // 2


def chunks(source: Iterator[Samples], chunk_seconds: float) -> Iterator[tuple[float, Samples]]:
    """(offset in seconds, samples) of about `chunk_seconds` each, cut at the quietest moment
    of each chunk's last tenth (at most 10 s): memory stays near one chunk whatever the
    recording's length."""
    target = max(1, int(chunk_seconds * SAMPLE_RATE))
    search = min(10 * SAMPLE_RATE, max(1, target // 10))
    pending: list[Samples] = []
    held = 0
    offset = 0
    for block in source:
        pending.append(block)
        held += len(block)
        while held >= target:
            audio = np.concatenate(pending)
            cut = _quietest(audio, target - search, target)
            yield offset / SAMPLE_RATE, audio[:cut]
            offset += cut
            rest = audio[cut:].copy()  # frees the chunk once it is transcribed
            pending, held = [rest], len(rest)
    if held:
        yield offset / SAMPLE_RATE, np.concatenate(pending)


FRAME = SAMPLE_RATE // 50  # 20 ms: the resolution of a character's edges
QUIET_DB = -25.0  # below the chunk's loud speech (95th percentile of frames) by this much
LONG_CHAR = 0.4  # seconds: a character longer than this may have taken in a pause


def loudness(audio: Samples) -> tuple[npt.NDArray[np.float64], float] | None:
    """Each 20 ms frame's RMS level, and the level below which a frame is quiet (QUIET_DB
    under the chunk's loud speech); None for audio shorter than a frame."""
    count = len(audio) // FRAME
    if count == 0:
        return None
    frames = audio[: count * FRAME].reshape(count, FRAME)
    level = np.sqrt(np.einsum("ij,ij->i", frames, frames) / FRAME)
    return level, float(np.percentile(level, 95)) * 10 ** (QUIET_DB / 20)


def trim_to_sound(chars: list[Char], audio: Samples, offset: float) -> list[Char]:
    """Characters whose span reaches into a quiet stretch, pulled back to where there is
    sound. Whisper's word times are contiguous, so the word after a pause starts where the
    word before it ended, and a word before a pause ends late: measured, the first and last
    characters of an utterance after a 1–4 s pause were up to 2.3 s off. Short characters
    and noisy lines (nothing quiet enough) are left as they are."""
    found = loudness(audio)
    if found is None:
        return chars
    level, quiet = found
    count = len(level)
    out = []
    for c in chars:
        if c.end - c.start <= LONG_CHAR:
            out.append(c)
            continue
        first = max(0, int((c.start - offset) * 50))
        last = min(count, int(np.ceil((c.end - offset) * 50)))
        runs = sound_runs(level[first:last] > quiet)
        if not runs:
            out.append(c)
            continue
        run = max(runs, key=lambda r: r[1] - r[0])
        start, end = offset + (first + run[0]) / 50, offset + (first + run[1]) / 50
        out.append(Char(c.text, round(max(c.start, start), 3), round(min(c.end, end), 3)))
    return out


def sound_runs(loud: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The runs of loud frames, [first, last + 1), bridging quiet gaps shorter than 100 ms
    (the closure of a stop consonant). A span that took in a pause holds the tail of the
    word before it, the pause, then its own sound: several runs."""
    runs: list[tuple[int, int]] = []
    start = end = -1
    for i in np.nonzero(loud)[0].tolist():
        if start >= 0 and i - end <= 5:
            end = i + 1
            continue
        if start >= 0:
            runs.append((start, end))
        start, end = i, i + 1
    if start >= 0:
        runs.append((start, end))
    return runs
