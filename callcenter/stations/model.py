"""The address book (地址库): repair stations (维修站), the rules that say which station an
address belongs to, routing an address to its station and checking the rules, pure.

Every address belongs to exactly one station, and sending a ticket to the wrong one is a
fined error (004). So the rule that matches an address proposes its station; an address no
rule matches, or one several stations could take, is flagged and never routed by guess; and
`check` reports rules that overlap, rules no address can reach and stations with no rule.

A rule names a community (小区), else a street, else a district, with optional aliases and,
for a community, building ranges. An address is matched in tiers: a community named in it
wins over a street, a street over a district. Within a tier the longest name wins where
names overlap in the text (幸福里东区 over 幸福里, the street 五里仓路 over the community
五里仓); two places named apart are ambiguous. A
rule whose district differs from the one the address names is out; a rule whose district or
street the address names wins over one whose it doesn't; a building range wins over the
community's rule without one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from callcenter.stations.address import Address, parse

RuleKind = Literal["community", "street", "district"]
TIERS: tuple[RuleKind, ...] = ("community", "street", "district")
RoutingStatus = Literal["matched", "unmatched", "ambiguous"]


@dataclass(frozen=True, slots=True)
class Station:
    """A repair station of the daily report form: code (pinyin), Chinese name, phone."""

    code: str
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class Rule:
    """Addresses of a district / street / community (and building ranges) → a station.
    Names are cleaned (address.clean); `number` is its place in the file, from 1."""

    number: int
    station: str
    district: str = ""
    street: str = ""
    community: str = ""
    aliases: tuple[str, ...] = ()
    # Inclusive building-number ranges; empty: every building.
    buildings: tuple[tuple[int, int], ...] = ()

    @property
    def kind(self) -> RuleKind:
        return "community" if self.community else "street" if self.street else "district"

    @property
    def name(self) -> str:
        return self.community or self.street or self.district

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def canonical(self) -> str:
        """The place in its standard form (住址示例修改): district, street, community."""
        if self.kind == "district":
            return self.district
        if self.kind == "street":
            return self.district + self.street
        return self.district + self.street + self.community

    def covers(self, building: int | None) -> bool:
        if not self.buildings:
            return True
        return building is not None and any(lo <= building <= hi for lo, hi in self.buildings)

    def label(self) -> str:
        ranges = f" {ranges_text(self.buildings)}号楼" if self.buildings else ""
        return f"rule {self.number} ({self.kind} {self.name}{ranges} → {self.station})"


def ranges_text(ranges: Iterable[tuple[int, int]]) -> str:
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


class AddressBook:
    """Stations and rules, with the rules indexed by tier and name."""

    def __init__(
        self,
        stations: Sequence[Station],
        rules: Sequence[Rule],
        drop_prefixes: Sequence[str] = (),
    ) -> None:
        self.stations = tuple(stations)
        self.rules = tuple(rules)
        self.drop_prefixes = tuple(drop_prefixes)
        self.by_code = {s.code: s for s in self.stations}
        self.names: dict[RuleKind, dict[str, list[Rule]]] = {tier: {} for tier in TIERS}
        for rule in self.rules:
            for name in rule.names:
                self.names[rule.kind].setdefault(name, []).append(rule)
        self.all_names = frozenset(n for tier in TIERS for n in self.names[tier])
        self.districts = frozenset(r.district for r in self.rules if r.district)

    def station(self, code: str) -> Station | None:
        return self.by_code.get(code)


@dataclass(frozen=True, slots=True)
class Routing:
    """Where an address goes. `address` is in the book's standard form when the rules agree
    on its place; `station` is proposed only when `status` is "matched"."""

    typed: str
    address: Address
    status: RoutingStatus
    station: str | None
    # The rules that decided (matched), or that could (ambiguous).
    rules: tuple[int, ...]
    candidates: tuple[str, ...]
    reason: str

    @property
    def standard(self) -> str:
        return self.address.standard


@dataclass(frozen=True, slots=True)
class _Mention:
    start: int
    end: int
    name: str


def _mentions(place: str, names: Iterable[str]) -> list[_Mention]:
    """Every place a name occurs in the text, less those inside a longer one's span."""
    found = []
    for name in names:
        start = place.find(name)
        while start >= 0:
            found.append(_Mention(start, start + len(name), name))
            start = place.find(name, start + 1)
    return [
        m
        for m in found
        if not any(
            o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)
            for o in found
        )
    ]


def _by_context(rules: list[Rule], place: str, book: AddressBook) -> list[Rule]:
    """Rules whose district the address contradicts go; those whose district or street it
    names win over the others."""
    named = {d for d in book.districts if d in place}
    if named:
        rules = [r for r in rules if not r.district or r.district in named]

    def score(rule: Rule) -> int:
        street = rule.kind == "community" and bool(rule.street) and rule.street in place
        return int(bool(rule.district) and rule.district in place) + int(street)

    best = max((score(r) for r in rules), default=0)
    return [r for r in rules if score(r) == best]


def _by_building(rules: list[Rule], address: Address) -> tuple[list[Rule], str]:
    number = address.building_number
    if number is not None:
        ranged = [r for r in rules if r.buildings and r.covers(number)]
        if ranged:
            return ranged, ""
        whole = [r for r in rules if not r.buildings]
        return whole, "" if whole else f"building {address.building} is in no rule"
    whole = [r for r in rules if not r.buildings]
    if whole:
        return whole, ""
    if address.building is not None:
        return [], f"building {address.building} is in no rule (rules name numbered buildings)"
    return rules, "which building? the stations split this place by building"


def _standard(address: Address, rules: list[Rule], mention: _Mention) -> Address:
    """The place rewritten in the book's form when the rules agree on it: the typed text up
    to the last mention of the name (a city, a district written another way) goes, what
    follows stays."""
    canonical = {r.canonical for r in rules}
    if len(canonical) != 1:
        return address
    place = canonical.pop() + address.place[mention.end :]
    return Address(place, address.building, address.unit, address.room)


def sample_address(book: AddressBook, rng: random.Random, rule: Rule | None = None) -> str:
    """A flat in one of the book's communities (in `rule`'s, when given) as a resident might
    say it and an agent type it (号楼 / 栋 / 幢, a unit or not), for the demo and the
    benchmarks."""
    if rule is None:
        rule = rng.choice([r for r in book.rules if r.community])
    if rule.buildings:
        lo, hi = rng.choice(rule.buildings)
        building = rng.randint(lo, min(hi, lo + 40))
    else:
        building = rng.randint(1, 40)
    room = f"{rng.randint(1, 18)}0{rng.randint(1, 4)}"
    marker = rng.choice(("号楼", "号楼", "栋", "幢"))
    unit = f"{rng.randint(1, 6)}单元" if rng.random() < 0.8 else ""
    return f"{rule.community}{building}{marker}{unit}{room}"


def route(book: AddressBook, text: str) -> Routing:
    """The station an address belongs to, by the rules (see the module docstring)."""
    address = parse(text, book.drop_prefixes)
    place = address.place
    # Across tiers, so that 五里仓路 (a street) hides the community 五里仓 inside it.
    everywhere = _mentions(place, book.all_names)
    for tier in TIERS:
        index = book.names[tier]
        mentions = [m for m in everywhere if m.name in index]
        if not mentions:
            continue
        named = {m.name for m in mentions}
        rules = list({r.number: r for n in sorted(named) for r in index[n]}.values())
        rules = _by_context(rules, place, book)
        if not rules:
            return Routing(
                text, address, "unmatched", None, (), (),
                f"{'/'.join(sorted(named))} is not in the district the address names",
            )  # fmt: skip
        apart = {r.canonical for r in rules}
        if len(apart) > 1:  # two places named, or one name the book has in two districts
            numbers = tuple(sorted(r.number for r in rules))
            stations = tuple(sorted({r.station for r in rules}))
            reason = (
                f"{min(named)} is in {len(apart)} places; name the district or street"
                if len(named) == 1
                else f"names {len(apart)} places: {', '.join(sorted(named))}"
            )
            return Routing(text, address, "ambiguous", None, numbers, stations, reason)
        rules, why = _by_building(rules, address)
        if not rules:
            return Routing(text, address, "unmatched", None, (), (), f"{min(named)}: {why}")
        numbers = tuple(sorted(r.number for r in rules))
        stations = tuple(sorted({r.station for r in rules}))
        own = {n for r in rules for n in r.names}
        standard = address
        if all(m.name in own for m in mentions):  # no other place named beside it
            standard = _standard(address, rules, max(mentions, key=lambda m: m.end))
        if len(stations) == 1:
            return Routing(
                text, standard, "matched", stations[0], numbers, stations,
                f"{tier} {rules[0].name}" + (f" ({why})" if why else ""),
            )  # fmt: skip
        reason = why or f"rules {', '.join(map(str, numbers))} overlap"
        return Routing(text, standard, "ambiguous", None, numbers, stations, reason)
    return Routing(text, address, "unmatched", None, (), (), "no rule names this address")


ProblemKind = Literal["overlap", "unreachable", "no-rule"]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    message: str
    rules: tuple[int, ...] = ()


def _intersect(a: Rule, b: Rule) -> tuple[tuple[int, int], ...] | None:
    """The buildings two rules of one name both take; None when none. A range and a
    rule without one don't overlap: the range wins for its buildings."""
    if not a.buildings and not b.buildings:
        return ()
    if not a.buildings or not b.buildings:
        return None
    both = tuple(
        (max(lo1, lo2), min(hi1, hi2))
        for lo1, hi1 in a.buildings
        for lo2, hi2 in b.buildings
        if max(lo1, lo2) <= min(hi1, hi2)
    )
    return both or None


def _overlaps(book: AddressBook) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[int, int]] = set()
    for tier in TIERS:
        for name, rules in book.names[tier].items():
            for i, a in enumerate(rules):
                for b in rules[i + 1 :]:
                    pair = (min(a.number, b.number), max(a.number, b.number))
                    both = _intersect(a, b)
                    if a.number == b.number or pair in seen or both is None:
                        continue
                    seen.add(pair)
                    where = f" buildings {ranges_text(both)}" if both else ""
                    unless = (
                        f" (apart only when the address names {a.district} or {b.district})"
                        if a.district and b.district and a.district != b.district
                        else ""
                    )
                    out.append(
                        Problem(
                            "overlap",
                            f"{a.label()} and {b.label()} both take {name}{where}{unless}",
                            pair,
                        )
                    )
    return out


def _probe(rule: Rule, name: str) -> str:
    """An address that names the rule's place as the book writes it."""
    context = rule.district + (rule.street if rule.kind == "community" else "")
    building = f"{rule.buildings[0][0]}号楼" if rule.buildings else ""
    return (context if not name.startswith(context) else "") + name + building


def _unreachable(book: AddressBook) -> list[Problem]:
    out = []
    for rule in book.rules:
        for name in rule.names:
            routing = route(book, _probe(rule, name))
            if rule.number not in routing.rules:
                went = (
                    f"goes to rule {', '.join(map(str, routing.rules))}"
                    if routing.rules
                    else f"is not found ({routing.reason}; read as {routing.standard!r})"
                )
                out.append(
                    Problem(
                        "unreachable",
                        f"{rule.label()} is never used for {name}: {_probe(rule, name)!r} {went}",
                        (rule.number, *routing.rules),
                    )
                )
    return out


def check(book: AddressBook) -> list[Problem]:
    """What is wrong with the rules: overlaps, rules never used, stations with no rule."""
    used = {r.station for r in book.rules}
    idle = [
        Problem("no-rule", f"station {s.code} ({s.name}) has no rule: no address goes there")
        for s in book.stations
        if s.code not in used
    ]
    return _overlaps(book) + _unreachable(book) + idle
