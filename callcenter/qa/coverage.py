"""Coverage (抽查覆盖): per agent, the recordings drawn and checked for a week and a month
against the rule — each team lead daily_per_agent a day, the QA lead weekly_per_agent a week.
A sample counts in the window its calls were taken in (its period), not when it was scored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.auth.model import Role
from callcenter.auth.store import users
from callcenter.qa import periods
from callcenter.qa.model import SCOPES, Scope
from callcenter.qa.settings import QaSettings
from callcenter.qa.store import qa_evaluations, qa_samples


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # "2026-W49" or "2026-12"
    first: date
    end: date  # exclusive

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.end - self.first).days)]

    def weeks(self) -> list[periods.Period]:
        """The ISO weeks that end (on their Sunday) inside the window."""
        return [periods.week_of(d) for d in self.days() if d.weekday() == 6]


def week_window(week: periods.Period) -> Window:
    return Window(week.key, week.first, week.first + timedelta(days=7))


def month_window(text: str) -> Window:
    first, end = periods.month(text)
    return Window(text, first, end)


async def _counts(conn: AsyncConnection, w: Window) -> dict[tuple[int, str], tuple[int, int]]:
    """(agent, scope) → (drawn, checked) of the samples of the window's periods."""
    days = [d.isoformat() for d in w.days()]
    weeks = [p.key for p in w.weeks()] or ["-"]
    stmt = (
        select(
            qa_samples.c.agent_id,
            qa_samples.c.scope,
            func.count(),
            func.count(qa_evaluations.c.id),
        )
        .select_from(
            qa_samples.outerjoin(qa_evaluations, qa_evaluations.c.sample_id == qa_samples.c.id)
        )
        .where(
            or_(
                and_(qa_samples.c.scope == "daily", qa_samples.c.period.in_(days)),
                and_(qa_samples.c.scope == "weekly", qa_samples.c.period.in_(weeks)),
            ),
            qa_samples.c.status != "void",
            qa_samples.c.agent_id.is_not(None),
        )
        .group_by(qa_samples.c.agent_id, qa_samples.c.scope)
    )
    return {(r[0], r[1]): (r[2], r[3]) for r in await conn.execute(stmt)}


def _expected(w: Window, scope: Scope, qa: QaSettings, now: datetime, tz: ZoneInfo) -> int:
    """One reviewer's due count for one agent: the days (weeks) of the window that are over."""
    if scope == "daily":
        over = sum(1 for d in w.days() if periods.day(d).over(now, tz))
        return qa.daily_per_agent * over
    return qa.weekly_per_agent * sum(1 for p in w.weeks() if p.over(now, tz))


async def coverage(
    conn: AsyncConnection,
    windows: dict[str, Window],
    qa: QaSettings,
    now: datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:
    people = (
        await conn.execute(
            select(users.c.id, users.c.name, users.c.role, users.c.work_number, users.c.disabled)
        )
    ).all()
    reviewers = {
        scope: sum(1 for p in people if p.role == role.value and not p.disabled)
        for role, scope in ((Role.TEAM_LEAD, "daily"), (Role.QA_LEAD, "weekly"))
    }
    counts = {k: await _counts(conn, w) for k, w in windows.items()}
    sampled = {agent for c in counts.values() for agent, _ in c}
    agents = [
        p for p in people if (p.role == Role.AGENT.value and not p.disabled) or p.id in sampled
    ]
    rows = []
    for a in sorted(agents, key=lambda p: p.name):
        row: dict[str, Any] = {"agent": {"id": a.id, "name": a.name, "work_number": a.work_number}}
        for key, w in windows.items():
            cell: dict[str, Any] = {}
            for scope in SCOPES:
                drawn, checked = counts[key].get((a.id, scope), (0, 0))
                expected = _expected(w, scope, qa, now, tz) * reviewers[scope]
                cell[scope] = {"drawn": drawn, "checked": checked, "expected": expected}
            row[key] = cell
        rows.append(row)
    return {
        **{
            key: {"name": w.name, "first": w.first.isoformat(), "last": w.days()[-1].isoformat()}
            for key, w in windows.items()
        },
        "rule": {
            "daily_per_agent": qa.daily_per_agent,
            "weekly_per_agent": qa.weekly_per_agent,
            "team_leads": reviewers["daily"],
            "qa_leads": reviewers["weekly"],
        },
        "agents": rows,
    }
