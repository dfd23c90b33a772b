"""`callcenter recording add` (Asterisk MixMonitor's post-command) and `callcenter audit
verify`: they work on the database and the store directly, like the other commands."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.errors import DomainError
from callcenter.events import RecordingStored
from callcenter.recordings import audit
from callcenter.recordings.schemas import recording_json
from callcenter.recordings.service import Inbound, Recordings

COMMANDS = ("recording", "audit")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    rec = sub.add_parser("recording", parents=[common], help="call recordings")
    rsub = rec.add_subparsers(dest="recording_command", required=True)
    add = rsub.add_parser(
        "add",
        parents=[common],
        help="store a recording file and link it to its call; prints the recording as JSON "
        "(for a file stored before, the stored one)",
    )
    add.add_argument(
        "--call",
        help="the call: our call id, or the PBX's (SIP Call-ID, AMI Linkedid, ESL call UUID)",
    )
    add.add_argument("--source", help="the [[pbx]] id the call came from, if known")
    add.add_argument("file", help="the recording (a regular file; it is copied, not moved)")
    aud = sub.add_parser("audit", parents=[common], help="the recording audit log")
    asub = aud.add_subparsers(dest="audit_command", required=True)
    asub.add_parser(
        "verify",
        parents=[common],
        help="walk the hash chain; exit 0 if intact, 1 naming the first broken entry",
    )


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


async def run(
    settings: Settings,
    args: argparse.Namespace,
    engine: AsyncEngine,
    on_stored: Callable[[RecordingStored], Awaitable[None]] | None = None,
) -> int:
    """`on_stored`: told of a new recording after its commit (cli.py: the transcription
    queue)."""
    if args.command == "audit":
        verdict = await audit.verify(engine)
        if verdict.intact:
            print(f"chain intact ({verdict.entries} entries), head {verdict.head_hash}")
            return 0
        print(
            f"chain broken: {verdict.problem} ({verdict.entries} entries intact before it)",
            file=sys.stderr,
        )
        return 1
    service = Recordings(
        lambda: engine,
        SystemClock(),
        settings.recordings,
        settings.recordings_root,
        on_stored=on_stored,
    )
    try:
        path = service.checked_path(args.file, announced=False)
        inbound = Inbound("cli", _actor(), path.name, args.call or None, args.source or None)
        stored = await service.add_file(path, inbound)
    except DomainError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    body = recording_json(stored.recording) | {"duplicate": not stored.created}
    print(json.dumps(body, ensure_ascii=False))
    return 0
