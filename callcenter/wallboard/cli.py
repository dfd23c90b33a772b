"""`callcenter wallboard create NAME | list | revoke ID`: a TV's token from the command line,
as the API gives it (the token printed once, only its hash kept)."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.calls.rings import RingRule
from callcenter.clock import SystemClock, iso_z
from callcenter.config import Settings
from callcenter.stations.model import AddressBook
from callcenter.wallboard.live import REFRESH_SECONDS
from callcenter.wallboard.service import Wallboards


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    wall = sub.add_parser("wallboard", parents=[common], help="wallboard (大屏) tokens for TVs")
    wsub = wall.add_subparsers(dest="wallboard_command", required=True)
    create = wsub.add_parser(
        "create", parents=[common], help="a new board's token and address (printed once)"
    )
    create.add_argument("name", help="what people call the TV, e.g. 大厅电视")
    wsub.add_parser("list", parents=[common], help="every token (never the token itself)")
    revoke = wsub.add_parser("revoke", parents=[common], help="revoke the token with this id")
    revoke.add_argument("id", type=int)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def _base_url(settings: Settings) -> str:
    listen = settings.web.listen
    host = "HOST" if listen.host in ("", "0.0.0.0", "::") else listen.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{listen.port}"


async def run(settings: Settings, args: argparse.Namespace, engine: AsyncEngine) -> int:
    wallboards = Wallboards(
        lambda: engine,
        SystemClock(),
        RingRule(settings.rings.cycle_seconds, settings.rings.limit),
        settings.web.timezone,
        book=lambda: AddressBook([], []),  # tokens only: no figures are read here
        tracker=lambda: None,
    )
    if args.wallboard_command == "create":
        token, secret = await wallboards.create(args.name, _actor())
        print(f"wallboard token {token.id} ({token.name}) created")
        print(f"token: {secret}  (shown once; store it now)")
        print(f"open on the TV: {_base_url(settings)}/wallboard?token={secret}")
        print("  (behind a proxy, use the address people reach the service on)")
    elif args.wallboard_command == "list":
        print("id\tname\tstate\tcreated\tby\tlast seen\trevoked\tby")
        for t in await wallboards.tokens():
            state = "revoked" if t.revoked else "active"
            print(
                f"{t.id}\t{t.name}\t{state}\t{iso_z(t.created_at)}\t{t.created_by}\t"
                f"{iso_z(t.last_seen_at) or '-'}\t{iso_z(t.revoked_at) or '-'}\t"
                f"{t.revoked_by or '-'}"
            )
    else:
        token = await wallboards.revoke(args.id, _actor())
        print(
            f"wallboard token {token.id} ({token.name}) revoked; a board showing it goes "
            f"dark within {REFRESH_SECONDS:.0f} s"
        )
    return 0
