"""`callcenter speech transcribe FILE`: one recording heard by the speech engine, printed as
JSON (text, per-character times, language, model), for scripts and for checking by hand."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from callcenter.config import Settings
from callcenter.speech import engine
from callcenter.speech.model import SpeechFailed, SpeechSkipped, Transcript

EXIT_USAGE = 2


def add_parser(sub: Any, common: argparse.ArgumentParser) -> Any:
    """`speech transcribe`; returns the `speech` subcommands for the others (backfill)."""
    speech = sub.add_parser(
        "speech", parents=[common], help="Mandarin transcripts (needs callcenter[speech])"
    )
    ssub = speech.add_subparsers(dest="speech_command", required=True)
    p = ssub.add_parser(
        "transcribe", parents=[common], help="print one recording's transcript as JSON"
    )
    p.add_argument("file", type=Path, help="WAV (PCM, A-law, µ-law), MP3, Ogg, …")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the model (1)")
    p.add_argument(
        "--chunk-seconds",
        type=float,
        default=engine.CHUNK_SECONDS,
        help=f"audio transcribed at a time ({engine.CHUNK_SECONDS:.0f}; at least 30)",
    )
    return ssub


def transcript_json(t: Transcript) -> dict[str, Any]:
    return {
        "state": "done",
        "text": t.text,
        "chars": [{"char": c.text, "start": c.start, "end": c.end} for c in t.chars],
        "language": t.language,
        "language_probability": t.language_probability,
        "duration": t.duration,
        "model": t.model,
        "model_sha256": t.model_sha256,
    }


def run(settings: Settings, args: argparse.Namespace) -> int:
    reason = engine.unavailable_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    if args.threads < 1 or args.chunk_seconds < 30:
        print("error: --threads must be >= 1 and --chunk-seconds >= 30", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    model = engine.load_model(threads=args.threads)  # weights.ModelError: main prints it
    loaded = time.perf_counter()
    rc = 0
    body: dict[str, Any]
    try:
        body = transcript_json(
            engine.transcribe(args.file, threads=args.threads, chunk_seconds=args.chunk_seconds)
        )
    except SpeechSkipped as exc:
        body = {"state": "skipped", "reason": exc.reason, "detail": exc.detail}
        body |= {"language": exc.language} if exc.language else {}
        body |= {"model": model.name, "model_sha256": model.sha256}
    except SpeechFailed as exc:
        body = {"state": "failed", "reason": exc.reason, "detail": exc.detail}
        rc = 1
    body["file"] = str(args.file)
    body["load_seconds"] = round(loaded - started, 3)
    body["seconds"] = round(time.perf_counter() - loaded, 3)
    body["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return rc
