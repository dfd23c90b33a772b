"""What a recording holds: codec, duration, channels, rate, loudness and whether it is empty,
measured in chunks (never a whole recording decoded in memory), and the playable PCM WAV
rendition written from the same decoded stream.

WAV files with PCM, G.711 A-law or µ-law samples (what PBXs record) are read and expanded
here, in a worker thread: starting ffprobe and ffmpeg costs ~80 ms each per file, more than
analysing a ten-minute call. Everything else (MP3, Ogg, GSM, other WAV codecs, raw formats)
is probed with ffprobe and decoded by ffmpeg to 16-bit PCM through a pipe, read in chunks.
pydub measures each decoded chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import struct
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

with warnings.catch_warnings():  # audioop: deprecated in 3.11-3.12, audioop-lts from 3.13
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

    from pydub import AudioSegment

from callcenter.errors import Invalid, Unavailable
from callcenter.recordings.model import Analysis, playable

CHUNK = 1 << 18  # bytes read or decoded at a time (256 KiB: 16 s of 8 kHz 16-bit audio)
WINDOW_MS = 20  # the silence detector's resolution
_STDERR_LIMIT = 1 << 16
# Raw formats without a header: ffmpeg must be told what they are (Asterisk's names).
RAW_INPUTS: dict[str, list[str]] = {
    "gsm": ["-f", "gsm"],
    "ulaw": ["-f", "mulaw", "-ar", "8000", "-ac", "1"],
    "ul": ["-f", "mulaw", "-ar", "8000", "-ac", "1"],
    "alaw": ["-f", "alaw", "-ar", "8000", "-ac", "1"],
    "al": ["-f", "alaw", "-ar", "8000", "-ac", "1"],
    "sln": ["-f", "s16le", "-ar", "8000", "-ac", "1"],
}


class BadAudio(Invalid):
    """The file is not a recording we can keep: empty, not audio, corrupt or truncated."""


@dataclass(frozen=True, slots=True)
class Rules:
    silence_dbfs: float = -50.0
    min_sound_ms: int = 300


@dataclass(frozen=True, slots=True)
class Probe:
    container: str  # ffprobe's format name: wav, mp3, ogg, gsm, …
    codec: str  # ffprobe's codec name: pcm_s16le, pcm_alaw, pcm_mulaw, mp3, opus, …
    channels: int
    sample_rate: int


# -- levels, per chunk ------------------------------------------------------------------------
class LevelMeter:
    """Loudness, peak and the longest stretch above the silence threshold of 16-bit PCM fed
    in pieces of any size; it keeps less than one 20 ms window between pieces."""

    def __init__(self, sample_rate: int, channels: int, rules: Rules) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.rules = rules
        frame = 2 * channels
        self.window = frame * max(1, sample_rate * WINDOW_MS // 1000)
        self.window_ms = self.window / frame / sample_rate * 1000
        self.threshold = 32768 * 10 ** (rules.silence_dbfs / 20)
        self.frames = 0
        self.sum_squares = 0.0
        self.peak = 0
        self.run = 0  # windows above the threshold in a row, up to now
        self.longest = 0
        self._carry = b""

    def feed(self, pcm: bytes) -> None:
        data = self._carry + pcm if self._carry else pcm
        usable = len(data) - len(data) % self.window
        if usable:
            self._measure(data[:usable] if usable < len(data) else data)
        self._carry = bytes(data[usable:])

    def _measure(self, data: bytes) -> None:
        """Whole windows (aligned from the first sample, whatever the chunks were)."""
        segment = AudioSegment(
            data=data, sample_width=2, frame_rate=self.sample_rate, channels=self.channels
        )
        self.frames += int(segment.frame_count())
        self.peak = max(self.peak, int(segment.max))
        view = memoryview(data)
        window, threshold, run, longest = self.window, self.threshold, self.run, self.longest
        squares = 0
        rms_of = audioop.rms
        for offset in range(0, len(data), window):
            rms = rms_of(view[offset : offset + window], 2)
            squares += rms * rms
            if rms > threshold:
                run += 1
                if run > longest:
                    longest = run
            else:
                run = 0
        # Loudness is summed per window, so chunking never changes it.
        self.sum_squares += squares * (window // 2)
        self.run, self.longest = run, longest

    def result(self) -> Analysis:
        if self._carry:
            tail, self._carry = self._carry, b""
            frame = 2 * self.channels
            tail = tail[: len(tail) - len(tail) % frame]
            if tail:
                segment = AudioSegment(
                    data=tail, sample_width=2, frame_rate=self.sample_rate, channels=self.channels
                )
                n = int(segment.frame_count())
                self.sum_squares += float(segment.rms) ** 2 * n * self.channels
                self.frames += n
                self.peak = max(self.peak, int(segment.max))
                if segment.rms > self.threshold:  # a sound still going on at the end
                    self.run += 1
                    self.longest = max(self.longest, self.run)
        samples = self.frames * self.channels
        rms = math.sqrt(self.sum_squares / samples) if samples else 0.0
        longest_ms = round(self.longest * self.window_ms)
        return Analysis(
            duration_seconds=round(self.frames / self.sample_rate, 3),
            channels=self.channels,
            sample_rate=self.sample_rate,
            loudness_dbfs=_dbfs(rms),
            peak_dbfs=_dbfs(float(self.peak)),
            longest_sound_ms=longest_ms,
            empty=longest_ms < self.rules.min_sound_ms,
        )


def _dbfs(level: float) -> float | None:
    return round(20 * math.log10(level / 32768), 2) if level > 0 else None


class RenditionWriter:
    """A 16-bit PCM WAV file written chunk by chunk (the wave module fixes the header at the
    end), fsynced when closed."""

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        self.path = path
        self._file: IO[bytes] = path.open("xb")
        self._wav = wave.open(self._file, "wb")  # closed in close()
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)

    def write(self, pcm: bytes) -> None:
        self._wav.writeframesraw(pcm)

    def close(self) -> None:
        self._wav.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self._wav.close()
        self._file.close()
        self.path.unlink(missing_ok=True)


# -- WAV read here ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class WavLayout:
    codec: str
    channels: int
    sample_rate: int
    block_align: int
    data_offset: int
    # Bytes of sample data: what the header declares, or the rest of the file when a
    # writer left the size unset (0 or 0xFFFFFFFF while streaming).
    data_size: int
    declared_size: int | None


_WAV_CODECS = {(1, 16): "pcm_s16le", (1, 8): "pcm_u8", (6, 8): "pcm_alaw", (7, 8): "pcm_mulaw"}


def wav_layout(head: bytes, file_size: int) -> WavLayout | None:
    """The layout of a WAV file this module decodes itself (PCM 8/16-bit, A-law, µ-law),
    from its first bytes; None for anything else (left to ffmpeg)."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos = 12
    fmt: tuple[int, int, int, int, int] | None = None
    while pos + 8 <= len(head):
        chunk_id, size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(head):
                return None
            tag, channels, rate, _bps, align, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag == 0xFFFE and size >= 26 and body + 26 <= len(head):
                tag = struct.unpack_from("<H", head, body + 24)[0]  # WAVE_FORMAT_EXTENSIBLE
            fmt = (tag, channels, rate, align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                return None
            tag, channels, rate, align, bits = fmt
            codec = _WAV_CODECS.get((tag, bits))
            if codec is None or not 1 <= channels <= 8 or not 1000 <= rate <= 192_000:
                return None
            if align != channels * bits // 8:
                return None
            rest = file_size - body
            unset = size in (0, 0xFFFFFFFF)
            data_size = rest if unset else min(size, rest)
            data_size -= data_size % align
            return WavLayout(
                codec, channels, rate, align, body, data_size, None if unset else int(size)
            )
        pos = body + size + (size & 1)
    return None


def _to_s16(codec: str, block: bytes) -> bytes:
    if codec == "pcm_alaw":
        return audioop.alaw2lin(block, 2)
    if codec == "pcm_mulaw":
        return audioop.ulaw2lin(block, 2)
    if codec == "pcm_u8":
        return audioop.lin2lin(audioop.bias(block, 1, -128), 1, 2)
    return block  # pcm_s16le: WAV is little-endian, like the machines we run on


def analyse_wav(path: Path, layout: WavLayout, rules: Rules, rendition: Path | None) -> Analysis:
    """Read, expand and measure a WAV file in chunks; write the rendition if asked. Blocking:
    run it in a worker thread."""
    declared = layout.declared_size
    if declared is not None and declared > layout.data_size + layout.block_align:
        have = layout.data_size / layout.block_align / layout.sample_rate
        said = declared / layout.block_align / layout.sample_rate
        raise BadAudio(
            "truncated-audio",
            f"the file ends after {have:.1f} s of the {said:.1f} s its header announces",
        )
    if layout.data_size == 0:
        raise BadAudio("not-audio", "the WAV file holds no samples")
    meter = LevelMeter(layout.sample_rate, layout.channels, rules)
    writer = RenditionWriter(rendition, layout.sample_rate, layout.channels) if rendition else None
    try:
        with path.open("rb") as src:
            src.seek(layout.data_offset)
            left = layout.data_size
            step = CHUNK - CHUNK % layout.block_align
            while left > 0:
                block = src.read(min(step, left))
                if not block:
                    break
                left -= len(block)
                pcm = _to_s16(layout.codec, block)
                meter.feed(pcm)
                if writer is not None:
                    writer.write(pcm)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abandon()
        raise
    return meter.result()


# -- everything else: ffprobe and ffmpeg ------------------------------------------------------
def _input_args(path: Path, ext: str) -> list[str]:
    return [*RAW_INPUTS.get(ext, []), "-i", str(path)]


async def probe(path: Path, ext: str) -> tuple[Probe, float | None]:
    """What ffprobe says the file is, and the duration its headers declare (None when
    ffprobe only estimates it)."""
    proc = await _start(
        "ffprobe", "-v", "warning", "-of", "json",
        "-show_entries",
        "stream=codec_type,codec_name,sample_rate,channels:format=format_name,duration",
        *_input_args(path, ext),
    )  # fmt: skip
    out, err = await proc.communicate()
    message = _first_line(err).replace(f"{path}: ", "")
    if proc.returncode != 0:
        raise BadAudio(
            "not-audio", f"not an audio file we can read ({message or 'ffprobe failed'})"
        )
    try:
        doc: dict[str, Any] = json.loads(out)
    except ValueError:
        raise BadAudio("not-audio", "ffprobe gave no answer about this file") from None
    audio = [s for s in doc.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise BadAudio("not-audio", "the file holds no audio stream")
    stream, fmt = audio[0], doc.get("format", {})
    try:
        info = Probe(
            container=str(fmt.get("format_name", "")),
            codec=str(stream.get("codec_name", "")),
            channels=int(stream["channels"]),
            sample_rate=int(stream["sample_rate"]),
        )
    except (KeyError, ValueError):
        raise BadAudio("not-audio", "the audio stream has no sample rate or channels") from None
    if not 1 <= info.channels <= 8 or not 1000 <= info.sample_rate <= 192_000:
        raise BadAudio("not-audio", f"{info.channels} channels at {info.sample_rate} Hz")
    text = err.decode("utf-8", "replace")
    if "do not match" in text:  # mp3: "filesize and duration do not match (growing file?)"
        raise BadAudio("truncated-audio", "the file is shorter than its header announces")
    declared = None
    if "Estimating duration" not in text:
        with contextlib.suppress(KeyError, ValueError, TypeError):
            declared = float(fmt["duration"])
    return info, declared


async def _start(*args: str) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        # Not the file's fault: the spool keeps it and tries again.
        raise Unavailable(
            "ffmpeg-missing", f"{args[0]} is not installed (Debian: apt-get install ffmpeg)"
        ) from None


def _first_line(err: bytes) -> str:
    for line in err.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            return line.split("] ", 1)[-1][:200]
    return ""


async def decode(
    path: Path, ext: str, info: Probe, declared: float | None, rules: Rules, rendition: Path | None
) -> Analysis:
    """Decode with ffmpeg to 16-bit PCM through a pipe, measuring each chunk in a worker
    thread and writing the rendition if asked."""
    proc = await _start(
        "ffmpeg", "-v", "error", "-nostdin", *_input_args(path, ext),
        "-map", "0:a:0", "-f", "s16le", "-acodec", "pcm_s16le",
        "-ac", str(info.channels), "-ar", str(info.sample_rate), "pipe:1",
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    errors = asyncio.ensure_future(proc.stderr.read(_STDERR_LIMIT))
    meter = LevelMeter(info.sample_rate, info.channels, rules)
    writer: RenditionWriter | None = None
    try:
        if rendition is not None:
            writer = await asyncio.to_thread(
                RenditionWriter, rendition, info.sample_rate, info.channels
            )

        def take(pcm: bytes) -> None:
            meter.feed(pcm)
            if writer is not None:
                writer.write(pcm)

        while True:
            pcm = await proc.stdout.read(CHUNK)
            if not pcm:
                break
            await asyncio.to_thread(take, pcm)
        err = await errors
        await proc.wait()
        if proc.returncode != 0 or err.strip():
            raise BadAudio("corrupt-audio", f"the audio cannot be decoded: {_first_line(err)}")
        result = meter.result()
        if result.duration_seconds == 0:
            raise BadAudio("not-audio", "the file holds no samples")
        if declared is not None and result.duration_seconds < declared - max(1.0, 0.02 * declared):
            raise BadAudio(
                "truncated-audio",
                f"the file ends after {result.duration_seconds:.1f} s of the "
                f"{declared:.1f} s its header announces",
            )
        if writer is not None:
            await asyncio.to_thread(writer.close)
            writer = None
        return result
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if not errors.done():
            errors.cancel()
        if writer is not None:
            await asyncio.to_thread(writer.abandon)


async def analyse(
    path: Path, ext: str, size: int, rules: Rules, rendition: Path
) -> tuple[Probe, Analysis, bool]:
    """Probe and measure the file at `path`; when a browser cannot play it as it is, write a
    PCM WAV rendition to `rendition`. Returns (probe, analysis, rendition written)."""
    head = await asyncio.to_thread(_read_head, path)
    layout = wav_layout(head, size)
    if layout is not None:
        info = Probe("wav", layout.codec, layout.channels, layout.sample_rate)
        wanted = None if playable(info.container, info.codec) else rendition
        result = await asyncio.to_thread(analyse_wav, path, layout, rules, wanted)
        return info, result, wanted is not None
    info, declared = await probe(path, ext)
    wanted = None if playable(info.container, info.codec) else rendition
    result = await decode(path, ext, info, declared, rules, wanted)
    return info, result, wanted is not None


def _read_head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(1 << 16)
