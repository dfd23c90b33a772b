"""`callcenter user …` and `callcenter token …`: people, roles and API tokens from the command
line (the first supervisor is added here), every change in the auth log with `cli:<login>`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from callcenter.auth import service as auth_service
from callcenter.auth import store as auth_store
from callcenter.auth.model import Role
from callcenter.clock import SystemClock, iso_z
from callcenter.config import Settings


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", parents=[common], help="people and roles")
    usub = user.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser(
        "add",
        parents=[common],
        help="add a user; the password is read from standard input, or generated and printed",
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--extension",
        help="the phone the user answers (maps ringing phones to agents); required for agents",
    )
    add.add_argument("--work-number", help="工号, the agent's work number")
    add.add_argument("--language", choices=["zh-CN", "en"])
    add.add_argument(
        "--station", help="a station account's station code (role station; see stations.toml)"
    )
    usub.add_parser("list", parents=[common], help="list users")
    passwd = usub.add_parser(
        "passwd",
        parents=[common],
        help="set a new password (standard input, or generated); ends the user's sessions",
    )
    passwd.add_argument("name")
    disable = usub.add_parser(
        "disable", parents=[common], help="refuse the user's logins, sessions and tokens"
    )
    disable.add_argument("name")
    enable = usub.add_parser("enable", parents=[common], help="let a disabled user in again")
    enable.add_argument("name")

    token = sub.add_parser("token", parents=[common], help="API tokens")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", parents=[common], help="print a new bearer token for NAME")
    create.add_argument("name")
    create.add_argument(
        "--expires-days", type=float, help="the token stops working after this many days"
    )
    tlist = tsub.add_parser(
        "list", parents=[common], help="list tokens (id, user, created, last used, expires)"
    )
    tlist.add_argument("name", nargs="?", help="only this user's")
    revoke = tsub.add_parser("revoke", parents=[common], help="revoke the token with this id")
    revoke.add_argument("id", type=int)


def actor() -> str:
    """Who made a change from the command line, for the auth log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def _password_from_stdin() -> tuple[str, bool]:
    """(password, generated). A terminal gets a generated one; a pipe gives its first line."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if line:
            return line, False
    return auth_service.generate_password(), True


async def _clash(engine: Any, args: argparse.Namespace, settings: Settings) -> str | None:
    """What a new user would clash with: its name, its extension, or its work number (工号);
    or a station the address book does not have."""
    if args.station is not None:
        from callcenter.stations import service as stations
        from callcenter.stations.store import AddressBookError

        try:
            book, _ = stations.load(settings.stations_path)
        except (AddressBookError, OSError) as exc:
            return f"the address book cannot be read to check --station: {exc}"
        if book.station(args.station) is None:
            codes = ", ".join(s.code for s in book.stations)
            return f"no station {args.station!r} in the address book (stations: {codes})"
    async with engine.connect() as conn:
        if await auth_store.user_by_name(conn, args.name) is not None:
            return f"a user named {args.name!r} already exists"
        if args.extension is not None:
            holder = await auth_store.user_by_extension(conn, args.extension)
            if holder is not None:
                return f"extension {args.extension} is already held by user {holder.name!r}"
        if args.work_number is not None:
            for other in await auth_store.list_users(conn):
                if other.work_number == args.work_number:
                    return f"work number {args.work_number} is already held by user {other.name!r}"
    return None


async def user(settings: Settings, args: argparse.Namespace, engine: Any) -> int:
    """`callcenter user add|list|passwd|disable|enable`."""
    clock = SystemClock()
    if args.user_command == "list":
        async with engine.connect() as conn:
            for u, disabled in await auth_store.list_accounts(conn):
                line = f"{u.name}\t{u.role.value}\t{u.extension or '-'}\t{u.work_number or '-'}"
                print(line + ("\tdisabled" if disabled else ""))
        return 0
    if args.user_command in ("disable", "enable"):
        disabled = args.user_command == "disable"
        changed = await auth_service.set_disabled(engine, clock, args.name, disabled, actor=actor())
        state = "disabled" if disabled else "enabled"
        print(f"{args.name} {state}" if changed else f"{args.name} was already {state}")
        return 0
    if args.user_command == "add":
        clash = await _clash(engine, args, settings)
        if clash is not None:
            print(f"error: {clash}; nothing added", file=sys.stderr)
            return 1
    password, generated = _password_from_stdin()
    if args.user_command == "add":
        added = await auth_service.add_user(
            engine,
            clock,
            args.name,
            args.role,
            password,
            extension=args.extension,
            work_number=args.work_number,
            language=args.language,
            actor=actor(),
            station=args.station,
        )
        print(f"added {added.name} ({added.role.value})")
    else:
        ended = await auth_service.set_password(engine, clock, args.name, password, actor=actor())
        sessions = "1 session" if ended == 1 else f"{ended} sessions"
        print(f"password of {args.name} changed; {sessions} ended")
    if generated:
        print(f"password: {password}  (shown once; store it now)")
    return 0


async def token(args: argparse.Namespace, engine: Any) -> int:
    """`callcenter token create|list|revoke`."""
    clock = SystemClock()
    if args.token_command == "create":
        print(
            await auth_service.create_token(
                engine, clock, args.name, args.expires_days, actor=actor()
            )
        )
    elif args.token_command == "list":
        now = clock.now()
        print("id\tuser\tcreated\tlast used\texpires\tstate")
        for t in await auth_service.list_tokens(engine, args.name):
            used, expires = iso_z(t.last_used_at) or "-", iso_z(t.expires_at) or "never"
            print(f"{t.id}\t{t.user}\t{iso_z(t.created_at)}\t{used}\t{expires}\t{t.state(now)}")
    else:
        revoked = await auth_service.revoke_token(engine, clock, args.id, actor=actor())
        print(f"token {revoked.id} of {revoked.user} revoked")
    return 0
