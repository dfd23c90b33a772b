"""`callcenter qa assessment`: the monthly assessment (月度考核) from the database, as the API
gives it, to standard output or a file (the XLSX only to a file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import store as auth_store
from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.errors import ConfigError
from callcenter.qa import checklists as qa_checklists
from callcenter.qa import export
from callcenter.qa.checklists import Checklist, Sheet
from callcenter.qa.http_assessment import FORMATS, MONTH_RE, build_month


def _month(value: str) -> str:
    if not MONTH_RE.match(value):
        raise argparse.ArgumentTypeError("YYYY-MM, e.g. 2026-12")
    return value


def add_parser(qsub: Any, common: argparse.ArgumentParser) -> None:
    p = qsub.add_parser(
        "assessment",
        parents=[common],
        help="the monthly assessment (月度考核): fines, callbacks, good examples, bonus level",
    )
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM, in web.timezone")
    p.add_argument("--format", choices=FORMATS, help="default: the --out file's suffix, else json")
    p.add_argument("--out", type=Path, help="write here (required for xlsx)")
    p.add_argument("--agent", help="only this user's row")


def _sheets(settings: Settings) -> dict[Sheet, Checklist]:
    """The spot-check sheets, which say which items are scripted phrases; none: only the
    field findings (name, phone, address, station) are read off the evaluations."""
    if not settings.checklists_dir.exists():
        return {}
    return qa_checklists.load(settings.checklists_dir)


async def run(settings: Settings, args: argparse.Namespace, engine: AsyncEngine) -> int:
    fmt = args.format
    if fmt is None:
        suffix = args.out.suffix.lstrip(".").lower() if args.out else ""
        fmt = suffix if suffix in FORMATS else "json"
    if fmt == "xlsx" and args.out is None:
        print("error: --format xlsx needs --out FILE", file=sys.stderr)
        return 2
    agent_id = None
    if args.agent:
        async with engine.connect() as conn:
            user = await auth_store.user_by_name(conn, args.agent)
        if user is None:
            print(f"error: no user named {args.agent!r}", file=sys.stderr)
            return 1
        agent_id = user.id
    try:
        sheets = _sheets(settings)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    qa = settings.qa
    m = await build_month(
        engine, SystemClock(), settings.web.timezone, qa, sheets, args.month, agent_id
    )
    if fmt == "json":
        body = json.dumps(export.month_json(m, qa.fines), ensure_ascii=False, indent=2) + "\n"
        data = body.encode("utf-8")
    else:
        data = export.to_csv(m) if fmt == "csv" else export.to_xlsx(m, qa.fines)
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        args.out.write_bytes(data)
        print(f"{args.out}: {len(m.rows)} agents, {args.month}", file=sys.stderr)
    return 0
