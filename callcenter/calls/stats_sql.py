"""The answer figures of a period (stats.AnswerStats) counted inside PostgreSQL, for the
reports over a month or a season: loading a season's million calls into Python takes far
longer than the target. The definition is stats.py's; this is the same arithmetic in SQL
(interval comparisons, exact to the microsecond as RingRule is), and a property test holds
the two equal on random calls. SQLite, the small-site default, keeps the Python path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Interval, and_, case, func, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.calls import stats
from callcenter.calls import store as calls_store
from callcenter.calls.rings import RingRule
from callcenter.calls.store import calls, legs


async def answer_totals(
    conn: AsyncConnection, rule: RingRule, tz: Any, now: datetime, start: datetime, end: datetime
) -> dict[str, Any]:
    """stats.answer_stats' total for the monitored calls offered in [start, end)."""
    if conn.dialect.name != "postgresql":
        found = await calls_store.calls_between(conn, start, end, monitored_only=True)
        return stats.answer_stats(found, rule, None, tz, now)[1]
    return (await _counts(conn, rule, now, start, end)).as_json()


def _past(until: Any, deadline: Any) -> Any:
    """A leg had rung past the limit by `until`: min(its end or until, until) ≥ start + limit."""
    stopped = func.least(func.coalesce(legs.c.ended_at, until), until)
    return and_(legs.c.ring_started_at.is_not(None), stopped >= legs.c.ring_started_at + deadline)


async def _counts(
    conn: AsyncConnection, rule: RingRule, now: datetime, start: datetime, end: datetime
) -> stats.AnswerStats:
    deadline = literal(rule.deadline, Interval())
    at_now = literal(now, calls.c.offered_at.type)
    over = or_(
        legs.c.ring_limit_recorded.is_(True),
        and_(
            legs.c.answered_at.is_not(None),
            legs.c.ring_started_at.is_not(None),
            legs.c.answered_at >= legs.c.ring_started_at + deadline,
        ),
    )
    per_call = (
        select(
            calls.c.final,
            calls.c.answered_at.is_not(None).label("answered"),
            func.coalesce(func.sum(case((over, 1), else_=0)), 0).label("late_legs"),
            func.coalesce(
                func.bool_or(_past(func.coalesce(calls.c.ended_at, at_now), deadline)), False
            ).label("past_end"),
            func.coalesce(func.bool_or(_past(at_now, deadline)), False).label("past_now"),
        )
        .select_from(calls.outerjoin(legs, legs.c.call_pk == calls.c.id))
        .where(calls.c.offered_at >= start, calls.c.offered_at < end, calls.c.monitored.is_(True))
        .group_by(calls.c.id, calls.c.final, calls.c.answered_at)
        .subquery()
    )
    c = per_call.c
    lost = func.coalesce(c.final, "") == "lost"
    kept = not_(lost)
    on_time = c.late_legs == 0

    def n(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = (
        await conn.execute(
            select(
                n(kept),
                n(and_(kept, c.answered)),
                n(and_(kept, c.answered, on_time)),
                n(and_(kept, c.answered, not_(on_time))),
                n(and_(kept, not_(c.answered), c.final == "abandoned")),
                n(and_(kept, not_(c.answered), c.final == "abandoned", on_time, not_(c.past_end))),
                n(and_(kept, not_(c.answered), c.final == "unanswered")),
                n(
                    and_(
                        kept,
                        not_(c.answered),
                        func.coalesce(c.final, "").not_in(("abandoned", "unanswered")),
                        on_time,
                        not_(c.past_now),
                    )
                ),
                n(lost),
                func.coalesce(func.sum(c.late_legs), 0),
            )
        )
    ).one()
    return stats.AnswerStats(*(int(v) for v in row))
