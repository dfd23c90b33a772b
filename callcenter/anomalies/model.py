"""Anomalies (异常事件) reported to the department head, pure.

The nine kinds of 004 九: three the service sees for itself when a station misses a
deadline, six an agent logs on a ticket. Complaints are reported at once and tracked to the
end; the rest go into the daily, weekly and monthly reports.

A late step the service saw must still be reported by the agent who owns the ticket (the
agent phones the station, tells the department head): one not reported within the
configured time is itself recorded against the agent (漏报, fined 20 yuan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from callcenter.auth.model import Role
from callcenter.orders.model import DeadlineKind, Order

AnomalyKind = Literal[
    "accept_late",  # 1 维修班未在规定时间范围内处理报修信息
    "contact_late",  # 2 维修人员未在规定时间范围内与住户联系
    "repair_late",  # 3 维修处理时间超过4个小时
    "station_unreachable",  # 4 维修站电话无人接听,并且维修人员手机无人接听
    "praise_repairman",  # 5 住户对维修人员的表扬
    "complaint_repairman",  # 6 住户对维修人员的投诉
    "complaint_fee_collector",  # 7 住户对收费人员的投诉
    "suggestion",  # 8 住户对企业提出的意见或建议
    "forwarded",  # 9 市、区供热办转达的投诉或者报修
]
ANOMALY_KINDS: tuple[AnomalyKind, ...] = (
    "accept_late",
    "contact_late",
    "repair_late",
    "station_unreachable",
    "praise_repairman",
    "complaint_repairman",
    "complaint_fee_collector",
    "suggestion",
    "forwarded",
)
# The service raises these when a deadline passes; the others are logged by agents.
SEEN_BY_SERVICE: frozenset[AnomalyKind] = frozenset({"accept_late", "contact_late", "repair_late"})
LOGGED_BY_AGENTS: tuple[AnomalyKind, ...] = tuple(
    k for k in ANOMALY_KINDS if k not in SEEN_BY_SERVICE
)
# Reported to the department head at once and tracked until closed.
COMPLAINTS: frozenset[AnomalyKind] = frozenset(
    {"complaint_repairman", "complaint_fee_collector", "forwarded"}
)
NUMBER: dict[AnomalyKind, int] = {k: i + 1 for i, k in enumerate(ANOMALY_KINDS)}

# Who sees the anomalies: the department head and leads; agents see those of their tickets.
ANOMALY_READERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
ANOMALY_LEADS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})

Source = Literal["service", "agent"]

# 002 第12篇: how a complaint is classed, and what it asks of the hotline.
ComplaintClass = Literal["valid", "assisted", "invalid", "collective"]
COMPLAINT_CLASSES: tuple[ComplaintClass, ...] = ("valid", "assisted", "invalid", "collective")
# 集体投诉: five households or more about the same event.
COLLECTIVE_HOUSEHOLDS = 5
# 有效投诉: contact the resident within 2 h; 无效投诉: answer (explain) within 2 h. An
# assisted one is followed with the department that solves it, a collective one is escalated
# at once: neither has a clock of its own, both are tracked until closed.
FOLLOW_UP: dict[ComplaintClass, timedelta] = {
    "valid": timedelta(hours=2),
    "invalid": timedelta(hours=2),
}
# The classed ones: the two complaint kinds must be classed; a forwarded case may be.
CLASS_REQUIRED: frozenset[AnomalyKind] = frozenset(
    {"complaint_repairman", "complaint_fee_collector"}
)


@dataclass(frozen=True, slots=True)
class Anomaly:
    id: str
    kind: AnomalyKind
    source: Source
    occurred_at: datetime  # the deadline that passed, or when the agent heard of it
    raised_at: datetime  # when the service recorded it
    ticket_id: str | None
    order_id: str | None
    station: str | None
    agent_id: int | None  # the agent owning the ticket (who must report it)
    detail: str
    # The agent's report to the department head; for one the service saw, due by
    # report_due (else `unreported_at` marks the 漏报).
    reported_at: datetime | None = None
    reported_by: str | None = None
    report_due: datetime | None = None
    unreported_at: datetime | None = None
    closed_at: datetime | None = None  # a complaint tracked to its end
    closed_by: str | None = None
    resolution: str | None = None
    complaint_class: ComplaintClass | None = None
    households: int | None = None  # how many complained (a collective complaint: ≥ 5)
    # The 2-h contact (valid) or answer (invalid); a missed one is recorded at the deadline.
    follow_up_due: datetime | None = None
    followed_up_at: datetime | None = None
    followed_up_by: str | None = None
    follow_up_late_at: datetime | None = None
    escalated_at: datetime | None = None  # a collective complaint, at once

    @property
    def number(self) -> int:
        """Its number in 004's list (1–9)."""
        return NUMBER[self.kind]

    @property
    def is_complaint(self) -> bool:
        return self.kind in COMPLAINTS


@dataclass(frozen=True, slots=True)
class AnomalyRaised:
    """An anomaly was recorded: a late step the service saw (`late`: its deadline passed
    while the service was down, raised at start-up) or one an agent logged."""

    anomaly: Anomaly
    late: bool = False
    agent: str | None = None  # the owning agent's name


# What an overdue anomaly missed: the agent's report (漏报), or a complaint's 2-h follow-up.
Overdue = Literal["unreported", "follow_up_missed"]


@dataclass(frozen=True, slots=True)
class AnomalyOverdue:
    """An anomaly's own deadline passed unmet; recorded at that moment."""

    anomaly: Anomaly
    what: Overdue
    agent: str | None = None
    late: bool = False  # its deadline passed while the service was down (or standby)


def stopped_at(order: Order, kind: DeadlineKind) -> datetime | None:
    """When the deadline stopped running: its step was done, or the order left the station
    (refused, recalled). None: it still runs."""
    return order.step_done(kind) or order.closed_at


def missed(order: Order, kind: DeadlineKind, now: datetime) -> bool:
    """The step was not done by its deadline: still undone at it, or done after it. A step
    done exactly at the deadline is in time. While a pause holds the deadline (the station
    waits on the resident) it is not missed: it moves when the pause ends."""
    due = order.due_at(kind)
    stop = stopped_at(order, kind)
    if stop is None and order.suspended(kind):
        return False
    return due < stop if stop is not None else due <= now


def report_due(
    occurred_at: datetime, raised_at: datetime, within: timedelta, late: bool
) -> datetime:
    """When the agent's report is due. A deadline that passed while the service was down
    counts from when the service showed it: nobody is fined for the service's downtime."""
    return (raised_at if late else occurred_at) + within


def complaint_problem(
    kind: AnomalyKind, cls: ComplaintClass | None, households: int | None
) -> tuple[str, str, str] | None:
    """(code, message, field) when the class or households do not fit the kind, else None."""
    if kind not in COMPLAINTS:
        if cls is not None:
            return ("not-a-complaint", f"a {kind} is not classed as a complaint", "class")
        return None
    if cls is None:
        if kind in CLASS_REQUIRED:
            return (
                "missing-field",
                "class a complaint: valid, assisted, invalid or collective (002 第12篇)",
                "class",
            )
        return None
    many = households is not None and households >= COLLECTIVE_HOUSEHOLDS
    if cls == "collective" and not many:
        return (
            "too-few-households",
            f"a collective complaint is {COLLECTIVE_HOUSEHOLDS} households or more",
            "households",
        )
    if cls != "collective" and many:
        return (
            "collective",
            f"{COLLECTIVE_HOUSEHOLDS} households or more about the same event are a "
            "collective complaint",
            "class",
        )
    return None
