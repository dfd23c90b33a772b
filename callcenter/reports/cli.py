"""`callcenter report daily|weekly|monthly|season`: the report form from the database, as the
API gives it, to standard output or a file (the XLSX only to a file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.calls.rings import RingRule
from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.reports import export
from callcenter.reports.archiving import Archivist
from callcenter.reports.http import FORMATS
from callcenter.reports.model import REPORT_KINDS
from callcenter.reports.schemas import report_json
from callcenter.reports.service import EXAMPLES, Reports
from callcenter.stations import service as stations_service
from callcenter.stations.store import AddressBookError

OPTION = {"daily": "--date", "weekly": "--week", "monthly": "--month", "season": "--season"}


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    report = sub.add_parser("report", parents=[common], help="the report form (日报表)")
    rsub = report.add_subparsers(dest="report_kind", required=True)
    for kind in REPORT_KINDS:
        p = rsub.add_parser(kind, parents=[common], help=f"the {kind} report")
        p.add_argument(
            OPTION[kind], dest="period", help=f"e.g. {EXAMPLES[kind]} (default: the last one over)"
        )
        p.add_argument(
            "--format", choices=FORMATS, help="default: the --out file's suffix, else json"
        )
        p.add_argument("--out", type=Path, help="write here (required for xlsx)")


async def run(settings: Settings, args: argparse.Namespace, engine: AsyncEngine) -> int:
    fmt = args.format
    if fmt is None:
        suffix = args.out.suffix.lstrip(".").lower() if args.out else ""
        fmt = suffix if suffix in FORMATS else "json"
    if fmt == "xlsx" and args.out is None:
        print("error: --format xlsx needs --out FILE", file=sys.stderr)
        return 2
    try:
        book = stations_service.load_for_service(settings.stations_path, required=False)
    except AddressBookError as exc:
        print(f"error: tickets.stations_file: {exc}", file=sys.stderr)
        return 2
    reports = Reports(
        lambda: engine,
        SystemClock(),
        settings.reports,
        RingRule(settings.rings.cycle_seconds, settings.rings.limit),
        settings.web.timezone,
        lambda: book,
    )
    period = reports.parse(args.report_kind, args.period)  # DomainError: main prints it
    await reports.check(period)
    report = await reports.build(period)
    if fmt == "json":
        body = report_json(report, reports.complete(period))
        body["archive"] = await Archivist(reports).verdict(period, body)
        data = (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    else:
        data = export.to_csv(report) if fmt == "csv" else export.to_xlsx(report)
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        args.out.write_bytes(data)
        print(f"{args.out}: {args.report_kind} report {period.key}", file=sys.stderr)
    return 0
