"""The one query layer behind every report (API, page, CSV, XLSX, command, archive): a few
grouped statements per period, each figure defined once (model.py says what each counts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import and_, case, func, not_, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.anomalies.model import ANOMALY_KINDS, COMPLAINTS, AnomalyKind
from callcenter.anomalies.store import anomalies
from callcenter.callbacks.store import callbacks
from callcenter.calls.rings import RingRule
from callcenter.calls.stats_sql import answer_totals
from callcenter.calls.store import violations
from callcenter.events import ViolationKind
from callcenter.incidents.store import incidents
from callcenter.orders.store import orders
from callcenter.reports.model import FORM_CATEGORIES, UNASSIGNED, Hotline, StationRow, Summary
from callcenter.stations.model import Station
from callcenter.tickets.store import tickets


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def first_return(season_start: datetime, end: datetime) -> Any:
    """Each ticket's first order its station returned: when the ticket was repaired. Only
    orders sent in the season up to the period's end can matter (indexed by dispatched_at).
    A report that was part of an incident (callcenter/incidents) was repaired when its
    incident was: it has no order of its own, the station had the incident's."""
    returned = select(
        orders.c.ticket_id.label("ticket_id"), orders.c.returned_at.label("returned_at")
    ).where(
        orders.c.returned_at.is_not(None),
        orders.c.dispatched_at >= season_start,
        orders.c.dispatched_at < end,
    )
    in_incident = (
        select(tickets.c.id.label("ticket_id"), incidents.c.repaired_at.label("returned_at"))
        .select_from(tickets.join(incidents, incidents.c.id == tickets.c.incident_id))
        .where(incidents.c.repaired_at.is_not(None), incidents.c.repaired_at >= season_start)
    )
    both = union_all(returned, in_incident).subquery("repairs")
    return (
        select(both.c.ticket_id, func.min(both.c.returned_at).label("returned_at"))
        .group_by(both.c.ticket_id)
        .subquery("first_return")
    )


def _live(kind: str) -> Any:
    return and_(tickets.c.kind == kind, tickets.c.status != "cancelled")


async def station_rows(
    conn: AsyncConnection,
    book: Sequence[Station],
    season_start: datetime,
    start: datetime,
    end: datetime,
) -> tuple[StationRow, ...]:
    """Every station of the book in its order, then the unassigned row when it holds any."""
    fr = first_return(season_start, end)
    t = tickets.c
    stmt = (
        select(
            t.station,
            func.count().label("cumulative_reports"),
            _count(fr.c.returned_at < end).label("cumulative_repairs"),
            _count(t.created_at >= start).label("reports"),
            _count(and_(fr.c.returned_at >= start, fr.c.returned_at < end)).label("repairs"),
        )
        .select_from(tickets.outerjoin(fr, fr.c.ticket_id == t.id))
        .where(_live("repair"), t.created_at >= season_start, t.created_at < end)
        .group_by(t.station)
    )
    found = {r.station or UNASSIGNED: r for r in await conn.execute(stmt)}

    def row(code: str, name: str) -> StationRow:
        r = found.pop(code, None)
        if r is None:
            return StationRow(code, name)
        return StationRow(
            code,
            name,
            cumulative_reports=int(r.cumulative_reports),
            cumulative_repairs=int(r.cumulative_repairs),
            reports=int(r.reports),
            repairs=int(r.repairs),
        )

    rows = [row(s.code, s.name) for s in book]
    # A station no longer in the book keeps its tickets on the form, after the book's.
    rows += [row(code, code) for code in sorted(c for c in found if c != UNASSIGNED)]
    if UNASSIGNED in found:
        rows.append(row(UNASSIGNED, "未分站"))
    return tuple(rows)


async def summary(
    conn: AsyncConnection, rows: Sequence[StationRow], start: datetime, end: datetime
) -> Summary:
    t = tickets.c
    in_period = and_(t.created_at >= start, t.created_at < end)
    consultations = await conn.scalar(
        select(func.count()).select_from(tickets).where(_live("consultation"), in_period)
    )
    by_category = {
        r.category: int(r.n)
        for r in await conn.execute(
            select(t.category, func.count().label("n"))
            .where(_live("repair"), in_period)
            .group_by(t.category)
        )
    }
    c = callbacks.c
    called_back = await conn.scalar(
        select(func.count())
        .select_from(callbacks)
        .where(c.status == "done", c.done_at >= start, c.done_at < end)
    )
    return Summary(
        repair_reports=sum(r.reports for r in rows),
        consultations=int(consultations or 0),
        repaired=sum(r.repairs for r in rows),
        called_back=int(called_back or 0),
        categories={k: by_category.get(k, 0) for k in FORM_CATEGORIES},
    )


async def hotline(
    conn: AsyncConnection, rule: RingRule, tz: Any, now: datetime, start: datetime, end: datetime
) -> Hotline:
    total = await answer_totals(conn, rule, tz, now, start, end)
    v = violations.c
    by_violation = {
        r.kind: int(r.n)
        for r in await conn.execute(
            select(v.kind, func.count().label("n"))
            .where(v.occurred_at >= start, v.occurred_at < end)
            .group_by(v.kind)
        )
    }
    a = anomalies.c
    by_anomaly = {
        r.kind: int(r.n)
        for r in await conn.execute(
            select(a.kind, func.count().label("n"))
            .where(a.occurred_at >= start, a.occurred_at < end)
            .group_by(a.kind)
        )
    }
    c = callbacks.c
    # Owed as /api/callbacks/figures counts them (booked in the period, not cancelled), made
    # by the period's end: an archived day's rate does not move when a late callback is made.
    owed = await conn.execute(
        select(func.count(), _count(and_(c.status == "done", c.done_at < end))).where(
            c.status != "cancelled", c.created_at >= start, c.created_at < end
        )
    )
    booked, made = owed.one()
    return Hotline(
        calls=total,
        # Every kind, 0 when none: the columns of a CSV stay the same day after day.
        violations={k: by_violation.get(k, 0) for k in get_args(ViolationKind)},
        anomalies={k: by_anomaly.get(k, 0) for k in ANOMALY_KINDS},
        callbacks_owed=int(booked or 0),
        callbacks_made_in_time=int(made or 0),
    )


# -- the charts' figures (series.py) ---------------------------------------------------------
# An open order's state on the charts, most urgent first.
OrderState = Literal["overdue", "sent", "accepted"]
ORDER_STATES: tuple[OrderState, ...] = ("overdue", "sent", "accepted")


def _done(col: Any, as_of: datetime) -> Any:
    return and_(col.is_not(None), col <= as_of)


async def open_orders(conn: AsyncConnection, as_of: datetime) -> dict[str, dict[str, int]]:
    """Orders at their station at `as_of` (dispatched by then, not yet returned, refused or
    recalled), by station and state: overdue when a step still undone has passed its
    deadline (as the station portal marks it; a deadline reached exactly is passed, as
    anomalies.model.missed says), else accepted once the station accepted or contacted the
    resident, else sent. Read from the steps' times, so a past day's end is answered too; a
    deadline the station's open wait on the resident holds is not passed."""
    o = orders.c
    accepted = func.coalesce(o.accepted_at, o.contacted_at)

    def held(due: Any) -> Any:
        # A wait on the resident open at as_of that began before the deadline holds it
        # (callcenter/timeline): the station is not late while the resident is away.
        return and_(o.paused_since.is_not(None), o.paused_since <= as_of, o.paused_since < due)

    overdue = or_(
        and_(o.accept_due <= as_of, not_(_done(accepted, as_of))),
        and_(o.contact_due <= as_of, not_(_done(o.contacted_at, as_of)), not_(held(o.contact_due))),
        and_(o.repair_due <= as_of, not_(held(o.repair_due))),
    )
    still_there = and_(
        o.dispatched_at <= as_of,
        or_(o.returned_at.is_(None), o.returned_at > as_of),
        or_(o.closed_at.is_(None), o.closed_at > as_of),
    )
    rows = await conn.execute(
        select(
            o.station,
            _count(overdue).label("overdue"),
            _count(and_(not_(overdue), not_(_done(accepted, as_of)))).label("sent"),
            _count(and_(not_(overdue), _done(accepted, as_of))).label("accepted"),
        )
        .where(still_there)
        .group_by(o.station)
    )
    return {r.station: {s: int(getattr(r, s)) for s in ORDER_STATES} for r in rows}


async def anomaly_states(
    conn: AsyncConnection, start: datetime, end: datetime, as_of: datetime
) -> dict[AnomalyKind, tuple[int, int]]:
    """Every kind: (open, closed) at `as_of` of the anomalies that occurred in [start, end)
    (the report's count, split). A complaint (COMPLAINTS) is closed when a lead closed it;
    any other kind once reported to the department head (an agent's own log is reported as
    it is logged; a late step the service saw, when the owning agent reports it)."""
    a = anomalies.c
    complaint = a.kind.in_(sorted(COMPLAINTS))
    closed = or_(
        and_(complaint, a.closed_at.is_not(None), a.closed_at <= as_of),
        and_(not_(complaint), a.reported_at.is_not(None), a.reported_at <= as_of),
    )
    rows = await conn.execute(
        select(a.kind, _count(not_(closed)).label("open"), _count(closed).label("closed"))
        .where(a.occurred_at >= start, a.occurred_at < end)
        .group_by(a.kind)
    )
    found = {r.kind: (int(r.open), int(r.closed)) for r in rows}
    return {k: found.get(k, (0, 0)) for k in ANOMALY_KINDS}
