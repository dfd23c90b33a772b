"""The few figures /metrics reads from the database at scrape time: each a COUNT over an
index range that holds only what is still open (never a scan of the whole history)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.anomalies.model import COMPLAINTS
from callcenter.anomalies.store import anomalies, open_complaint
from callcenter.orders.model import ACTIVE_STATUSES
from callcenter.orders.store import orders


@dataclass(frozen=True, slots=True)
class DatabaseFigures:
    # Orders still at a station by status (ix_orders_status: a range of the active ones).
    orders_open: dict[str, int] = field(default_factory=dict)
    # Anomalies whose report to the department head is still due (ix_anomalies_report_due).
    awaiting_report: dict[str, int] = field(default_factory=dict)
    # Complaints not yet closed, the anomalies page's state=open (ix_anomalies_kind).
    complaints_open: dict[str, int] = field(default_factory=dict)


async def read_figures(conn: AsyncConnection) -> DatabaseFigures:
    by_status = await conn.execute(
        select(orders.c.status, func.count())
        .where(orders.c.status.in_(ACTIVE_STATUSES))
        .group_by(orders.c.status)
    )
    awaiting = await conn.execute(
        select(anomalies.c.kind, func.count())
        .where(
            anomalies.c.reported_at.is_(None),
            anomalies.c.unreported_at.is_(None),
            anomalies.c.report_due.is_not(None),
        )
        .group_by(anomalies.c.kind)
    )
    complaints = await conn.execute(
        select(anomalies.c.kind, func.count()).where(open_complaint()).group_by(anomalies.c.kind)
    )
    return DatabaseFigures(
        orders_open={status: 0 for status in ACTIVE_STATUSES} | {r[0]: r[1] for r in by_status},
        awaiting_report={r[0]: r[1] for r in awaiting},
        complaints_open={kind: 0 for kind in sorted(COMPLAINTS)} | {r[0]: r[1] for r in complaints},
    )
