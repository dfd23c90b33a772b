"""Tickets (报修单 / 工单) and their rules, pure: kinds, fault categories, residents' phone
numbers, what each kind needs, the status transitions and who may change a ticket.

A report taken on the hotline is a ticket, whatever it is: a repair, a consultation (咨询), a
complaint, praise or a suggestion. The agent who took it owns its follow-up (首问责任制,
004 考核 5): only they, or a team lead, supervisor or admin, may change it. Its history is
append-only (the duty log: no page torn out, no entry altered).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from callcenter.auth.model import Principal, Role

Kind = Literal["repair", "consultation", "complaint", "praise", "suggestion", "incident"]
# What an agent takes. "incident" is an incident's own ticket (callcenter/incidents): the one
# order its station gets for the whole area; only the incident makes one.
KINDS: tuple[Kind, ...] = ("repair", "consultation", "complaint", "praise", "suggestion")
ALL_KINDS: tuple[Kind, ...] = (*KINDS, "incident")
# 不热 · 冰凉 · 要求测温 · 漏水 · other: the daily report's categories (日报表).
Category = Literal["not_hot", "ice_cold", "temperature_check", "leak", "other"]
CATEGORIES: tuple[Category, ...] = ("not_hot", "ice_cold", "temperature_check", "leak", "other")
# How bad it is (引导故障程度): one radiator, the whole flat, water on the floor.
Severity = Literal["minor", "major", "urgent"]
SEVERITIES: tuple[Severity, ...] = ("minor", "major", "urgent")
# A household the agent flags as vulnerable (issue 18): an elderly resident, an infant, someone
# medically dependent on a warm flat. Their repairs go first (callcenter/priority).
Vulnerability = Literal["elderly", "infant", "medical"]
VULNERABILITIES: tuple[Vulnerability, ...] = ("elderly", "infant", "medical")
Status = Literal["open", "dispatched", "repaired", "closed", "cancelled"]
STATUSES: tuple[Status, ...] = ("open", "dispatched", "repaired", "closed", "cancelled")
OPEN_STATUSES: tuple[Status, ...] = ("open", "dispatched", "repaired")
# How a call came to be linked: the agent's call in progress, their last one within the
# window, or named by hand (a follow-up, a callback).
LinkHow = Literal["current", "recent", "manual"]
# What an address's routing says (stations.model.Routing.status); None: no address.
AddressRouting = Literal["matched", "unmatched", "ambiguous"]

# Who reads and takes tickets (all tickets: an agent must see a caller's history).
TICKET_USERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
# Who may change any ticket besides the agent who took it.
TICKET_LEADS = frozenset({Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN})

# What a PATCH may do to a ticket's status. A repair goes to its station and comes back
# repaired only through its order (POST /api/tickets/{id}/dispatch, the station's return),
# so a ticket's status and its order never disagree; a dispatched one is recalled first.
_REPAIR_FLOW: dict[Status, frozenset[Status]] = {
    "open": frozenset({"cancelled"}),
    "dispatched": frozenset(),
    "repaired": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
_BY_ORDER: dict[Status, str] = {
    "dispatched": "a repair goes to its station with POST /api/tickets/{id}/dispatch",
    "repaired": "a repair is repaired when its station returns the order (返单)",
}
_OTHER_FLOW: dict[Status, frozenset[Status]] = {
    "open": frozenset({"closed", "cancelled"}),
    "dispatched": frozenset(),
    "repaired": frozenset(),
    "closed": frozenset(),
    "cancelled": frozenset(),
}


def next_statuses(kind: Kind, status: Status) -> frozenset[Status]:
    return (_REPAIR_FLOW if kind in ("repair", "incident") else _OTHER_FLOW)[status]


def transition_error(kind: Kind, status: Status, target: Status) -> str | None:
    """Why `status` → `target` is not allowed for this ticket, or None when it is."""
    if target == status:
        return None
    if kind == "incident" and target != status:
        return "an incident's own ticket follows its incident (POST /api/incidents/{id}/close)"
    if kind == "repair" and target in _BY_ORDER:
        return _BY_ORDER[target]
    if kind == "repair" and status == "dispatched":
        return "the ticket is at its station: recall the order first (POST /api/orders/{id}/recall)"
    if target not in next_statuses(kind, status):
        allowed = ", ".join(sorted(next_statuses(kind, status))) or "none (it is final)"
        return f"a {kind} ticket cannot go from {status} to {target} (from {status}: {allowed})"
    return None


def is_final(status: Status) -> bool:
    return status in ("closed", "cancelled")


# -- residents' phone numbers ------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# 0 + area code + local number: 010 and 02x are followed by 8 digits, 0xxx by 7 or 8.
_LANDLINE = re.compile(r"^0(?:10|2[0-9])[0-9]{8}$|^0[3-9][0-9]{2}[0-9]{7,8}$")
_PHONE_NOISE = re.compile(r"[\s\-().·/]")


def normalize_phone(text: str) -> str | None:
    """A Chinese mobile (1[3-9] and 9 digits) or a landline with its area code, as digits
    only (13800000001, 031652101010); None when it cannot be one. Spaces, hyphens,
    brackets, full-width digits, +86 / 0086 and a trunk 0 before a mobile are accepted."""
    digits = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", text))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits.isascii() or not digits.isdigit():
        return None
    if len(digits) == 12 and digits.startswith("01") and _MOBILE.match(digits[1:]):
        digits = digits[1:]  # a mobile dialled with the trunk 0
    elif digits[:1] not in ("0", "1"):
        digits = "0" + digits  # a landline written after +86 without its 0
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    return None


# -- tickets -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket as stored. `address_standard` is the standard form (住址示例修改) when the
    address was given; `station_proposed` is what the address book said, `station` what the
    agent chose; `address_routing` flags an address no rule matched or several could take."""

    id: str
    kind: Kind
    status: Status
    reporter_name: str
    phone: str | None
    address_typed: str | None
    address_standard: str | None
    address_routing: AddressRouting | None
    address_reason: str | None
    station_proposed: str | None
    station: str | None
    category: Category | None
    fault_location: str | None
    severity: Severity | None
    description: str
    agent_id: int | None
    agent_work_number: str | None
    created_at: datetime
    updated_at: datetime
    incident_id: str | None = None
    vulnerability: Vulnerability | None = None

    @property
    def station_overridden(self) -> bool:
        """The agent sent it elsewhere than the address book proposed (the desk warns)."""
        return self.station_proposed is not None and self.station != self.station_proposed

    @property
    def address_flags(self) -> list[str]:
        flags: list[str] = []
        if self.address_routing in ("unmatched", "ambiguous"):
            flags.append(self.address_routing)
        if self.station_overridden:
            flags.append("station-overridden")
        return flags


@dataclass(frozen=True, slots=True)
class NewTicket:
    """POST /api/tickets. `station` None: the address book's proposal; `call` None: the
    call the agent is on (or just finished)."""

    kind: Kind
    reporter_name: str
    phone: str | None
    address: str | None
    station: str | None
    category: Category | None
    fault_location: str | None
    severity: Severity | None
    description: str
    call: str | None
    # The incident the agent reports this call as part of (the desk's one key); without it a
    # repair in an open incident's area is linked all the same.
    incident: str | None = None
    vulnerability: Vulnerability | None = None


@dataclass(frozen=True, slots=True)
class Patch:
    """PATCH /api/tickets/{id}: the fields given (None clears an optional one), and a note
    for the timeline."""

    values: dict[str, Any]
    note: str | None


def required_missing(kind: Kind, values: dict[str, Any]) -> str | None:
    """The first field this kind needs that is empty. A repair needs where (address), what
    (category) and a number to call back; a complaint is called back (002: within 2 h)."""
    needs: tuple[str, ...] = ()
    if kind == "repair":
        needs = ("address", "phone", "category")
    elif kind == "complaint":
        needs = ("phone",)
    return next((f for f in needs if not values.get(f)), None)


def may_change(user: Principal, ticket: Ticket) -> bool:
    """首问责任制: the agent who took it, or a team lead, supervisor or admin."""
    return user.role in TICKET_LEADS or user.id == ticket.agent_id


# Fields a PATCH may set, and the history they leave. Everything else about a ticket (who
# took it, when, its calls, its history) is not the caller's to rewrite.
EDITABLE = (
    "kind",
    "status",
    "reporter_name",
    "phone",
    "address",
    "station",
    "category",
    "fault_location",
    "severity",
    "description",
    "vulnerability",
)
READ_ONLY = (
    "id",
    "agent",
    "agent_id",
    "agent_work_number",
    "created_at",
    "updated_at",
    "calls",
    "recordings",
    "history",
    "timeline",
    "address_standard",
    "address_routing",
    "station_proposed",
    "address_flags",
    "incident",
    "priority",
)


def changes(before: Ticket, after: Ticket) -> dict[str, list[Any]]:
    """{field: [old, new]} of what differs, for the history row."""
    fields = (
        "kind", "status", "reporter_name", "phone", "address_typed", "address_standard",
        "station", "category", "fault_location", "severity", "description", "vulnerability",
    )  # fmt: skip
    return {
        f: [getattr(before, f), getattr(after, f)]
        for f in fields
        if getattr(before, f) != getattr(after, f)
    }
