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
from datetime import datetime
from typing import Literal

from callcenter.auth.model import Role

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

    @property
    def number(self) -> int:
        """Its number in 004's list (1–9)."""
        return NUMBER[self.kind]
