"""Real audio made in the test run: espeak-ng speaks the hotline's opening in Mandarin, sox and
ffmpeg turn it into what PBXs record (WAV PCM, WAV µ-law 8 kHz, MP3, GSM), sox makes a
silent call, and the real G.711 A-law call legs come from tests/corpus/audio. Each broken
file is made from a good one. A missing tool fails the test that asks, never skips it."""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus" / "audio"
ALAW_LEGS = (
    CORPUS / "SIP_CALL_RTP_G711__leg_196-to-204_alaw.wav",
    CORPUS / "SIP_CALL_RTP_G711__leg_204-to-196_alaw.wav",
)
OPENING = "您好，大龙供暖报修为您服务，请问您有什么问题"


@dataclass(frozen=True)
class Audio:
    folder: Path
    speech: Path  # espeak-ng's own output (22.05 kHz 16-bit PCM)
    pcm: Path  # WAV PCM 16-bit 16 kHz, half a second of silence around the speech
    ulaw: Path  # WAV G.711 µ-law 8 kHz (what a PBX records)
    mp3: Path
    gsm: Path  # raw GSM 06.10 (Asterisk's .gsm)
    silent: Path  # 3 s of silence, 8 kHz 16-bit
    silent_ulaw: Path  # 3 s of silence, µ-law 8 kHz
    alaw: tuple[Path, ...]  # the real G.711 A-law call legs
    truncated_wav: Path  # the µ-law WAV cut in half (its header says twice as long)
    truncated_mp3: Path  # the MP3 cut in half (its Xing header says longer)
    corrupt_mp3: Path  # the MP3 with bytes overwritten all through it
    not_audio: Path  # a text file named .wav
    zero: Path  # a zero-byte .wav

    def copy(self, name: str, to: Path) -> Path:
        """A fresh copy of one file (tests that move or delete files use copies)."""
        target = to / getattr(self, name).name
        shutil.copyfile(getattr(self, name), target)
        return target


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=60)


@functools.cache
def audio() -> Audio:
    folder = Path(tempfile.mkdtemp(prefix="cc-audio-"))
    atexit.register(shutil.rmtree, folder, True)
    f = folder
    _run("espeak-ng", "-v", "cmn", "-w", str(f / "speech.wav"), OPENING)
    _run("sox", str(f / "speech.wav"), "-r", "16000", "-b", "16", str(f / "pcm.wav"),
         "pad", "0.5", "0.5")  # fmt: skip
    _run("sox", str(f / "speech.wav"), "-r", "8000", "-e", "u-law", str(f / "ulaw.wav"))
    _run("ffmpeg", "-v", "error", "-nostdin", "-i", str(f / "speech.wav"),
         "-c:a", "libmp3lame", "-b:a", "32k", str(f / "speech.mp3"))  # fmt: skip
    _run("ffmpeg", "-v", "error", "-nostdin", "-i", str(f / "speech.wav"),
         "-ar", "8000", "-ac", "1", "-c:a", "gsm", "-f", "gsm", str(f / "speech.gsm"))  # fmt: skip
    _run("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(f / "silent.wav"), "trim", "0", "3")
    _run("sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(f / "silent_ulaw.wav"),
         "trim", "0", "3")  # fmt: skip
    ulaw = (f / "ulaw.wav").read_bytes()
    (f / "truncated.wav").write_bytes(ulaw[: len(ulaw) // 2])
    mp3 = (f / "speech.mp3").read_bytes()
    (f / "truncated.mp3").write_bytes(mp3[: len(mp3) // 2])
    corrupt = bytearray(mp3)
    for i in range(2000, len(corrupt), 50):
        corrupt[i] = (corrupt[i] * 7 + 13) % 256
    (f / "corrupt.mp3").write_bytes(bytes(corrupt))
    (f / "notes.wav").write_text("维修人员会尽快跟您联系 — not audio\n", encoding="utf-8")
    (f / "zero.wav").write_bytes(b"")
    return Audio(
        folder=f,
        speech=f / "speech.wav",
        pcm=f / "pcm.wav",
        ulaw=f / "ulaw.wav",
        mp3=f / "speech.mp3",
        gsm=f / "speech.gsm",
        silent=f / "silent.wav",
        silent_ulaw=f / "silent_ulaw.wav",
        alaw=ALAW_LEGS,
        truncated_wav=f / "truncated.wav",
        truncated_mp3=f / "truncated.mp3",
        corrupt_mp3=f / "corrupt.mp3",
        not_audio=f / "notes.wav",
        zero=f / "zero.wav",
    )
