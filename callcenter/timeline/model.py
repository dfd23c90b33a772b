"""One clock (一单一钟) for a repair ticket, pure: every step from the first ring of its call to
the callback, each with its deadline and whether it was met, and the figures the clock report
takes its percentiles of (callcenter/timeline/figures.py).

The steps: the first ring of the ticket's call → answered (within the ring limit, counted from
that first ring on whichever phone rang) → the ticket taken → per order (round), dispatched
(within [timeline] dispatch_minutes of the ticket, or of the previous order's end) → the
station's acknowledgement (接单: accepted, or a contact or return that implies it) → the
resident contacted → repaired (返单) → the callback (回访, within 3 days of the return).
A pause (the station waits on the resident) holds the contact and repair deadlines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from callcenter.calls.rings import RingRule
from callcenter.orders.model import ACTIVE_STATUSES, Order
from callcenter.timeline.pauses import Pause, paused_within

StepName = Literal[
    "rang",
    "answered",
    "ticket",
    "dispatched",
    "acknowledged",
    "contacted",
    "repaired",
    "called_back",
]
# The figures of one ticket, seconds from its first ring, net of the pauses before them.
Metric = Literal[
    "to_answer", "to_dispatch", "to_acknowledge", "to_contact", "to_repair", "to_callback"
]
METRICS: tuple[Metric, ...] = (
    "to_answer",
    "to_dispatch",
    "to_acknowledge",
    "to_contact",
    "to_repair",
    "to_callback",
)


@dataclass(frozen=True, slots=True)
class TicketFacts:
    id: str
    kind: str
    status: str
    station: str | None
    created_at: datetime
    # The incident the ticket is linked to: its station's one order is the ticket's too.
    incident_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallFacts:
    """A call linked to the ticket: when it came in, its first ring on any phone (None: no
    phone's ringing was seen), its answer."""

    id: str
    offered_at: datetime
    first_ring: datetime | None
    answered_at: datetime | None
    inbound: bool


@dataclass(frozen=True, slots=True)
class CallbackFacts:
    order_id: str
    due_at: datetime
    done_at: datetime | None
    status: str  # due | done | cancelled


@dataclass(frozen=True, slots=True)
class Step:
    """One step: when it happened, its deadline, and `met` — True in time, False late (or
    still undone past the deadline), None with no deadline or still pending. `paused`: an
    open pause holds its deadline (none until the station resumes)."""

    name: StepName
    at: datetime | None
    deadline: datetime | None = None
    met: bool | None = None
    late_seconds: float | None = None
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Round:
    """One order of the ticket: the first dispatch, a re-dispatch after a refusal or recall,
    or rework after an unsatisfied callback."""

    order: Order
    steps: tuple[Step, ...]
    pauses: tuple[Pause, ...]
    callback: CallbackFacts | None


@dataclass(frozen=True, slots=True)
class Figures:
    to_answer: float | None = None
    to_dispatch: float | None = None
    to_acknowledge: float | None = None
    to_contact: float | None = None
    to_repair: float | None = None
    to_callback: float | None = None
    # The station's waits on the resident before the repair (or, not yet repaired, so far).
    paused_seconds: float = 0.0

    def get(self, metric: Metric) -> float | None:
        value: float | None = getattr(self, metric)
        return value


@dataclass(frozen=True, slots=True)
class Timeline:
    ticket: TicketFacts
    call: CallFacts | None  # the call it was taken on: the first ring is the clock's start
    steps: tuple[Step, ...]
    rounds: tuple[Round, ...]
    figures: Figures
    # The order the figures follow: the first one its station returned, else the one at a
    # station now (None: none returned nor at a station).
    measured: str | None


def first_call(ticket: TicketFacts, calls: Sequence[CallFacts]) -> CallFacts | None:
    """The call the ticket was taken on: the earliest inbound call linked to it that came in
    by the time the ticket was saved. A callback's call, or a resident's later call linked
    as a follow-up, never starts the clock."""
    taken_on = [c for c in calls if c.inbound and c.offered_at <= ticket.created_at]
    return min(taken_on, key=lambda c: (c.offered_at, c.id), default=None)


def start_of(call: CallFacts | None) -> datetime | None:
    """The clock's start: the call's first ring (its arrival when no ringing was seen)."""
    if call is None:
        return None
    return call.first_ring or call.offered_at


def judge(
    name: StepName,
    at: datetime | None,
    deadline: datetime | None,
    now: datetime,
    in_time: bool | None = None,
) -> Step:
    """A step against its deadline. Done at the deadline is in time (as anomalies.missed
    says) unless `in_time` says otherwise (the ring rule: answered at the limit is late);
    undone, it is late from the deadline on."""
    if deadline is None:
        return Step(name, at)
    if at is not None:
        ok = at <= deadline if in_time is None else in_time
        late = None if ok else max(0.0, (at - deadline).total_seconds())
        return Step(name, at, deadline, ok, late)
    if deadline <= now:
        return Step(name, None, deadline, False, (now - deadline).total_seconds())
    return Step(name, None, deadline)


def _held(name: StepName) -> Step:
    return Step(name, None, paused=True)


def _round(
    order: Order,
    ready_at: datetime,
    dispatch_within: timedelta,
    pauses: tuple[Pause, ...],
    callback: CallbackFacts | None,
    now: datetime,
) -> Round:
    # An order that left its station (refused, recalled) stops its deadlines there.
    until = order.closed_at or now
    steps = [
        judge("dispatched", order.dispatched_at, ready_at + dispatch_within, now),
        judge("acknowledged", order.step_done("accept_late"), order.accept_due, until),
    ]
    if order.suspended("contact_late"):
        steps.append(_held("contacted"))
    else:
        steps.append(judge("contacted", order.step_done("contact_late"), order.contact_due, until))
    if order.suspended("repair_late"):
        steps.append(_held("repaired"))
    else:
        steps.append(judge("repaired", order.returned_at, order.repair_due, until))
    if order.returned_at is not None:
        live = callback if callback is not None and callback.status != "cancelled" else None
        if live is None:
            steps.append(Step("called_back", None))
        else:
            steps.append(judge("called_back", live.done_at, live.due_at, now))
    return Round(order, tuple(steps), pauses, callback)


def _ready_at(previous: Round | None, ticket: TicketFacts) -> datetime:
    """When the hotline had the ticket to send: taken, or back from the previous order (its
    refusal or recall, or the callback that found the repair wanting)."""
    if previous is None:
        return ticket.created_at
    order, callback = previous.order, previous.callback
    if callback is not None and callback.done_at is not None:
        return callback.done_at
    return order.closed_at or order.returned_at or order.dispatched_at


def measured_order(orders: Sequence[Order]) -> Order | None:
    """The order the figures follow: the first its station returned (as the daily report's
    已维修 counts a repair), else the one at a station now."""
    returned = [o for o in orders if o.returned_at is not None]
    if returned:
        return min(returned, key=lambda o: (o.returned_at or o.dispatched_at, o.round))
    return next((o for o in orders if o.status in ACTIVE_STATUSES), None)


def figures(
    start: datetime | None,
    call: CallFacts | None,
    orders: Sequence[Order],
    pauses: Sequence[Pause],
    callbacks: dict[str, CallbackFacts],
    now: datetime,
) -> Figures:
    """Seconds from the first ring to each step, net of the station's waits on the resident
    before it. None: the step is not done yet, or the ticket has no call to start from."""
    if start is None:
        return Figures()
    origin = start

    def since(at: datetime | None) -> float | None:
        if at is None:
            return None
        if at <= origin:
            # A household calling about an incident finds its order sent (or its station
            # on the way) already: the step was done when its clock started.
            return 0.0
        gross = (at - origin).total_seconds()
        return round(gross - paused_within(pauses, origin, at, now), 3)

    order = measured_order(orders)
    callback = callbacks.get(order.id) if order is not None else None
    done_back = callback.done_at if callback is not None and callback.status == "done" else None
    repaired = order.returned_at if order is not None else None
    return Figures(
        to_answer=since(call.answered_at if call is not None else None),
        to_dispatch=since(min((o.dispatched_at for o in orders), default=None)),
        to_acknowledge=since(order.step_done("accept_late") if order else None),
        to_contact=since(order.step_done("contact_late") if order else None),
        to_repair=since(repaired),
        to_callback=since(done_back),
        paused_seconds=round(paused_within(pauses, origin, repaired or now, now), 3),
    )


def measure(
    ticket: TicketFacts,
    calls: Sequence[CallFacts],
    orders: Sequence[Order],
    pauses: Sequence[Pause],
    callbacks: Sequence[CallbackFacts],
    now: datetime,
) -> tuple[Figures, bool]:
    """The ticket's figures alone (what the report needs of it, without its steps), and
    whether it has a call to start from."""
    call = first_call(ticket, calls)
    by_order = {c.order_id: c for c in callbacks}
    return figures(start_of(call), call, orders, pauses, by_order, now), call is not None


def build(
    ticket: TicketFacts,
    calls: Sequence[CallFacts],
    orders: Sequence[Order],
    pauses: Sequence[Pause],
    callbacks: Sequence[CallbackFacts],
    rule: RingRule,
    dispatch_within: timedelta,
    now: datetime,
) -> Timeline:
    """The ticket's timeline as of `now`."""
    call = first_call(ticket, calls)
    start = start_of(call)
    steps: list[Step] = []
    if call is not None and start is not None:
        steps.append(Step("rang", start))
        answered = call.answered_at
        in_time = rule.within_limit(start, answered) if answered is not None else None
        # A call that ended unanswered is late for good; one still ringing is judged as
        # the ring-limit timer judges it.
        steps.append(judge("answered", answered, start + rule.deadline, now, in_time))
    steps.append(Step("ticket", ticket.created_at))
    by_order = {c.order_id: c for c in callbacks}
    rounds: list[Round] = []
    for order in sorted(orders, key=lambda o: (o.round, o.dispatched_at)):
        own = tuple(sorted((p for p in pauses if p.order_id == order.id), key=_pause_key))
        previous = rounds[-1] if rounds else None
        rounds.append(
            _round(
                order,
                _ready_at(previous, ticket),
                dispatch_within,
                own,
                by_order.get(order.id),
                now,
            )
        )
    measured = measured_order(orders)
    return Timeline(
        ticket=ticket,
        call=call,
        steps=tuple(steps),
        rounds=tuple(rounds),
        figures=figures(start, call, orders, pauses, by_order, now),
        measured=measured.id if measured is not None else None,
    )


def _pause_key(p: Pause) -> tuple[datetime, int]:
    return (p.started_at, p.id)
