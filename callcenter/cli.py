"""The `callcenter` commands: serve, db, user, token, recording, audit, qa, report, wallboard,
probe, …"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from callcenter import db
from callcenter.auth import service as auth_service
from callcenter.auth import store as auth_store
from callcenter.auth.model import Role
from callcenter.clock import SystemClock, iso_z
from callcenter.config import ConfigError, LogSettings, Settings, load_settings
from callcenter.errors import DomainError
from callcenter.ops import cli as ops_cli
from callcenter.ops import logs
from callcenter.probe import cli as probe_cli
from callcenter.qa import assessment_cli as qa_assessment
from callcenter.qa import sample_command as qa_sample
from callcenter.recordings import commands as recording_commands
from callcenter.reports import cli as report_cli
from callcenter.speech import backfill_cli as speech_backfill
from callcenter.speech import cli as speech_cli
from callcenter.speech.service import Transcripts, queue_hook
from callcenter.wallboard import cli as wallboard_cli

log = logging.getLogger("callcenter")

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="TOML settings file")
    p = argparse.ArgumentParser(prog="callcenter", description=__doc__, parents=[common])
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the service")
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    serve.add_argument(
        "--demo", action="store_true", help="also run a simulated hotline sending HEP to us"
    )

    dbp = sub.add_parser("db", parents=[common], help="database schema")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", parents=[common], help="apply every pending migration")
    dbsub.add_parser("current", parents=[common], help="print the schema revision")

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

    stations = sub.add_parser("stations", parents=[common], help="the address book of stations")
    ssub = stations.add_subparsers(dest="stations_command", required=True)
    check = ssub.add_parser(
        "check",
        parents=[common],
        help="report overlapping and unused rules and stations with no rule (exit 1 if any)",
    )
    check.add_argument(
        "--file", type=Path, help="the address book (default: tickets.stations_file)"
    )
    route = ssub.add_parser(
        "route", parents=[common], help="an address's standard form and the station it goes to"
    )
    route.add_argument("address")
    route.add_argument(
        "--file", type=Path, help="the address book (default: tickets.stations_file)"
    )
    client = sub.add_parser(
        "station-client",
        help="a station's client: print its repair orders as they arrive and acknowledge them",
    )
    client.add_argument("--station", required=True, help="the station's code (stations.toml)")
    client.add_argument(
        "--mqtt", required=True, metavar="URL", help="the broker: mqtt://user:password@host:port"
    )
    client.add_argument("--prefix", default="callcenter", help="the service's mqtt.topic_prefix")
    client.add_argument("--once", action="store_true", help="exit after the first order")
    client.add_argument("--timezone", default="Asia/Shanghai", help="print due times in this zone")
    client.add_argument(
        "--client-id", help="MQTT client id (default <prefix>-station-<code>; keep it fixed)"
    )
    recording_commands.add_parsers(sub, common)
    ops_cli.add_parsers(sub, common)
    qa = sub.add_parser("qa", parents=[common], help="recording spot checks (录音抽查)")
    qsub = qa.add_subparsers(dest="qa_command", required=True)
    qa_sample.add_sample_parser(qsub, common)
    qa_assessment.add_parser(qsub, common)
    report_cli.add_parser(sub, common)
    wallboard_cli.add_parser(sub, common)
    speech_backfill.add_parser(speech_cli.add_parser(sub, common), common)
    probe_cli.add_parser(sub, common)
    return p


def _actor() -> str:
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


async def _with_engine(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    engine = db.create_engine(settings.database_url)
    try:
        if await db.current_revision(engine) != db.head_revision():
            print(
                "error: the database is not migrated: run `callcenter db upgrade`", file=sys.stderr
            )
            return EXIT_USAGE
        return await work(engine)
    finally:
        await engine.dispose()


class _HeldBack(logging.Handler):
    """Keeps a library's log records; they are printed only if the command fails."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _db(settings: Settings, args: argparse.Namespace) -> int:
    # Alembic narrates every step ("Context impl SQLiteImpl."): the operator sees the revision,
    # and the narration only when something went wrong.
    alembic_log = logging.getLogger("alembic")
    held = _HeldBack()
    alembic_log.addHandler(held)
    alembic_log.propagate = False
    engine = db.create_engine(settings.database_url)
    try:
        if args.db_command == "upgrade":
            await db.upgrade(engine)
        print(await db.current_revision(engine) or "(empty)")
        return 0
    except BaseException:
        for handler in logging.getLogger().handlers:
            for record in held.records:
                handler.handle(record)
        raise
    finally:
        alembic_log.removeHandler(held)
        alembic_log.propagate = True
        await engine.dispose()


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


async def _user(settings: Settings, args: argparse.Namespace) -> int:
    clock = SystemClock()

    async def work(engine: Any) -> int:
        if args.user_command == "list":
            async with engine.connect() as conn:
                for u, disabled in await auth_store.list_accounts(conn):
                    line = f"{u.name}\t{u.role.value}\t{u.extension or '-'}\t{u.work_number or '-'}"
                    print(line + ("\tdisabled" if disabled else ""))
            return 0
        if args.user_command in ("disable", "enable"):
            disabled = args.user_command == "disable"
            changed = await auth_service.set_disabled(
                engine, clock, args.name, disabled, actor=_actor()
            )
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
            user = await auth_service.add_user(
                engine,
                clock,
                args.name,
                args.role,
                password,
                extension=args.extension,
                work_number=args.work_number,
                language=args.language,
                actor=_actor(),
                station=args.station,
            )
            print(f"added {user.name} ({user.role.value})")
        else:
            ended = await auth_service.set_password(
                engine, clock, args.name, password, actor=_actor()
            )
            sessions = "1 session" if ended == 1 else f"{ended} sessions"
            print(f"password of {args.name} changed; {sessions} ended")
        if generated:
            print(f"password: {password}  (shown once; store it now)")
        return 0

    return await _with_engine(settings, work)


async def _token(settings: Settings, args: argparse.Namespace) -> int:
    clock = SystemClock()

    async def work(engine: Any) -> int:
        if args.token_command == "create":
            print(
                await auth_service.create_token(
                    engine, clock, args.name, args.expires_days, actor=_actor()
                )
            )
        elif args.token_command == "list":
            now = clock.now()
            print("id\tuser\tcreated\tlast used\texpires\tstate")
            for t in await auth_service.list_tokens(engine, args.name):
                used, expires = iso_z(t.last_used_at) or "-", iso_z(t.expires_at) or "never"
                print(f"{t.id}\t{t.user}\t{iso_z(t.created_at)}\t{used}\t{expires}\t{t.state(now)}")
        else:
            token = await auth_service.revoke_token(engine, clock, args.id, actor=_actor())
            print(f"token {token.id} of {token.user} revoked")
        return 0

    return await _with_engine(settings, work)


def _stations(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.stations import service as stations
    from callcenter.stations.store import AddressBookError

    path = args.file or settings.stations_path
    try:
        book, problems = stations.load(path)
    except AddressBookError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.stations_command == "route":
        r = stations.route(book, args.address)
        print(f"{r.standard}\t{r.status}\t{r.station or '-'}\t{r.reason}")
        return 0 if r.status == "matched" else 1
    for problem in problems:
        print(f"{problem.kind}: {problem.message}")
    counts = f"{len(book.stations)} stations, {len(book.rules)} rules"
    print(f"{path}: {counts}, {len(problems) or 'no'} problem{'s' * (len(problems) != 1)}")
    return 1 if problems else 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from callcenter.app import StartupError, build

    demo = None
    if args.demo:
        from callcenter.demo import run_demo
        from callcenter.demo_stations import demo_settings

        demo = run_demo
        settings = demo_settings(settings)
    app = build(settings, migrate=args.migrate, demo=demo)
    listen = settings.web.listen
    try:
        web.run_app(
            app,
            host=listen.host,
            port=listen.port,
            print=lambda _: log.info("web on http://%s", listen),
            access_log=None,
        )
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: web.listen: cannot listen on {listen}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


async def _recording(settings: Settings, args: argparse.Namespace, engine: Any) -> int:
    # A recording added by hand (MixMonitor's post-command) is queued for transcription by
    # the command itself: the running service takes it within seconds.
    transcripts = None
    if settings.speech.enabled != "off":
        transcripts = Transcripts(lambda: engine, SystemClock())
    return await recording_commands.run(settings, args, engine, queue_hook(transcripts))


def _run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (
        args.command == "user"
        and args.user_command == "add"
        and args.role == Role.AGENT
        and not args.extension
    ):
        # An agent without a phone is never matched to a ringing leg: every violation of theirs
        # would be nobody's.
        parser.error("agents need --extension: the phone they answer")
    logs.configure(LogSettings())  # until the settings say which shape (log.format)
    if args.command != "db":
        # Alembic narrates every connection it inspects; only `db` commands need that.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "station-client":
        # Runs at the station: no settings, no database, only the broker.
        from callcenter.orders.station_client import run_cli

        return run_cli(
            args.station, args.mqtt, args.prefix, args.once, args.timezone, args.client_id
        )
    try:
        path = getattr(args, "config", None) or os.environ.get("CALLCENTER_CONFIG") or None
        settings = load_settings(Path(path) if path else None)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(settings.log)
    try:
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "db":
            return _run(_db(settings, args))
        if args.command == "user":
            return _run(_user(settings, args))
        if args.command == "token":
            return _run(_token(settings, args))
        if args.command == "stations":
            return _stations(settings, args)
        if args.command == "backup":
            return ops_cli.run_backup(settings, args.to)
        if args.command == "restore":
            return ops_cli.run_restore(settings, args.source, args.force)
        if args.command in recording_commands.COMMANDS:
            return _run(_with_engine(settings, lambda e: _recording(settings, args, e)))
        if qa_sample.is_sample(args):
            return _run(_with_engine(settings, lambda e: qa_sample.sample(settings, args, e)))
        if args.command == "qa" and args.qa_command == "assessment":
            return _run(_with_engine(settings, lambda e: qa_assessment.run(settings, args, e)))
        if args.command == "report":
            return _run(_with_engine(settings, lambda e: report_cli.run(settings, args, e)))
        if args.command == "speech" and args.speech_command == "backfill":
            return _run(_with_engine(settings, lambda e: speech_backfill.run(settings, args, e)))
        if args.command == "wallboard":
            return _run(_with_engine(settings, lambda e: wallboard_cli.run(settings, args, e)))
        if args.command == "speech":
            return speech_cli.run(settings, args)
        if args.command == "probe" and args.once:
            return _run(probe_cli.once(settings))
        if args.command == "probe":
            return _run(_with_engine(settings, lambda e: probe_cli.run(settings, e)))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
