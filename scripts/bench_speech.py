"""Benchmark: how well and how fast the speech engine (callcenter[speech]) hears Mandarin.

    .venv/bin/python scripts/bench_speech.py [--minutes 10] [--quick]

Character error rate (CER: substitutions + insertions + deletions per reference character)
on the AISHELL-1 clips of tests/corpus/audio, at 16 kHz and as 8 kHz G.711 µ-law. Then a
synthetic call of `--minutes` made by sox: the same clips over and over (8 kHz µ-law) with
0.5–4 s of silence between them, transcribed in chunks like any recording: its CER,
how far each clip's first and last characters land from where the clip was placed, phrase
spotting's recall (words of the clips found within 0.3 s of where they were said) and its
false hits (script phrases never said, hits where nothing was said), CPU
seconds per second of audio (this process, the model's thread and ffmpeg) and the wall
clock, on one core with one model thread, and the process's peak memory (ru_maxrss).
The clips are read speech from a microphone, not calls: figures on real calls will be worse.
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import benchkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.speech import engine, spotting  # noqa: E402
from callcenter.speech.chars import character_error_rate  # noqa: E402
from callcenter.speech.model import Transcript  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "audio"
CLIPS = {  # AISHELL-1 reference transcripts (tests/corpus/audio/PROVENANCE.md)
    "BAC009S0764W0121": "甚至出现交易几乎停滞的情况",
    "BAC009S0764W0122": "一二线城市虽然也处于调整中",
}
CORE = 0
# Phrase spotting on the call: words of the clips, listened for as a checklist phrase would
# be, and script phrases never said there (any hit of these is a false one).
SAID = {
    "BAC009S0764W0121": ("甚至出现", "交易几乎停滞"),
    "BAC009S0764W0122": ("一二线城市", "处于调整中"),
}
NEVER_SAID = ("请问您怎么称呼", "感谢您的来电", "请问您的联系电话是", "维修人员会尽快跟您联系")
PLACED_WITHIN = 0.3


def clip(name: str, rate: str) -> Path:
    if rate == "16k":
        return CORPUS / f"{name}.wav"
    return CORPUS / "derived_8k_ulaw" / f"{name}_8k_ulaw.wav"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """This process and its finished children (ffmpeg)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def make_call(
    folder: Path, minutes: float, seed: int = 16, filename: str = "call.wav"
) -> tuple[Path, list[tuple[str, float]]]:
    """A call of about `minutes`: the clips in turn with random silences; where each went.
    Another `seed`, other silences: other bytes (bench_hep.py adds several as recordings)."""
    rng = random.Random(seed)
    durations = {n: float(_soxi(clip(n, "16k"))) for n in CLIPS}
    parts: list[str] = []
    placed: list[tuple[str, float]] = []
    at = 0.0
    names = sorted(CLIPS)
    while at < minutes * 60:
        gap = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0, 4.0])
        name = names[len(placed) % len(names)]
        parts += [str(_silence(folder, gap)), str(clip(name, "16k"))]
        at += gap
        placed.append((name, at))
        at += durations[name]
    call = folder / filename
    _sox(*parts, str(_silence(folder, 2.0)), "-r", "8000", "-e", "u-law", str(call))
    return call, placed


def _silence(folder: Path, seconds: float) -> Path:
    path = folder / f"silence-{seconds}.wav"
    if not path.exists():
        _sox("-n", "-r", "16000", "-b", "16", "-c", "1", str(path), "trim", "0", str(seconds))
    return path


def _sox(*args: str) -> None:
    # -R: the same dither every run; the model hears it (17-22 % CER on the call without)
    subprocess.run(["sox", "-R", *args], check=True, capture_output=True, timeout=600)


def _soxi(path: Path) -> str:
    return subprocess.run(
        ["soxi", "-D", str(path)], check=True, capture_output=True, text=True
    ).stdout.strip()


def placement(
    t: Transcript, placed: list[tuple[str, float]], alone: dict[str, Transcript]
) -> list[float]:
    """For each placed clip: how far its first and last characters are from where the clip
    heard alone puts them, moved to where it was placed (seconds, absolute)."""
    errors = []
    ends = [at for _, at in placed[1:]] + [t.duration + 1]
    for (name, at), until in zip(placed, ends, strict=True):
        own = alone[name]
        heard = [c for c in t.chars if at - 0.5 <= c.start < until - 0.5]
        if not heard:
            continue
        errors.append(abs(heard[0].start - (at + own.chars[0].start)))
        errors.append(abs(heard[-1].end - (at + own.chars[-1].end)))
    return errors


def phrases(
    t: Transcript, placed: list[tuple[str, float]], alone: dict[str, Transcript]
) -> tuple[int, int, int, int, int]:
    """Each placed clip's stretch of the call (a call's worth of talk: spotting reports at
    most 10 places per phrase), listened to for every phrase of SAID and NEVER_SAID.
    Returns (phrases said, found within PLACED_WITHIN of where said, found within 1 s,
    false hits, phrases listened for per stretch): a hit is false for a phrase not said in
    that stretch, or more than 1 s from where it was said."""
    wanted = {p: [p] for ps in SAID.values() for p in ps} | {p: [p] for p in NEVER_SAID}
    ends = [at for _, at in placed[1:]] + [t.duration + 1]
    said = near = within = false = 0
    for (name, at), until in zip(placed, ends, strict=True):
        window = tuple(c for c in t.chars if at - 0.5 <= c.start < until - 0.5)
        stretch = replace(t, text="".join(c.text for c in window), chars=window)
        found = spotting.find_phrases(stretch, wanted)
        own, reference = alone[name], CLIPS[name]
        for p in SAID[name]:
            i = reference.index(p)
            # where the clip heard alone put that character (its text may differ: homophones)
            expected = at + own.chars[min(i, len(own.chars) - 1)].start
            best = min((abs(f.start - expected) for f in found if f.item == p), default=None)
            said += 1
            near += best is not None and best <= 1.0
            within += best is not None and best <= PLACED_WITHIN
        for f in found:
            if f.item not in SAID[name]:
                false += 1
            else:
                i = reference.index(f.item)
                expected = at + own.chars[min(i, len(own.chars) - 1)].start
                false += abs(f.start - expected) > 1.0
    return said, within, near, false, len(wanted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="the synthetic call")
    parser.add_argument("--quick", action="store_true", help="a 2-minute call")
    parser.add_argument("--chunk-seconds", type=float, default=engine.CHUNK_SECONDS)
    args = parser.parse_args()
    minutes = 2.0 if args.quick else args.minutes
    logging.basicConfig(level=logging.WARNING)
    reason = engine.unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    pinned = benchkit.pin(CORE)
    started = time.perf_counter()
    model = engine.load_model(threads=1)
    print(f"model: {model.name}, sha256 {model.sha256[:16]}…, loaded in "
          f"{time.perf_counter() - started:.2f} s, peak {peak_mb():.0f} MB"
          f"{'' if pinned else ' (not pinned: no core 0)'}")  # fmt: skip

    print("\n| clip | audio | heard | CER |\n|---|---|---|---|")
    edits = {"16k": 0.0, "8k": 0.0}
    alone: dict[str, Transcript] = {}
    for rate, label in (("16k", "16 kHz PCM"), ("8k", "8 kHz µ-law")):
        for name, reference in CLIPS.items():
            t = engine.transcribe(clip(name, rate))
            rate_ = character_error_rate(reference, t.text)
            edits[rate] += rate_ * len(reference)
            if rate == "8k":
                alone[name] = t
            print(f"| {name} | {label} | {t.text} | {rate_:.1%} |")
    total = sum(len(r) for r in CLIPS.values())
    for rate, label in (("16k", "16 kHz PCM"), ("8k", "8 kHz µ-law")):
        print(f"| both | {label} | | {edits[rate] / total:.1%} |")

    with tempfile.TemporaryDirectory(prefix="bench-speech-") as tmp:
        call, placed = make_call(Path(tmp), minutes)
        cpu, wall = cpu_seconds(), time.perf_counter()
        t = engine.transcribe(call, chunk_seconds=args.chunk_seconds)
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    reference = "".join(CLIPS[name] for name, _ in placed)
    errors = placement(t, placed, alone)
    print(
        f"\nsynthetic call: {t.duration / 60:.1f} min of 8 kHz µ-law, {len(placed)} clips, "
        f"transcribed {args.chunk_seconds:.0f} s at a time"
    )
    print("| figure | value |\n|---|---|")
    print(f"| CER over the call | {character_error_rate(reference, t.text):.1%} |")
    print(f"| clips found | {len(errors) // 2} of {len(placed)} |")
    if errors:
        errors.sort()
        p90 = errors[int(0.9 * (len(errors) - 1))]
        print(f"| first/last character vs placed, median | {statistics.median(errors):.3f} s |")
        print(f"| first/last character vs placed, 90th percentile | {p90:.3f} s |")
        print(f"| first/last character vs placed, max | {errors[-1]:.3f} s |")
    said, within, near, false, decoys = phrases(t, placed, alone)
    print(f"| phrases found within {PLACED_WITHIN} s of where said (recall) | "
          f"{within} of {said} ({within / max(1, said):.0%}) |")  # fmt: skip
    print(f"| phrases found within 1 s | {near} of {said} ({near / max(1, said):.0%}) |")
    print(f"| false hits ({decoys} phrases listened for in each clip's stretch) | {false} |")
    print(f"| CPU seconds per audio second (1 thread) | {cpu / t.duration:.3f} |")
    print(f"| wall seconds per audio second | {wall / t.duration:.3f} |")
    print(f"| peak memory (ru_maxrss) | {peak_mb():.0f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
