"""Incidents (片区故障): many calls about one fault, pure.

When a heating main breaks, hundreds of flats in the same streets go cold at once. An incident
names the area (buildings, communities, streets, a district or a whole station's network),
the cause and the expected repair time. The repair tickets from its area are linked to it, the
station gets one order for the incident instead of one per call, and closing it books one
callback for every household that called, and only for them.

An area is a list of places, each at one granularity of the address book. Every address is
read at every granularity (`AreaKeys`): a place covers an address when their keys agree at
the place's granularity, so 幸福里3号楼 covers 城关区幸福路幸福里3号楼2单元502室, and a station's
place covers every address routed to it.

The service proposes an incident when N households report the same fault category from one
area within M minutes (seed 002: a collective complaint is ≥ 5 households); the department
head confirms or dismisses it. `Clusters` is that rule, the same for the live service and the
property tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from callcenter.auth.model import Role
from callcenter.stations.address import Address, clean
from callcenter.stations.model import AddressBook, Rule, route

Status = Literal["proposed", "open", "closed", "dismissed"]
STATUSES: tuple[Status, ...] = ("proposed", "open", "closed", "dismissed")
LIVE: tuple[Status, ...] = ("proposed", "open")

# Finest first: a finer place lies inside a coarser one when its key there agrees.
Granularity = Literal["building", "community", "street", "district", "station"]
GRANULARITIES: tuple[Granularity, ...] = ("building", "community", "street", "district", "station")

# The categories a broken main causes: a leak in one flat is its own fault.
HEAT_LOSS = ("ice_cold", "not_hot", "temperature_check")

# Who reads incidents: everyone who answers or follows calls.
INCIDENT_READERS = frozenset(
    {Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN}
)
# Who opens one by hand and edits it: the leads on the floor.
INCIDENT_OPENERS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
# Who confirms or dismisses a proposal and closes an incident: the department head (客服部长).
INCIDENT_HEADS = frozenset({Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})


class AreaError(ValueError):
    """A place of an area that names no address of the book, or names it vaguely."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class AreaKeys:
    """One address (or place) read at every granularity; None where it does not say."""

    building: str | None = None
    community: str | None = None
    street: str | None = None
    district: str | None = None
    station: str | None = None

    def at(self, granularity: Granularity) -> str | None:
        value: str | None = getattr(self, granularity)
        return value


@dataclass(frozen=True, slots=True)
class Place:
    """One place of an area: its granularity, what was typed, and its keys (its own one at
    `kind`, and the coarser ones it lies in)."""

    kind: Granularity
    name: str
    keys: AreaKeys

    @property
    def key(self) -> str:
        key = self.keys.at(self.kind)
        assert key is not None
        return key

    def covers(self, keys: AreaKeys) -> bool:
        return keys.at(self.kind) == self.key

    def overlaps(self, other: Place) -> bool:
        """One lies inside the other (or they are the same place)."""
        fine, coarse = sorted((self, other), key=lambda p: GRANULARITIES.index(p.kind))
        return fine.keys.at(coarse.kind) == coarse.key


def covers(area: Sequence[Place], keys: AreaKeys) -> bool:
    return any(p.covers(keys) for p in area)


def overlapping(a: Sequence[Place], b: Sequence[Place]) -> bool:
    return any(p.overlaps(q) for p in a for q in b)


def _rules(book: AddressBook, numbers: Iterable[int]) -> list[Rule]:
    return [book.rules[n - 1] for n in numbers]


def _street_key(rule: Rule) -> str | None:
    return rule.district + rule.street if rule.street else None


def address_keys(book: AddressBook, standard: str | None, station: str | None) -> AreaKeys:
    """An address (a ticket's standard form) at every granularity. An address the book
    cannot route is known by its station only."""
    if not standard:
        return AreaKeys(station=station)
    routing = route(book, standard)
    rules = _rules(book, routing.rules)
    places = {r.canonical for r in rules}
    if not rules or len(places) != 1:
        return AreaKeys(station=station or routing.station)
    rule = rules[0]
    address = routing.address
    community = rule.canonical if rule.kind == "community" else None
    building = None
    if community is not None and address.building is not None:
        building = Address(place=address.place, building=address.building).standard
    return AreaKeys(
        building=building,
        community=community,
        street=_street_key(rule),
        district=rule.district or None,
        station=station or routing.station,
    )


def resolve_place(book: AddressBook, kind: Granularity, name: str) -> tuple[Place, set[str]]:
    """A place as typed, read against the book: the place and the stations serving it.
    Raises AreaError naming what is wrong (no such place, a vague one, a flat)."""
    text = name.strip()
    if not text:
        raise AreaError("empty-place", f"a {kind} needs its name")
    if kind == "station":
        station = book.station(text) or next((s for s in book.stations if s.name == text), None)
        if station is None:
            raise AreaError("area-unmatched", f"no station {text!r} in the address book")
        return Place("station", text, AreaKeys(station=station.code)), {station.code}
    if kind in ("street", "district"):
        wanted = clean(text)
        rules = [
            r
            for r in book.rules
            if (clean(r.street) if kind == "street" else clean(r.district)) == wanted
            or (kind == "street" and r.district and clean(r.district + r.street) == wanted)
        ]
        if not rules:
            raise AreaError("area-unmatched", f"no {kind} {text!r} in the address book")
        found = {(_street_key(r) if kind == "street" else r.district) for r in rules}
        if len(found) != 1:
            raise AreaError(
                "area-ambiguous",
                f"{text} is in {len(found)} places: {', '.join(sorted(map(str, found)))}",
            )
        rule = rules[0]
        own = AreaKeys(
            street=_street_key(rule) if kind == "street" else None,
            district=rule.district or None,
        )
        return Place(kind, text, own), {r.station for r in rules}
    routing = route(book, text)
    rules = _rules(book, routing.rules)
    places = {r.canonical for r in rules}
    if not rules:
        raise AreaError("area-unmatched", f"{text!r} matches no address: {routing.reason}")
    if len(places) != 1:
        raise AreaError("area-ambiguous", f"{text!r}: {routing.reason}")
    rule = rules[0]
    if rule.kind != "community":
        raise AreaError("area-unmatched", f"{text!r} names no community (it is a {rule.kind})")
    address = routing.address
    if address.unit is not None or address.room is not None:
        raise AreaError("area-too-small", f"{text!r} is one flat: name its building or community")
    base = AreaKeys(
        community=rule.canonical, street=_street_key(rule), district=rule.district or None
    )
    if kind == "community":
        return Place("community", text, base), {r.station for r in rules}
    if address.building is None:
        raise AreaError("area-unmatched", f"{text!r} names no building (write 3号楼)")
    building = Address(place=address.place, building=address.building).standard
    serving = {r.station for r in rules if r.covers(address.building_number)}
    keys = AreaKeys(building, base.community, base.street, base.district)
    return Place("building", text, keys), serving or {r.station for r in rules}


def household(standard: str | None, phone: str | None) -> str | None:
    """Who called, once: the flat (its standard address with a room), else the number."""
    if standard and "室" in standard:
        return f"flat:{standard}"
    if phone:
        return f"phone:{phone}"
    return f"address:{standard}" if standard else None


# -- the incident ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    status: Status
    station: str
    area: tuple[Place, ...]
    categories: tuple[str, ...]
    cause: str
    started_at: datetime
    expected_repair_at: datetime | None
    announcement: str
    created_at: datetime
    created_by: str  # a user's name, or "service" for a proposal
    cluster_key: str | None = None  # a proposal's area and category (one live per key)
    opened_at: datetime | None = None
    opened_by: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    repaired_at: datetime | None = None
    note: str | None = None  # what was repaired, or why a proposal was dismissed
    ticket_id: str | None = None  # its own ticket: the station's one order

    def covers(self, keys: AreaKeys, category: str | None) -> bool:
        return (category is None or category in self.categories) and covers(self.area, keys)

    @property
    def area_label(self) -> str:
        return "、".join(p.name for p in self.area)


def announcement(area_label: str, cause: str, expected: datetime | None, tz: object) -> str:
    """What an IVR plays before the queue (Mandarin, as the hotline speaks)."""
    when = ""
    if expected is not None:
        local = expected.astimezone(tz)  # type: ignore[arg-type]
        when = f"，预计{local.month}月{local.day}日{local.hour}时{local.minute:02d}分前恢复"
    return (
        f"您好，{area_label}因{cause}暂停供热{when}。维修人员已在处理，"
        "给您带来不便，敬请谅解。如有其他问题请继续等待接听。"
    )


# -- proposing one: N households, one category, one area, M minutes --------------------


@dataclass(frozen=True, slots=True)
class Report:
    """A repair ticket as the clustering sees it."""

    ticket_id: str
    at: datetime
    area: str  # its key at the configured granularity
    category: str
    household: str


@dataclass(frozen=True, slots=True)
class Proposal:
    cluster_key: str
    area: str
    category: str
    tickets: tuple[str, ...]
    first_at: datetime
    last_at: datetime


def cluster_key(granularity: str, area: str) -> str:
    """One live proposal or incident per area: its other faults join it."""
    return f"{granularity}:{area}"


def decide(
    recent: Sequence[Report],
    report: Report,
    households: int,
    within: timedelta,
    granularity: str = "community",
) -> Proposal | None:
    """A proposal when `report` makes `households` different households of its area and
    category within `within` (counting `recent`: the area's other reports not yet part of an
    incident, and reported after its last dismissal)."""
    window = [
        r
        for r in recent
        if r.area == report.area
        and r.category == report.category
        and report.at - within <= r.at <= report.at
    ] + [report]
    seen = {r.household for r in window}
    if len(seen) < households:
        return None
    window.sort(key=lambda r: (r.at, r.ticket_id))
    return Proposal(
        cluster_key(granularity, report.area),
        report.area,
        report.category,
        tuple(dict.fromkeys(r.ticket_id for r in window)),
        window[0].at,
        window[-1].at,
    )


@dataclass
class Clusters:
    """The proposing rule over a stream of reports, in memory: what the service does with the
    database (tests drive it with hypothesis). A live proposal (or open incident) takes every
    later report of its key; a dismissal forgets the reports before it."""

    households: int
    within: timedelta
    live: dict[str, Proposal] = field(default_factory=dict)
    waiting: dict[str, list[Report]] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)

    def add(self, report: Report) -> Proposal | None:
        key = cluster_key("community", report.area)
        if key in self.live:
            return None  # linked to the live one
        recent = self.waiting.setdefault(key, [])
        proposal = decide(recent, report, self.households, self.within)
        if proposal is None:
            recent.append(report)
            return None
        self.live[key] = proposal
        self.waiting.pop(key, None)
        self.proposals.append(proposal)
        return proposal

    def dismiss(self, key: str) -> None:
        self.live.pop(key, None)
        self.waiting.pop(key, None)

    def close(self, key: str) -> None:
        self.dismiss(key)
