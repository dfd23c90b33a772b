"""The demo hotline's agents: while a simulated call is being talked through, the agent of
the ringing phone types its ticket on the desk, through the same service the desk's POST
/api/tickets uses, so it links itself to the call in progress and the call's recording
lands on it. A phone whose agent has signed in on the desk is left to that person.

Households come back: about a third of the calls are from a resident who called before,
with the same number and flat, so the screen-pop has history to show. A household of a
burst (`demo_burst`) reports the fault it was given.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from dataclasses import dataclass
from typing import TypeVar

from callcenter.auth import store as auth_store
from callcenter.auth.model import Principal
from callcenter.errors import DomainError
from callcenter.orders.service import Orders
from callcenter.stations.model import sample_address
from callcenter.tickets.model import VULNERABILITIES, Category, Kind, NewTicket, Severity
from callcenter.tickets.service import Tickets
from callcenter.web.live import LiveHub

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_RETURNING_SHARE = 0.35
_REMEMBERED_HOUSEHOLDS = 200
_KINDS: dict[Kind, int] = {
    "repair": 70,
    "consultation": 15,
    "complaint": 7,
    "praise": 4,
    "suggestion": 4,
}
_CATEGORIES: dict[Category, int] = {
    "not_hot": 45,
    "ice_cold": 20,
    "temperature_check": 15,
    "leak": 12,
    "other": 8,
}
_SEVERITY: dict[Category, Severity] = {
    "ice_cold": "major",
    "leak": "urgent",
    "not_hot": "minor",
    "temperature_check": "minor",
    "other": "minor",
}
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
_LOCATIONS = ("卧室暖气片", "客厅暖气片", "厨房管道", "整户", "卫生间", "楼道立管")
_SAYS: dict[Kind, tuple[str, ...]] = {
    "repair": ("家里暖气{cat}，麻烦派人来看看", "从昨晚开始{cat}，老人在家", "{cat}，邻居家也一样"),
    "consultation": ("咨询今年供暖费的缴费方式", "问一下停暖后什么时候恢复", "咨询报停手续"),
    "complaint": ("维修人员约好上午来，到现在没人联系", "收费员态度不好"),
    "praise": ("表扬昨天来修暖气的师傅，又快又仔细",),
    "suggestion": ("建议停暖前在小区门口贴通知",),
}
_BURST_SAYS = (
    "暖气突然全凉了，邻居家也一样",
    "家里暖气片冰凉，整栋楼都不热",
    "一点热乎气都没有，听说小区管道坏了",
)
_CATEGORY_WORDS: dict[Category, str] = {
    "not_hot": "不热",
    "ice_cold": "冰凉",
    "temperature_check": "温度不够，要求测温",
    "leak": "漏水",
    "other": "有异响",
}


@dataclass(frozen=True, slots=True)
class Household:
    phone: str
    name: str
    address: str


def _weighted(rng: random.Random, weights: dict[_T, int]) -> _T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class DemoAgents:
    """Types the tickets of the demo's answered calls."""

    def __init__(self, tickets: Tickets, hub: LiveHub, rng: random.Random) -> None:
        self.tickets = tickets
        self.hub = hub
        self.rng = rng
        self.households: deque[Household] = deque(maxlen=_REMEMBERED_HOUSEHOLDS)
        self.taken = 0
        self.orders: Orders | None = None  # set: repairs are dispatched once typed
        # Households about to call about one fault (a burst): number → its category.
        self.faults: dict[str, Category] = {}

    def will_report(self, household: Household, fault: Category) -> None:
        """`household` calls soon about `fault` (and later, as any household, again)."""
        self.households.append(household)
        self.faults[household.phone] = fault

    def caller(self, fresh_number: str) -> str:
        """Who calls next: a returning household's number, or the fresh one."""
        if self.households and self.rng.random() < _RETURNING_SHARE:
            return self.rng.choice(self.households).phone
        return fresh_number

    def at_desk(self, extension: str) -> bool:
        """Someone is signed in on the desk (or any live page) as this phone's agent."""
        return any(c.principal.extension == extension for c in self.hub.clients)

    async def take(self, agent: Principal, caller: str) -> str | None:
        """The ticket the agent types for `caller`'s call in progress; its id, or None when
        the service refused it (logged: the demo goes on)."""
        household = self._household(caller)
        kind = _weighted(self.rng, _KINDS)
        category: Category | None = None
        if caller in self.faults:
            kind, category = "repair", self.faults.pop(caller)
            said = self.rng.choice(_BURST_SAYS)
        else:
            if kind == "repair":
                picked: Category = _weighted(self.rng, _CATEGORIES)
                category = picked
            said = self.rng.choice(_SAYS[kind])
        new = NewTicket(
            kind=kind,
            reporter_name=household.name,
            phone=household.phone,
            address=household.address,
            station=None,  # the address book proposes it, as on the desk
            category=category,
            fault_location=self.rng.choice(_LOCATIONS) if category else None,
            severity=_SEVERITY[category] if category else None,
            description=said.format(cat=_CATEGORY_WORDS[category] if category else ""),
            call=None,  # the agent's call in progress, found by the service
            # About one repair in eight is for an elderly resident, an infant, a patient.
            vulnerability=self.rng.choice(VULNERABILITIES)
            if category and self.rng.random() < 0.125
            else None,
        )
        try:
            found = await self.tickets.create(agent, new)
            # A repair goes to its station as soon as it is typed, as the desk does; one
            # that is part of an incident waits for the incident's one order.
            ticket = found.ticket
            if (
                kind == "repair"
                and self.orders is not None
                and ticket.station
                and ticket.incident_id is None
            ):
                await self.orders.dispatch(agent, found.ticket.id)
        except DomainError as exc:
            log.warning("demo: ticket refused: %s", exc.message)
            return None
        self.taken += 1
        return found.ticket.id

    def _household(self, caller: str) -> Household:
        for known in self.households:
            if known.phone == caller:
                return known
        rng = self.rng
        name = rng.choice(_SURNAMES) + rng.choice(("先生", "女士"))
        household = Household(caller, name, sample_address(self.tickets.book(), rng))
        self.households.append(household)
        return household


async def agent_of(tickets: Tickets, extension: str) -> Principal | None:
    """The user whose phone is `extension`, if one has it."""
    async with tickets.db().connect() as conn:
        return await auth_store.user_by_extension(conn, extension)
