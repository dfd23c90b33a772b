"""The demo's bursts: now and then a heating main "breaks" under one community and 6–10 of
its households call within a minute or two, each reporting 冰凉. Five households with one
fault from one community within 30 minutes make the service propose an incident, which
shows on the live page for the demo's supervisor to confirm (its one order then goes to
the station, whose demo account repairs it, and the households are called back). The
first burst comes soon after start, from 东兴里; later ones every 15 minutes from another
community without a live incident.
"""

from __future__ import annotations

import logging
import random
from collections import deque

from callcenter.demo_agents import DemoAgents, Household
from callcenter.incidents.service import Incidents
from callcenter.stations.model import AddressBook, Rule, sample_address
from callcenter.telephony.hep.simulate import MOBILE_PREFIXES

log = logging.getLogger(__name__)

FIRST_AFTER = 30.0  # seconds after the demo starts
EVERY = 15 * 60.0
HOUSEHOLDS = (6, 10)
SHARE = 0.7  # of the calls while a burst lasts: the others are the hotline's usual ones
FIRST_COMMUNITY = "东兴里"
_SURNAMES = "王李张刘陈杨赵黄周吴"


class Bursts:
    def __init__(
        self,
        book: AddressBook,
        incidents: Incidents,
        agents: DemoAgents,
        rng: random.Random,
        started: float,
    ) -> None:
        self.book = book
        self.incidents = incidents
        self.agents = agents
        self.rng = rng
        self.next_at = started + FIRST_AFTER
        self.calling: deque[Household] = deque()
        self.communities = 0

    def due(self, now: float) -> bool:
        return now >= self.next_at and not self.calling

    async def start(self, now: float) -> str | None:
        """The next burst: its households queue up to call; the community, or None when
        every community has a live incident."""
        self.next_at = now + EVERY
        rule = await self._community()
        if rule is None:
            return None
        count = self.rng.randint(*HOUSEHOLDS)
        flats: set[str] = set()
        while len(flats) < count:
            flats.add(sample_address(self.book, self.rng, rule))
        for flat in sorted(flats):
            phone = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            name = self.rng.choice(_SURNAMES) + self.rng.choice(("先生", "女士"))
            household = Household(phone, name, flat)
            self.agents.will_report(household, "ice_cold")
            self.calling.append(household)
        self.communities += 1
        log.info("demo: a main broke under %s: %d households will call", rule.community, count)
        return rule.community

    def caller(self) -> str | None:
        """The next call's number when it is one of the burst's households."""
        if self.calling and self.rng.random() < SHARE:
            return self.calling.popleft().phone
        return None

    async def _community(self) -> Rule | None:
        """东兴里 first, then any community of one station with no live incident there."""
        rules = [r for r in self.book.rules if r.community]
        names = [r.canonical for r in rules]
        single = [r for r in rules if names.count(r.canonical) == 1]
        first = [r for r in single if r.community == FIRST_COMMUNITY and not self.communities]
        others = list(single)
        self.rng.shuffle(others)
        for rule in first + others:
            flat = sample_address(self.book, self.rng, rule)
            _, live = await self.incidents.covering_address(flat)
            if not live:
                return rule
        return None
