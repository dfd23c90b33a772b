"""The report form equals counting the rows, for any rows (hypothesis), on SQLite and
PostgreSQL: tickets of every kind and status at known, unknown and no stations, taken before
the season, in it and after the day; orders returned or not, once or twice; callbacks made,
owed or cancelled. The 总计 row is the sum of the station rows and equals the first line."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from callcenter import db
from callcenter.callbacks.store import callbacks
from callcenter.calls.rings import RingRule
from callcenter.clock import FakeClock
from callcenter.orders.store import orders
from callcenter.reports.service import Reports
from callcenter.reports.settings import ReportsSettings
from callcenter.stations.model import AddressBook, Station
from callcenter.tickets.store import tickets

TZ = ZoneInfo("Asia/Shanghai")
DAY_START = datetime(2026, 11, 23, tzinfo=TZ)  # the report's day; the season began on the 15th
DAY_END = DAY_START + timedelta(days=1)
SEASON = datetime(2026, 11, 15, tzinfo=TZ)
BOOK = AddressBook([Station("a", "甲站", ""), Station("b", "乙站", "")], [])
CATEGORIES = ["not_hot", "ice_cold", "temperature_check", "leak", "other", None]


@dataclass(frozen=True)
class Ticket:
    id: str
    kind: str
    status: str
    station: str | None
    category: str | None
    created: datetime
    returns: tuple[datetime | None, ...]  # its orders, returned then or not


@dataclass(frozen=True)
class Callback:
    ticket: int
    status: str
    created: datetime
    done: datetime | None


# Minutes from 10 days before the day (before the season) to a day after it.
moments = st.integers(min_value=-10 * 1440, max_value=2 * 1440).map(
    lambda m: DAY_START + timedelta(minutes=m)
)


@st.composite
def worlds(draw: Any) -> tuple[list[Ticket], list[Callback]]:
    n = draw(st.integers(0, 14))
    made = []
    for i in range(n):
        created = draw(moments)
        returns = draw(
            st.lists(
                st.one_of(st.none(), st.integers(0, 4 * 1440)).map(
                    lambda m, c=created: None if m is None else c + timedelta(minutes=m)
                ),
                max_size=2,
            )
        )
        made.append(
            Ticket(
                id=f"t{i}",
                kind=draw(st.sampled_from(["repair", "repair", "consultation", "complaint"])),
                status=draw(
                    st.sampled_from(["open", "dispatched", "repaired", "closed", "cancelled"])
                ),
                station=draw(st.sampled_from(["a", "b", "zz", None])),
                category=draw(st.sampled_from(CATEGORIES)),
                created=created,
                returns=tuple(returns),
            )
        )
    cbs = []
    if made:
        for _ in range(draw(st.integers(0, 6))):
            created = draw(moments)
            status = draw(st.sampled_from(["due", "done", "cancelled"]))
            done = (
                created + timedelta(minutes=draw(st.integers(0, 3000)))
                if status == "done"
                else None
            )
            cbs.append(Callback(draw(st.integers(0, n - 1)), status, created, done))
    return made, cbs


# The edges, always tried: taken at the day's first instant, returned at the next day's;
# taken at the season's first instant; a callback made at the day's end.
EDGES = (
    [
        Ticket("e1", "repair", "dispatched", "a", "leak", DAY_START, (DAY_END,)),
        Ticket("e2", "repair", "repaired", "b", "not_hot", SEASON, (DAY_START,)),
        Ticket("e3", "repair", "open", "a", None, SEASON - timedelta(minutes=1), (DAY_START,)),
    ],
    [Callback(0, "done", DAY_START, DAY_END), Callback(1, "done", DAY_START, DAY_START)],
)


def expected(world: tuple[list[Ticket], list[Callback]]) -> dict[str, Any]:
    made, cbs = world
    rows: dict[str, list[int]] = {}
    for t in made:
        if t.kind != "repair" or t.status == "cancelled" or not SEASON <= t.created < DAY_END:
            continue
        back = [r for r in t.returns if r is not None]
        first = min(back) if back else None
        row = rows.setdefault(t.station or "", [0, 0, 0, 0])
        row[0] += 1
        row[1] += first is not None and first < DAY_END
        row[2] += t.created >= DAY_START
        row[3] += first is not None and DAY_START <= first < DAY_END
    in_day = [t for t in made if t.status != "cancelled" and DAY_START <= t.created < DAY_END]
    repairs = [t for t in in_day if t.kind == "repair"]
    owed = [c for c in cbs if c.status != "cancelled" and DAY_START <= c.created < DAY_END]
    return {
        "rows": rows,
        "consultations": sum(t.kind == "consultation" for t in in_day),
        "categories": {
            k: sum(t.category == k for t in repairs)
            for k in ("not_hot", "ice_cold", "temperature_check", "leak")
        },
        "called_back": sum(
            c.status == "done" and c.done is not None and DAY_START <= c.done < DAY_END for c in cbs
        ),
        "owed": len(owed),
        "made": sum(c.status == "done" and c.done is not None and c.done < DAY_END for c in owed),
    }


def _utc(d: datetime) -> datetime:
    return d.astimezone(UTC)


async def _report(url: str, world: tuple[list[Ticket], list[Callback]]) -> Any:
    made, cbs = world
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            for table in (callbacks, orders, tickets):
                await conn.execute(delete(table))
            if made:
                await conn.execute(tickets.insert(), [
                    {"id": t.id, "kind": t.kind, "status": t.status, "station": t.station,
                     "category": t.category, "created_at": _utc(t.created),
                     "updated_at": _utc(t.created)}
                    for t in made
                ])  # fmt: skip
            order_rows = [
                {"id": f"{t.id}-{n}", "ticket_id": t.id, "station": t.station or "a",
                 "round": n + 1, "status": "returned" if r else "sent",
                 "dispatched_at": _utc(t.created), "dispatched_by": "x",
                 "accept_due": _utc(t.created), "contact_due": _utc(t.created),
                 "repair_due": _utc(t.created), "returned_at": _utc(r) if r else None}
                for t in made for n, r in enumerate(t.returns)
            ]  # fmt: skip
            if order_rows:
                await conn.execute(orders.insert(), order_rows)
            if cbs:
                await conn.execute(callbacks.insert(), [
                    {"id": f"cb{i}", "ticket_id": made[c.ticket].id, "reason": "repair",
                     "created_at": _utc(c.created), "due_at": _utc(c.created),
                     "status": c.status, "done_at": _utc(c.done) if c.done else None}
                    for i, c in enumerate(cbs)
                ])  # fmt: skip
        reports = Reports(
            lambda: engine,
            FakeClock(datetime(2026, 11, 25, tzinfo=UTC)),
            ReportsSettings(season_start="11-15"),
            RingRule(5.0, 3),
            "Asia/Shanghai",
            lambda: BOOK,
        )
        return await reports.build(reports.parse("daily", "2026-11-23"))
    finally:
        await engine.dispose()


def test_the_form_equals_counting_the_rows(db_url: str) -> None:
    asyncio.run(_migrate(db_url))

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(world=worlds())
    @example(world=EDGES)
    def check(world: tuple[list[Ticket], list[Callback]]) -> None:
        report = asyncio.run(_report(db_url, world))
        want = expected(world)
        got = {r.code: [r.cumulative_reports, r.cumulative_repairs, r.reports, r.repairs]
               for r in report.stations}  # fmt: skip
        # Both book stations always, in the book's order; others only when they hold any.
        codes = [r.code for r in report.stations]
        assert codes[:2] == ["a", "b"]
        assert codes[2:] == [c for c in ("zz", "") if c in want["rows"]]
        for c in codes:
            assert got[c] == want["rows"].get(c, [0, 0, 0, 0]), c
        total = report.total
        assert total.cumulative_reports == sum(r.cumulative_reports for r in report.stations)
        assert total.unfinished == sum(r.unfinished for r in report.stations)
        assert total.reports == report.summary.repair_reports
        assert total.repairs == report.summary.repaired
        assert [total.cumulative_reports, total.cumulative_repairs, total.reports,
                total.repairs] == [sum(v[i] for v in want["rows"].values())
                                   for i in range(4)]  # fmt: skip
        s = report.summary
        assert s.consultations == want["consultations"]
        assert dict(s.categories) == want["categories"]
        assert s.called_back == want["called_back"]
        assert (report.hotline.callbacks_owed, report.hotline.callbacks_made_in_time) == (
            want["owed"],
            want["made"],
        )

    check()


async def _migrate(url: str) -> None:
    engine = await db.open_database(url, True)
    await engine.dispose()
