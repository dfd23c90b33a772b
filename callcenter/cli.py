"""The `callcenter` commands: serve, db, user, token, recording, audit, qa, report, wallboard,
probe, …"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from callcenter import db
from callcenter.auth import cli as auth_cli
from callcenter.auth.model import Role
from callcenter.clock import SystemClock
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

    auth_cli.add_parsers(sub, common)

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
            return _run(_with_engine(settings, lambda e: auth_cli.user(settings, args, e)))
        if args.command == "token":
            return _run(_with_engine(settings, lambda e: auth_cli.token(args, e)))
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
