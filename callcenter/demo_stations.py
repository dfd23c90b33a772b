"""The demo hotline's repair stations and callbacks: each station takes the orders the demo
agents dispatch, some of them late, contacts the resident and returns the order (a few it
refuses as not its own); the owning agent then calls the resident back, and a resident who
is not satisfied sends the repair back to the station. So `serve --demo` shows orders,
anomalies and callbacks happening, in minutes rather than hours: the demo shortens the order
deadlines unless [orders] sets them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from callcenter.auth import service as auth_service
from callcenter.auth import store as auth_store
from callcenter.auth.model import Principal, Role
from callcenter.callbacks.model import ATTITUDES, Answers
from callcenter.callbacks.service import Callbacks
from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.errors import DomainError
from callcenter.orders.model import Order
from callcenter.orders.service import Orders
from callcenter.orders.settings import OrdersSettings
from callcenter.priority.settings import PrioritySettings
from callcenter.web.live import LiveHub

log = logging.getLogger(__name__)

# Minutes, not hours: a late step shows while someone watches.
DEMO_ORDERS = OrdersSettings(
    accept_minutes=2.0, contact_minutes=4.0, repair_hours=0.2, report_within_minutes=3.0
)
# A cold day in the heating season: the priorities count the cold (priority by the cold).
DEMO_CELSIUS = -12.0
_TICK_SECONDS = 2.0
# Reads every agent's due callbacks (a lead's view); never signs in or acts.
_EVERYONES = Principal(0, "demo", Role.SUPERVISOR)
_RESULTS = ("更换暖气片阀门，已热", "排气后恢复正常", "清洗过滤网，温度恢复", "更换漏水管件")


def demo_settings(settings: Settings) -> Settings:
    """The demo's short deadlines and a winter day's outdoor temperature, unless the
    configuration chose its own."""
    if settings.priority == PrioritySettings():
        log.info("demo: outdoor temperature fixed at %.0f °C", DEMO_CELSIUS)
        settings = replace(settings, priority=PrioritySettings(temperature_celsius=DEMO_CELSIUS))
    if settings.orders != OrdersSettings():
        return settings
    log.info(
        "demo: order deadlines shortened to accept %.0f min, contact %.0f min, repair %.0f min",
        DEMO_ORDERS.accept_minutes,
        DEMO_ORDERS.contact_minutes,
        DEMO_ORDERS.repair_hours * 60,
    )
    return replace(settings, orders=DEMO_ORDERS)


@dataclass(frozen=True, slots=True)
class Plan:
    """When the station does each step, in seconds after dispatch (None: never)."""

    accept: float
    contact: float
    finish: float
    refuse: bool


def _plan(rng: random.Random, order: Order) -> Plan:
    accept_limit = (order.accept_due - order.dispatched_at).total_seconds()
    repair_limit = (order.repair_due - order.dispatched_at).total_seconds()
    # Most in time; one in five takes the order late, one in ten repairs late.
    accept = accept_limit * (
        rng.uniform(1.05, 1.5) if rng.random() < 0.2 else rng.uniform(0.1, 0.8)
    )
    contact = accept + rng.uniform(15, 90)
    finish = repair_limit * (
        rng.uniform(1.02, 1.2) if rng.random() < 0.1 else rng.uniform(0.3, 0.8)
    )
    return Plan(accept, contact, max(finish, contact + 30), refuse=rng.random() < 0.04)


class DemoStations:
    def __init__(
        self,
        orders: Orders,
        callbacks: Callbacks,
        hub: LiveHub,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.orders = orders
        self.callbacks = callbacks
        self.hub = hub
        self.clock = clock
        self.rng = rng
        self.plans: dict[str, Plan] = {}
        self.stations: dict[str, Principal] = {}

    async def accounts(self) -> None:
        """One account per station, as a real hotline has (its password is never shown: the
        demo acts for it)."""
        engine = self.orders.db()
        for station in self.orders.book().stations:
            name = f"station.{station.code}"
            async with engine.connect() as conn:
                user = await auth_store.user_by_name(conn, name)
            if user is None:
                user = await auth_service.add_user(
                    engine,
                    self.clock,
                    name,
                    "station",
                    auth_service.generate_password(),
                    station=station.code,
                    actor="demo",
                )
            self.stations[station.code] = user

    async def run(self) -> None:
        await self.accounts()
        while True:
            await asyncio.sleep(_TICK_SECONDS)
            try:
                await self.tick(self.clock.now())
            except Exception:
                log.exception("demo stations: a round failed; the next one starts as usual")

    async def tick(self, now: datetime) -> None:
        active = await self.orders.search(None, ["sent", "accepted", "contacted"], None, None, 500)
        for order in active:
            plan = self.plans.setdefault(order.id, _plan(self.rng, order))
            elapsed = (now - order.dispatched_at).total_seconds()
            station = self.stations.get(order.station)
            if station is None:
                continue
            try:
                await self._step(station, order, plan, elapsed)
            except DomainError as exc:
                log.info("demo station %s: %s", order.station, exc.message)
        await self._callbacks(now)

    async def _step(self, station: Principal, order: Order, plan: Plan, elapsed: float) -> None:
        if order.status == "sent" and elapsed >= plan.accept:
            if plan.refuse:
                await self.orders.act(station, order.id, "refuse", note="该地址不属于本站")
                self.plans.pop(order.id, None)
            else:
                await self.orders.act(station, order.id, "accept")
        elif order.status == "accepted" and elapsed >= plan.contact:
            repairman = self.rng.choice("王李张刘陈") + "师傅"
            await self.orders.act(station, order.id, "contact", repairman=repairman)
        elif order.status == "contacted" and elapsed >= plan.finish:
            await self.orders.act(station, order.id, "return", note=self.rng.choice(_RESULTS))
            self.plans.pop(order.id, None)

    async def _callbacks(self, now: datetime) -> None:
        """The owning agent calls back a minute or two after the return, unless a person is
        signed in at that agent's desk (their callbacks are theirs to make)."""
        engine = self.orders.db()
        async with engine.connect() as conn:
            agents = {u.id: u for u in await auth_store.list_users(conn)}
        for callback in await self.callbacks.search(
            _EVERYONES, None, ("due",), None, None, 200, None
        ):
            agent = agents.get(callback.agent_id or -1)
            if agent is None or self._at_desk(agent):
                continue
            waited = (now - (callback.booked_for or callback.created_at)).total_seconds()
            if waited < 60 + self.rng.uniform(0, 60):
                continue
            roll = self.rng.random()
            try:
                if roll < 0.06:
                    await self.callbacks.record(agent, callback.id, "no_answer")
                elif roll < 0.1:
                    later = now + timedelta(minutes=2)
                    await self.callbacks.record(agent, callback.id, "rebooked", call_at=later)
                else:
                    await self.callbacks.record(
                        agent, callback.id, "answered", answers=self._answers()
                    )
            except DomainError as exc:
                log.info("demo callback: %s", exc.message)

    def _answers(self) -> Answers:
        rng = self.rng
        solved = rng.random() > 0.12
        attitude = rng.choices(ATTITUDES, weights=(80, 15, 5))[0]
        return Answers(
            solved=solved,
            attitude=attitude,
            charged=rng.random() < 0.04,
            score=rng.randint(8, 10) if solved else rng.randint(3, 6),
            suggestions="",
            fee_reminded=solved and attitude == "satisfied",
        )

    def _at_desk(self, agent: Principal) -> bool:
        return any(c.principal.id == agent.id for c in self.hub.clients)
