"""`callcenter speech backfill --from DATE --to DATE`: queue for transcription the recordings
stored on those days (web.timezone, both included) that have no job yet; the running service
takes them from the queue."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.speech.service import Transcripts


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def add_parser(ssub: Any, common: argparse.ArgumentParser) -> None:
    p = ssub.add_parser(
        "backfill",
        parents=[common],
        help="queue the recordings stored on these days that have no transcription job yet; "
        "prints how many",
    )
    p.add_argument(
        "--from", dest="first", metavar="DATE", required=True, type=_day,
        help="the first day, YYYY-MM-DD (web.timezone)",
    )  # fmt: skip
    p.add_argument(
        "--to", dest="last", metavar="DATE", required=True, type=_day,
        help="the last day (included)",
    )  # fmt: skip


async def run(settings: Settings, args: argparse.Namespace, engine: AsyncEngine) -> int:
    first, last = args.first, args.last
    if last < first:
        print(f"error: --to {last} is before --from {first}", file=sys.stderr)
        return 2
    tz = settings.tz
    since = datetime.combine(first, time(), tz).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(), tz).astimezone(UTC)
    done = await Transcripts(lambda: engine, SystemClock()).queue_stored(since, until)
    print(
        f"queued {done.queued} recordings of {first} to {last} for transcription; "
        f"{done.empty} empty ones recorded as skipped (no speech)"
    )
    if settings.speech.enabled == "off":
        print(
            'note: speech.enabled is "off": the queue is worked once it is "auto" or true',
            file=sys.stderr,
        )
    return 0
