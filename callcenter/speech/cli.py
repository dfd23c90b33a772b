"""`callcenter speech transcribe FILE [--phrase P]… [--sheet S]`: one recording heard by the
speech engine, printed as JSON (text, per-character times, language, model, and where the
phrases asked for were heard), for scripts and for checking a file by hand."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from callcenter.config import Settings
from callcenter.errors import ConfigError
from callcenter.qa import checklists
from callcenter.speech import engine
from callcenter.speech.model import Found, SpeechFailed, SpeechSkipped, Transcript

EXIT_USAGE = 2


def add_parser(sub: Any, common: argparse.ArgumentParser) -> Any:
    """`speech transcribe`; returns the `speech` subcommands for the others (backfill)."""
    speech = sub.add_parser(
        "speech", parents=[common], help="Mandarin transcripts (needs callcenter[speech])"
    )
    ssub = speech.add_subparsers(dest="speech_command", required=True)
    p = ssub.add_parser(
        "transcribe",
        parents=[common],
        help="print one recording's transcript as JSON, and where the phrases asked for were heard",
        description="Prints the transcript, each character's times, the language and, with "
        "--phrase or --sheet, a `found` list: every place each phrase was heard (by its "
        "characters, or by its toneless pinyin within speech.pinyin_tolerance), and each "
        "phrase not heard with nulls. Phrases are matched in Mandarin only: for another "
        "language `found` is null and `not_matched` says why.",
    )
    p.add_argument("file", type=Path, help="WAV (PCM, A-law, µ-law), MP3, Ogg, …")
    p.add_argument(
        "--phrase",
        action="append",
        default=[],
        metavar="PHRASE",
        help="listen for these words (repeat for more); the item is the phrase itself",
    )
    p.add_argument(
        "--sheet",
        choices=checklists.SHEETS,
        help="listen for a checklist's scripted phrases (qa.checklists_dir/<sheet>.toml; "
        "on a desk.holidays date, today's holiday greeting); the item is the item's key",
    )
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


def listened_for(settings: Settings, args: argparse.Namespace) -> dict[str, list[str]]:
    """Item key -> its phrases: the sheet's items (placeholders such as {工号} left as they
    are: the phrase is listened for around them), then each --phrase under its own text.
    Raises ConfigError for a sheet that does not load, ValueError for a phrase of no words."""
    from callcenter.speech import pinyin, spotting

    out: dict[str, list[str]] = {}
    if args.sheet:
        sheet = checklists.load(settings.checklists_dir)[args.sheet]
        today = datetime.now(settings.tz).date()
        out |= spotting.expected_phrases(sheet, on=today, holidays=settings.desk.holidays)
    for phrase in args.phrase:
        if not pinyin.units(phrase):
            raise ValueError(f"--phrase {phrase!r} holds no words to listen for")
        out.setdefault(phrase, [phrase])
    return out


def found_json(
    transcript: Transcript, phrases: dict[str, list[str]], tolerance: float
) -> list[dict[str, Any]]:
    """Each item's places heard, in the order the items were asked for and then by time;
    an item heard nowhere once, with nulls."""
    from callcenter.speech.spotting import find_phrases

    heard = find_phrases(transcript, phrases, tolerance=tolerance)
    out: list[dict[str, Any]] = []
    for item, texts in phrases.items():
        places = [_place(f) for f in heard if f.item == item]
        out += places or [{"item": item, "phrase": texts[0]} | dict.fromkeys(_HEARD)]
    return out


_HEARD = ("heard", "start", "end", "confidence", "how", "missing")


def _place(f: Found) -> dict[str, Any]:
    return {
        "item": f.item,
        "phrase": f.phrase,
        "heard": f.heard,
        "start": f.start,
        "end": f.end,
        "confidence": f.confidence,
        "how": f.how,
        "missing": list(f.missing),
    }


def _not_matched(body: dict[str, Any]) -> str:
    if body.get("language") not in (None, "zh"):
        return f"the recording is in {body['language']}: phrases are matched in Mandarin only"
    if body["state"] == "skipped":
        return f"nothing was transcribed ({body['reason']})"
    return "the recording could not be transcribed"


def run(settings: Settings, args: argparse.Namespace) -> int:
    reason = engine.unavailable_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return EXIT_USAGE
    if args.threads < 1 or args.chunk_seconds < 30:
        print("error: --threads must be >= 1 and --chunk-seconds >= 30", file=sys.stderr)
        return EXIT_USAGE
    try:
        phrases = listened_for(settings, args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    started = time.perf_counter()
    model = engine.load_model(threads=args.threads)  # weights.ModelError: main prints it
    loaded = time.perf_counter()
    rc = 0
    body: dict[str, Any]
    transcript: Transcript | None = None
    try:
        transcript = engine.transcribe(
            args.file, threads=args.threads, chunk_seconds=args.chunk_seconds
        )
        body = transcript_json(transcript)
    except SpeechSkipped as exc:
        body = {"state": "skipped", "reason": exc.reason, "detail": exc.detail}
        body |= {"language": exc.language} if exc.language else {}
        body |= {"model": model.name, "model_sha256": model.sha256}
    except SpeechFailed as exc:
        body = {"state": "failed", "reason": exc.reason, "detail": exc.detail}
        rc = 1
    if phrases and transcript is not None and transcript.mandarin:
        body["found"] = found_json(transcript, phrases, settings.speech.pinyin_tolerance)
    elif phrases:
        body["found"] = None
        body["not_matched"] = _not_matched(body)
    body["file"] = str(args.file)
    body["load_seconds"] = round(loaded - started, 3)
    body["seconds"] = round(time.perf_counter() - loaded, 3)
    body["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return rc
