"""What the service already knows about a sampled call, pure: a suggested deduction with its
evidence for each checklist item it can judge (the ticket's name, phone, address and station
against the address book), the call's facts (answered within the ring limit, who hung up
first) and the opening the script asked for on the call's date (a holiday greeting for 您好).
The reviewer confirms or overrides every suggestion against what was said on the recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from callcenter.calls.rings import RingRule
from callcenter.config import Holiday
from callcenter.privacy import mask_number
from callcenter.qa.checklists import Checklist, Item
from callcenter.tickets.model import Ticket

DEFAULT_OPENING = "您好"


@dataclass(frozen=True, slots=True)
class Suggestion:
    key: str
    deducted: int
    evidence: str


@dataclass(frozen=True, slots=True)
class CallFacts:
    """The answered leg's ringing and the call's end, as the call tracker saved them, and
    the violations it recorded (late_answer, hung_up_first) with their rings."""

    ring_started_at: datetime | None
    answered_at: datetime | None
    hung_up_by: str | None
    late_answer_rings: int | None = None
    hung_up_first: bool = False


def _field(item: Item, label: str, value: str | None, shown: str | None = None) -> Suggestion:
    if value is None or not value.strip():
        return Suggestion(item.key, item.points, f"no {label} on the ticket")
    return Suggestion(item.key, 0, f"recorded: {shown if shown is not None else value.strip()}")


def station_suggestion(item: Item, ticket: Ticket, name: Callable[[str], str]) -> Suggestion:
    """Full deduction when the chosen station is not the address book's, or the address
    matched no rule or several; none when the address matched and the agent kept its station.
    A fined error (004 考核: 30 yuan), so the evidence says which stations and why."""
    where = ticket.address_standard or ticket.address_typed
    chosen = name(ticket.station) if ticket.station else "none"
    if where is None:
        return Suggestion(item.key, item.points, f"no address, so no station can be checked "
                          f"(chosen: {chosen})")  # fmt: skip
    if ticket.address_routing in ("unmatched", "ambiguous"):
        why = ticket.address_reason or (
            "no rule matches" if ticket.address_routing == "unmatched" else "several rules match"
        )
        return Suggestion(
            item.key,
            item.points,
            f"address {ticket.address_routing} ({why}): {where}; chosen: {chosen}",
        )
    if ticket.station is None:
        return Suggestion(item.key, item.points, f"no station chosen for {where}")
    if ticket.station_overridden and ticket.station_proposed is not None:
        return Suggestion(
            item.key,
            item.points,
            f"the address book routes {where} to {name(ticket.station_proposed)}; "
            f"the agent chose {chosen}",
        )
    return Suggestion(item.key, 0, f"{where} → {chosen}, as the address book routes it")


def suggestions(
    checklist: Checklist, ticket: Ticket | None, station_name: Callable[[str], str]
) -> list[Suggestion]:
    """One suggestion per item the service knows (Item.known), in the sheet's order. No
    ticket typed on the call: every such item is deducted in full, saying so."""
    out: list[Suggestion] = []
    for item in checklist.items:
        if item.known is None:
            continue
        if ticket is None:
            out.append(Suggestion(item.key, item.points, "no ticket was typed on this call"))
        elif item.known == "name":
            out.append(_field(item, "name", ticket.reporter_name))
        elif item.known == "phone":
            # Kept with the evaluation, read later by roles that see numbers masked (003).
            out.append(_field(item, "phone number", ticket.phone, mask_number(ticket.phone)))
        elif item.known == "address":
            out.append(_field(item, "address", ticket.address_typed))
        else:
            out.append(station_suggestion(item, ticket, station_name))
    return out


def call_facts_json(facts: CallFacts | None, rule: RingRule) -> dict[str, Any]:
    """Answered within the ring limit (or late, with its rings) and who hung up first."""
    if facts is None:
        return {"known": False, "evidence": "the recording is not linked to a call"}
    rings = None
    if facts.ring_started_at is not None and facts.answered_at is not None:
        rings = rule.rings_between(facts.ring_started_at, facts.answered_at)
    if facts.late_answer_rings is not None:
        rings = facts.late_answer_rings
    late = facts.late_answer_rings is not None or (rings is not None and rings > rule.limit)
    answer = (
        "not answered"
        if facts.answered_at is None
        else f"answered late, on ring {rings} (limit {rule.limit})"
        if late
        else f"answered on ring {rings} (limit {rule.limit})"
    )
    agent_first = facts.hung_up_first or facts.hung_up_by == "agent"
    hung_up = (
        "the agent hung up first (禁止主动挂断)"
        if agent_first
        else f"hung up by: {facts.hung_up_by or 'unknown'}"
    )
    return {
        "known": True,
        "rings": rings,
        "ring_limit": rule.limit,
        "answered_within_limit": None if facts.answered_at is None else not late,
        "hung_up_by": facts.hung_up_by,
        "agent_hung_up_first": agent_first,
        "evidence": f"{answer}; {hung_up}",
    }


def opening_json(
    checklist: Checklist, on: date, holidays: tuple[Holiday, ...], work_number: str | None
) -> dict[str, Any] | None:
    """The opening the script asked for on the call's local date: on [desk] holidays the
    greeting replaces 您好 and counts as the scripted opening."""
    item = next((i for i in checklist.items if i.holiday_opening), None)
    if item is None:
        return None
    holiday = next((h for h in holidays if h.start <= on <= h.end), None)
    greeting = holiday.opening if holiday is not None else DEFAULT_OPENING
    return {
        "key": item.key,
        "date": on.isoformat(),
        "greeting": greeting,
        "holiday": holiday is not None,
        "phrases": [
            p.replace(DEFAULT_OPENING, greeting, 1).replace("{工号}", work_number or "{工号}")
            for p in item.phrases
        ],
    }
