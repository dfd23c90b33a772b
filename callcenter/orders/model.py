"""Repair orders (派工单) to the stations and their deadlines, pure.

A repair ticket sent to its station becomes an order. The station accepts it (接单), contacts
the resident, repairs and returns it (返单) with what was done; the hotline then calls the
resident back. A station that finds the address is not theirs refuses it (the ticket goes
back to the desk: choosing the wrong station is a fined error). An order the hotline takes
back (the ticket was cancelled or sent elsewhere) is recalled. A repair the resident is not
satisfied with at the callback goes back to the station as a new order, round n + 1.

Each step has a deadline counted from dispatch, the resident's clock: accepted within N
minutes, the resident contacted within M minutes, repaired within 4 hours (异常事件 1–3).
Waiting on the resident (not at home, "call me later") pauses the contact and repair
deadlines of an accepted order; they move by the pause's length when it ends
(callcenter/timeline/pauses.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from callcenter.auth.model import Role
from callcenter.timeline.pauses import extended

OrderStatus = Literal["sent", "accepted", "contacted", "returned", "refused", "recalled"]
ORDER_STATUSES: tuple[OrderStatus, ...] = (
    "sent",
    "accepted",
    "contacted",
    "returned",
    "refused",
    "recalled",
)
# Still at the station: its deadlines run.
ACTIVE_STATUSES: tuple[OrderStatus, ...] = ("sent", "accepted", "contacted")
# What the station does, and the status it leads to.
StationAction = Literal["accept", "contact", "return", "refuse"]
ACTION_STATUS: dict[StationAction, OrderStatus] = {
    "accept": "accepted",
    "contact": "contacted",
    "return": "returned",
    "refuse": "refused",
}
_FROM: dict[StationAction, frozenset[OrderStatus]] = {
    "accept": frozenset({"sent"}),
    # A repairman may call the resident before anyone pressed "accept" in the office: the
    # contact implies the acceptance.
    "contact": frozenset({"sent", "accepted"}),
    "return": frozenset({"sent", "accepted", "contacted"}),
    "refuse": frozenset({"sent", "accepted"}),
}

# Who reads orders: the hotline's people and the stations (their own only).
ORDER_READERS = frozenset(
    {Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN, Role.STATION}
)
# Who may dispatch or recall: the agent owning the ticket (首问责任制) or a lead (the
# department head, 客服部长, sends an incident's order when confirming it).
DISPATCHERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})

# The late steps the service sees for itself (异常事件 1–3), one per order and step.
DeadlineKind = Literal["accept_late", "contact_late", "repair_late"]
DEADLINE_KINDS: tuple[DeadlineKind, ...] = ("accept_late", "contact_late", "repair_late")
# The deadlines a wait on the resident holds: reaching and repairing need the resident; taking
# the order (接单) is the station's office work, and a station pauses only an order it took.
PAUSABLE: tuple[DeadlineKind, ...] = ("contact_late", "repair_late")
PAUSABLE_STATUSES: tuple[OrderStatus, ...] = ("accepted", "contacted")


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long a station has for each step, counted from dispatch."""

    accept: timedelta
    contact: timedelta
    repair: timedelta

    def due(self, dispatched_at: datetime) -> dict[DeadlineKind, datetime]:
        return {
            "accept_late": dispatched_at + self.accept,
            "contact_late": dispatched_at + self.contact,
            "repair_late": dispatched_at + self.repair,
        }


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    ticket_id: str
    station: str
    round: int  # 1, then 2, 3… for rework after an unsatisfied callback
    status: OrderStatus
    dispatched_at: datetime
    dispatched_by: str
    accept_due: datetime
    contact_due: datetime
    repair_due: datetime
    accepted_at: datetime | None = None
    contacted_at: datetime | None = None
    returned_at: datetime | None = None
    closed_at: datetime | None = None  # refused or recalled
    # The first sign the station has it: its client's ack, the portal, a webhook's 2xx.
    delivered_at: datetime | None = None
    delivered_via: str | None = None
    repairman: str | None = None
    result: str | None = None  # what was done (返单), or why it was refused / recalled
    # Since when the station waits on the resident (an open pause), else None. The due
    # times above already include every pause that ended.
    paused_since: datetime | None = None

    def step_done(self, kind: DeadlineKind) -> datetime | None:
        """When the step a deadline watches was done (None: not yet)."""
        if kind == "accept_late":
            return self.accepted_at or self.contacted_at or self.returned_at
        if kind == "contact_late":
            return self.contacted_at or self.returned_at
        return self.returned_at

    def due_at(self, kind: DeadlineKind) -> datetime:
        if kind == "accept_late":
            return self.accept_due
        if kind == "contact_late":
            return self.contact_due
        return self.repair_due

    def suspended(self, kind: DeadlineKind) -> bool:
        """An open pause holds this deadline: it began before the deadline passed, and the
        step is still to do. A deadline already missed when the pause began stays missed."""
        return (
            self.paused_since is not None
            and kind in PAUSABLE
            and self.step_done(kind) is None
            and self.due_at(kind) > self.paused_since
        )

    def pending_deadlines(self) -> list[tuple[DeadlineKind, datetime]]:
        """The deadlines that can still be missed: the order is at the station, the step is
        not done and no pause holds it."""
        if self.status not in ACTIVE_STATUSES:
            return []
        return [
            (k, self.due_at(k))
            for k in DEADLINE_KINDS
            if self.step_done(k) is None and not self.suspended(k)
        ]

    def resumed(self, at: datetime) -> dict[str, datetime | None]:
        """The columns that change when the open pause ends at `at`: each deadline it held
        moves by the pause's length."""
        assert self.paused_since is not None
        values: dict[str, datetime | None] = {"paused_since": None}
        for kind in PAUSABLE:
            if self.suspended(kind):
                moved = extended(self.due_at(kind), [(self.paused_since, at)])
                assert moved is not None
                values[_DUE_COLUMN[kind]] = moved
        return values


_DUE_COLUMN: dict[DeadlineKind, str] = {
    "accept_late": "accept_due",
    "contact_late": "contact_due",
    "repair_late": "repair_due",
}


def pause_error(order: Order) -> tuple[str, str] | None:
    """(code, message) when the station cannot pause this order now, else None."""
    if order.paused_since is not None:
        return ("already-paused", "the order is already paused: resume it first")
    if order.status in PAUSABLE_STATUSES:
        return None
    if order.status == "sent":
        return (
            "bad-transition",
            "accept the order first: the station's clock pauses only on an order it took",
        )
    return ("bad-transition", f"a {order.status} order is no longer at the station")


def action_error(order: Order, action: StationAction) -> str | None:
    """Why the station cannot `action` this order now, or None when it can."""
    if order.status in _FROM[action]:
        return None
    if ACTION_STATUS[action] == order.status:
        return f"the order is already {order.status}"
    allowed = ", ".join(a for a, src in _FROM.items() if order.status in src) or "nothing"
    return f"a {order.status} order cannot be {action}ed (now: {allowed})"


def may_act(role: Role, user_station: str | None, order_station: str) -> bool:
    """A station acts on its own orders only; the hotline's leads may record a step a
    station phoned in."""
    if role == Role.STATION:
        return user_station is not None and user_station == order_station
    return role in (Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN, Role.AGENT)
