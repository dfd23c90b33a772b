"""The answer figures counted inside PostgreSQL (calls/stats_sql.py, for the reports) equal
stats.AnswerStats, the definition, on any calls (hypothesis): answered, abandoned in time or
after the limit, unanswered, lost, still ringing at `now`; legs that rang exactly to the
microsecond of the limit, one past it, or were marked by the live timer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from callcenter import db
from callcenter.calls import stats
from callcenter.calls import store as calls_store
from callcenter.calls.rings import RingRule
from callcenter.calls.stats_sql import answer_totals
from callcenter.calls.store import calls, legs

RULE = RingRule(5.0, 3)
LIMIT = RULE.deadline
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=40)
# Ring lengths that matter: well inside, one microsecond short of the limit, exactly at it
# (ring 4 starts: over), past it; and any.
ring = st.one_of(
    st.sampled_from([timedelta(seconds=2), LIMIT - timedelta(microseconds=1), LIMIT,
                     LIMIT + timedelta(microseconds=1)]),
    st.integers(0, 40_000_000).map(lambda us: timedelta(microseconds=us)),
)  # fmt: skip


@st.composite
def a_call(draw: Any, n: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    offered = T0 + timedelta(seconds=draw(st.integers(0, 20)))
    final = draw(st.sampled_from([None, "answered", "abandoned", "unanswered", "lost"]))
    answered_at = offered + draw(ring) if final == "answered" or draw(st.booleans()) else None
    ended = None if final is None else offered + draw(ring) + timedelta(seconds=1)
    monitored = draw(st.sampled_from([True, True, False]))
    call = {"id": f"c{n}", "source": "hep", "sip_call_id": f"s{n}", "call_tag": "",
            "caller": "1", "dialed": "96069", "monitored": monitored,
            "offered_at": offered, "answered_at": answered_at, "ended_at": ended,
            "final": final, "hung_up_by": None, "answered_leg": None}  # fmt: skip
    rows = []
    for k in range(draw(st.integers(0, 3))):
        started = None if draw(st.integers(0, 5)) == 0 else offered
        leg_answer = started + draw(ring) if started and draw(st.booleans()) else None
        leg_end = draw(st.one_of(st.none(), ring.map(lambda d, o=offered: o + d)))
        rows.append({"id": f"l{n}-{k}", "call_pk": f"c{n}", "leg_ref": f"r{k}",
                     "extension": "2001", "agent_id": None, "queue": None,
                     "ring_started_at": started, "answered_at": leg_answer, "ended_at": leg_end,
                     "outcome": None, "end_cause": None,
                     "ring_limit_recorded": draw(st.integers(0, 6)) == 0})  # fmt: skip
    return call, rows


calls_lists = st.integers(0, 12).flatmap(
    lambda k: st.tuples(*(a_call(i) for i in range(k)))  # type: ignore[no-untyped-call]
)


async def _both(url: str, made: tuple[Any, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(legs))
            await conn.execute(delete(calls))
            if made:
                await conn.execute(calls.insert(), [c for c, _ in made])
                leg_rows = [leg for _, ls in made for leg in ls]
                if leg_rows:
                    await conn.execute(legs.insert(), leg_rows)
        end = T0 + timedelta(minutes=5)
        async with engine.connect() as conn:
            in_sql = await answer_totals(conn, RULE, UTC, NOW, T0, end)
            found = await calls_store.calls_between(conn, T0, end, monitored_only=True)
        in_python = stats.answer_stats(found, RULE, None, UTC, NOW)[1]
        return in_sql, in_python
    finally:
        await engine.dispose()


def test_postgresql_counts_what_the_definition_counts(fresh_postgres_url: str) -> None:
    async def migrate() -> None:
        await (await db.open_database(fresh_postgres_url, True)).dispose()

    asyncio.run(migrate())

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(made=calls_lists)
    def check(made: tuple[Any, ...]) -> None:
        in_sql, in_python = asyncio.run(_both(fresh_postgres_url, made))
        assert in_sql == in_python

    check()
