"""Domain events, in the past tense; the bus fans them out through the table in app.handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ViolationKind = Literal["ring_limit", "late_answer", "rang_out", "hung_up_first"]
# "lost": the end was never seen (no final response, no BYE, or the state was unknown after a
# restart): no violation, and not counted in the answer rates.
LegOutcome = Literal["answered", "abandoned", "unanswered", "answered_elsewhere", "lost"]
CallOutcome = Literal["answered", "abandoned", "unanswered", "lost", "ringing", "in_progress"]
TicketAction = Literal["taken", "changed", "linked"]


@dataclass(frozen=True, slots=True)
class PhoneRang:
    """An agent phone started ringing (a leg)."""

    call_pk: str
    leg_pk: str
    extension: str
    agent: str | None
    caller: str
    ring_started_at: datetime
    monitored: bool


@dataclass(frozen=True, slots=True)
class PhoneStopped:
    """A leg stopped ringing: answered, or given up."""

    call_pk: str
    leg_pk: str
    extension: str
    agent: str | None
    outcome: LegOutcome
    at: datetime
    rings: int


@dataclass(frozen=True, slots=True)
class CallClosed:
    """A call reached its final outcome (answered calls close when they end)."""

    call_pk: str
    outcome: CallOutcome
    at: datetime


@dataclass(frozen=True, slots=True)
class ViolationRecorded:
    """A breach of the hotline's rules (违规), recorded against the agent of the phone."""

    id: str
    kind: ViolationKind
    occurred_at: datetime
    call_pk: str
    leg_pk: str | None
    extension: str | None
    agent_id: int | None
    agent: str | None
    caller: str
    rings: int | None
    ring_seconds: float | None
    detail: str


@dataclass(frozen=True, slots=True)
class RingLimitReached:
    """A phone is still ringing at limit × cycle: the live alert (超时未接)."""

    violation_id: str
    call_pk: str
    leg_pk: str
    source: str
    sip_call_id: str  # the PBX's id of the call: SIP Call-ID, AMI Linkedid, ESL call UUID
    leg_ref: str
    queue: str | None
    extension: str
    agent: str | None
    agent_id: int | None
    caller: str
    ring_started_at: datetime
    deadline_at: datetime
    raised_at: datetime
    rings: int
    # Raised after its deadline had passed: the deadline fell while the service was down.
    late: bool = False


@dataclass(frozen=True, slots=True)
class OverflowAttempted:
    """At the ring limit the still-ringing call was sent to the overflow target (溢出转接);
    `ok` and `response` are the PBX's answer. A failure is an alert of its own."""

    id: str
    call_pk: str
    leg_pk: str
    source: str
    extension: str
    agent: str | None
    target: str
    at: datetime
    ok: bool
    response: str


@dataclass(frozen=True, slots=True)
class TicketTouched:
    """A ticket was taken (受理), changed or linked to one more call. It carries what a page
    needs to know which ticket to fetch again, never the resident's name, phone or address:
    those come through the API, which applies the role rules."""

    ticket_id: str
    action: TicketAction
    kind: str
    category: str | None
    status: str
    station: str | None
    agent_id: int | None  # who took it: they follow it up (首问责任制)
    agent: str | None
    by: str  # who touched it: the agent, or a lead changing it
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingStored:
    """A new recording (录音) was stored: new bytes, not a copy of a stored one. `empty`: the
    analysis heard nothing above the silence threshold."""

    recording_id: str
    empty: bool
    received_at: datetime
