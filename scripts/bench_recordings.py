"""Benchmark: recordings ingested and analysed per minute on one core, and peak memory for a
2-hour recording.

    .venv/bin/python scripts/bench_recordings.py [--quick]

Call audio is 8 kHz G.711 A-law WAV, as PBXs record it, made from the real call legs in
tests/corpus/audio looped to length; every file differs in one byte (so none is a
duplicate). Each file goes through the real service (`Recordings.add_file`: copy and hash
into the store, fsync, analyse, write the PCM WAV rendition, fsync, link, one transaction
with its audit entries) on SQLite in a temporary directory, one after the other, this
process (and any ffmpeg it starts) pinned to core 0. Figures: hours of audio per minute of
wall time for calls of 1, 5 and 30 minutes, the same for MP3 (the ffmpeg path), and the peak
RSS of a fresh process while it stores one 2-hour recording (A-law WAV, then MP3 through
ffmpeg) next to what the whole decoded recording would take.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter import db  # noqa: E402
from callcenter.clock import SystemClock  # noqa: E402
from callcenter.config import parse_settings  # noqa: E402
from callcenter.recordings.analysis import wav_layout  # noqa: E402
from callcenter.recordings.service import Inbound, Recordings  # noqa: E402

CORE = 0
LEGS = sorted((ROOT / "tests" / "corpus" / "audio").glob("SIP_CALL_RTP_G711__*_alaw.wav"))
RATE = 8000


def alaw_samples() -> bytes:
    """The A-law samples of the real call legs."""
    out = b""
    for leg in LEGS:
        data = leg.read_bytes()
        layout = wav_layout(data, len(data))
        assert layout is not None and layout.codec == "pcm_alaw", leg
        out += data[layout.data_offset : layout.data_offset + layout.data_size]
    return out


def alaw_wav(path: Path, seconds: float, salt: int, samples: bytes) -> None:
    n = int(seconds * RATE)
    body = (samples * (n // len(samples) + 1))[:n]
    body = body[:10] + bytes([salt % 256, (salt >> 8) % 256, (salt >> 16) % 256]) + body[13:]
    header = b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 6, 1, RATE, RATE, 1, 8)
    path.write_bytes(header + b"data" + struct.pack("<I", n) + body)


def mp3(path: Path, source: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source),
         "-c:a", "libmp3lame", "-b:a", "16k", str(path)],
        check=True,
    )  # fmt: skip


async def service(work: Path) -> tuple[Recordings, Any]:
    url = f"sqlite+aiosqlite:///{work}/bench.sqlite3"
    settings = parse_settings({"database": {"url": url}, "recordings": {"root": str(work / "rec")}})
    engine = await db.open_database(url, migrate=True)
    recs = Recordings(lambda: engine, SystemClock(), settings.recordings, settings.recordings_root)
    return recs, engine


async def ingest_all(files: list[Path], work: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children) to store every file."""
    recs, engine = await service(work)
    try:
        await recs.add_file(files[0], Inbound("cli", "bench", files[0].name))  # warm up
        start_cpu = _cpu()
        start = time.perf_counter()
        for i, path in enumerate(files[1:], 1):
            stored = await recs.add_file(path, Inbound("cli", "bench", path.name, f"call-{i}"))
            assert stored.created
        return time.perf_counter() - start, _cpu() - start_cpu
    finally:
        await engine.dispose()


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def throughput(kind: str, minutes: float, count: int, samples: bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cc-bench-rec-") as tmp:
        work = Path(tmp)
        files = []
        for i in range(count + 1):
            wav = work / f"call-{i}.wav"
            alaw_wav(wav, minutes * 60, i, samples)
            if kind == "mp3":
                mp3(work / f"call-{i}.mp3", wav)
                wav.unlink()
                wav = work / f"call-{i}.mp3"
            files.append(wav)
        wall, cpu = asyncio.run(ingest_all(files, work))
    hours = count * minutes / 60
    return {
        "kind": kind,
        "call_minutes": minutes,
        "files": count,
        "audio_hours": round(hours, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "hours_per_minute": round(hours / (wall / 60), 1),
        "ms_per_file": round(wall / count * 1000, 1),
    }


def memory_child(path: str) -> None:
    """In a fresh process: store one recording; print its RSS before and the peak while
    storing (ffmpeg, when it runs, is a process of its own, decoding as a stream)."""
    benchkit.pin(CORE)
    work = Path(tempfile.mkdtemp(prefix="cc-bench-mem-"))
    try:

        async def run() -> tuple[int, int, float]:
            recs, engine = await service(work)
            before = _status_kb("VmRSS")
            _reset_peak()
            start = time.perf_counter()
            stored = await recs.add_file(Path(path), Inbound("cli", "bench", Path(path).name))
            took = time.perf_counter() - start
            peak = _status_kb("VmHWM")
            assert stored.created and stored.recording.analysis.duration_seconds > 7000
            await engine.dispose()
            return before, peak, took

        before, after, took = asyncio.run(run())
        print(json.dumps({"before_kb": before, "after_kb": after, "s": took}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _status_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in KiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    """Start VmHWM afresh from the current RSS (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def memory(kind: str, samples: bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cc-bench-2h-") as tmp:
        path = Path(tmp) / "two-hours.wav"
        alaw_wav(path, 2 * 3600, 1, samples)
        if kind == "mp3":
            mp3(Path(tmp) / "two-hours.mp3", path)
            path = Path(tmp) / "two-hours.mp3"
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        size = path.stat().st_size
    decoded_mb = 2 * 3600 * RATE * 2 / 1e6
    return {
        "kind": kind,
        "file_mb": round(size / 1e6, 1),
        "decoded_mb": round(decoded_mb, 1),
        "rss_mb_before": round(figures["before_kb"] / 1024, 1),
        "peak_rss_mb": round(figures["after_kb"] / 1024, 1),
        "seconds": round(figures["s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, about 20 s")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.memory_child:
        memory_child(args.memory_child)
        return
    pinned = benchkit.pin(CORE)
    samples = alaw_samples()
    print(f"python {sys.version.split()[0]}, pinned to core {CORE}: {pinned}")
    print("\n8 kHz call audio stored and analysed (one file after another):")
    runs = (
        [("wav", 1.0, 20), ("wav", 5.0, 12), ("mp3", 5.0, 4)]
        if args.quick
        else [("wav", 1.0, 240), ("wav", 5.0, 120), ("wav", 30.0, 20), ("mp3", 5.0, 24)]
    )
    print(f"{'format':8}{'call':>8}{'files':>7}{'audio h':>9}{'wall s':>9}{'cpu s':>8}"
          f"{'h/min':>8}{'ms/file':>9}")  # fmt: skip
    for kind, minutes, count in runs:
        r = throughput(kind, minutes, count, samples)
        print(
            f"{'A-law' if kind == 'wav' else 'MP3':8}{minutes:>6.0f} m{r['files']:>7}"
            f"{r['audio_hours']:>9}{r['wall_s']:>9}{r['cpu_s']:>8}{r['hours_per_minute']:>8}"
            f"{r['ms_per_file']:>9}"
        )
    print("\nmemory (RSS) of a fresh process storing one 2-hour recording:")
    for kind in ("wav", "mp3"):
        m = memory(kind, samples)
        label = "A-law WAV" if kind == "wav" else "MP3 (ffmpeg)"
        print(
            f"{label:14} file {m['file_mb']} MB, decoded {m['decoded_mb']} MB: RSS "
            f"{m['rss_mb_before']} MB before, peak {m['peak_rss_mb']} MB while storing, "
            f"{m['seconds']} s"
        )


if __name__ == "__main__":
    main()
