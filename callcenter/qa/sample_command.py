"""`callcenter qa sample`: draw a day's (or a week's) spot-check samples, or show the stored
draw, and print them — what the service draws by itself at qa.draw_hour."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.auth import store as auth_store
from callcenter.auth.model import Principal
from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.errors import DomainError
from callcenter.qa import periods
from callcenter.qa.draw import Drawn, Draws
from callcenter.qa.model import REVIEWERS, SCOPE_OF, Scope

EXIT_USAGE = 2
REASONS = {"violation": "violation", "complaint": "complaint", "new_agent": "new agent"}


def add_sample_parser(qsub: Any, common: argparse.ArgumentParser) -> None:
    sample = qsub.add_parser(
        "sample",
        parents=[common],
        help="draw the spot-check samples of a day (a week with --weekly), or show the stored "
        "draw, and print them",
    )
    sample.add_argument("--date", required=True, help="the day, YYYY-MM-DD (with --weekly: "
                        "any day of the week, or the week as 2026-W49)")  # fmt: skip
    sample.add_argument("--reviewer", help="one team lead or QA lead (default: every one)")
    sample.add_argument(
        "--weekly", action="store_true", help="the QA lead's weekly sample, not the daily one"
    )
    sample.add_argument(
        "--audit",
        action="store_true",
        help="draw the stored sample again from its seed, store nothing, and say whether it is "
        "the same (exit 0) or how it differs (exit 1)",
    )


def is_sample(args: argparse.Namespace) -> bool:
    return args.command == "qa" and getattr(args, "qa_command", None) == "sample"


def _print(
    reviewer: Principal, scope: Scope, period: str, drawn: list[Drawn], tz: ZoneInfo
) -> None:
    seed = drawn[0].sample.seed if drawn else "-"
    count = f"{len(drawn)} recording{'s' * (len(drawn) != 1)}"
    print(f"{reviewer.name} ({reviewer.role.value}), {scope} sample of {period}: {count}, "
          f"seed {seed}")  # fmt: skip
    for d in drawn:
        at = d.call_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if d.call_at else "-"
        why = ", ".join(REASONS[r] for r in d.reasons) or "-"
        print(f"  {d.agent or '-':<16} {d.sample.recording_id}  {at}  {d.sample.sheet:<8}  {why}")


async def sample(settings: Settings, args: argparse.Namespace, engine: AsyncEngine) -> int:
    scope: Scope = "weekly" if args.weekly else "daily"
    try:
        period = periods.parse(scope, args.date)
    except ValueError as exc:
        print(f"error: --date: {exc}", file=sys.stderr)
        return EXIT_USAGE
    draws = Draws(lambda: engine, SystemClock(), settings.qa, settings.web.timezone)
    async with engine.connect() as conn:
        if args.reviewer:
            found = await auth_store.user_by_name(conn, args.reviewer)
            if found is None or found.role not in REVIEWERS:
                print(f"error: --reviewer: no team lead or QA lead named {args.reviewer!r}",
                      file=sys.stderr)  # fmt: skip
                return EXIT_USAGE
            if SCOPE_OF[found.role] != scope:
                other = "without" if scope == "weekly" else "with"
                print(f"error: {found.name} is a {found.role.value}: draw {other} --weekly",
                      file=sys.stderr)  # fmt: skip
                return EXIT_USAGE
            reviewers = [found]
        else:
            reviewers = [r for r in await draws.reviewers(conn) if SCOPE_OF[r.role] == scope]
    if not reviewers:
        print(f"no {'QA lead' if args.weekly else 'team lead'} to draw for")
        return 0
    if args.audit:
        return await _audit(draws, reviewers, scope, period)
    for reviewer in reviewers:
        try:
            drawn = await draws.draw_for(reviewer, scope, period)
        except DomainError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return EXIT_USAGE
        _print(reviewer, scope, period.key, drawn, draws.tz)
    return 0


async def _audit(
    draws: Draws, reviewers: list[Principal], scope: Scope, period: periods.Period
) -> int:
    differ = 0
    for reviewer in reviewers:
        a = await draws.audit(reviewer, scope, period)
        head = f"{reviewer.name}, {scope} sample of {period.key}"
        if a.stored_seed is None:
            print(f"{head}: not drawn yet")
        elif a.same:
            print(f"{head}: the same {len(a.stored)} recordings drawn again (seed {a.seed})")
        else:
            differ += 1
            print(f"{head}: differs")
            if a.stored_seed != a.seed:
                print(f"  seed {a.stored_seed} then, {a.seed} now: the [qa] settings changed")
            for rec in sorted(a.stored - a.redrawn):
                print(f"  only in the stored draw: {rec}")
            for rec in sorted(a.redrawn - a.stored):
                print(f"  only drawn now: {rec}")
    return 1 if differ else 0
