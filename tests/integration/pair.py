"""Two `callcenter serve` processes on one PostgreSQL database and one Mosquitto: the
active/standby pair that tests/integration/test_failover.py and scripts/bench_failover.py
drive, the HEP mirrored to both as Kamailio's siptrace would, and what arrives on MQTT.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from callcenter import db
from callcenter.auth import service as auth_service
from callcenter.auth.store import users
from callcenter.clock import SystemClock
from callcenter.telephony.hep import simulate as sim
from tests.integration.bench.processes import ManagedProcess, free_tcp_port, free_udp_port

REPO = Path(__file__).resolve().parents[2]
RING_TOPIC = "callcenter/alerts/ring-limit"
ANOMALY_TOPIC = "callcenter/anomalies"
CYCLE_SECONDS = 1.0
LIMIT = 4
DEADLINE = CYCLE_SECONDS * LIMIT
EXTENSIONS = [str(2001 + n) for n in range(20)]
ACCEPT_SECONDS = 6.0  # a station takes a repair order within this (else an anomaly)
REPAIR = {
    "kind": "repair", "reporter_name": "张秀英", "phone": "138 0000 0001",
    "address": "大龙市幸福里小区三栋二单元502", "category": "not_hot",
    "fault_location": "卧室暖气片", "severity": "major", "description": "整屋不热",
}  # fmt: skip


@dataclass
class Instance:
    """One `callcenter serve` of the pair."""

    name: str
    config: Path
    log: Path
    web_port: int = field(default_factory=free_tcp_port)
    hep_port: int = field(default_factory=free_udp_port)
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        env_argv = [sys.executable, "-m", "callcenter", "--config", str(self.config), "serve"]
        self.process = ManagedProcess(f"callcenter-{self.name}", env_argv, self.log, cwd=REPO)
        self.process.start()

    def kill(self) -> float:
        """kill -9; returns when (epoch seconds)."""
        assert self.process is not None and self.process.proc is not None
        at = time.time()
        os.kill(self.process.proc.pid, signal.SIGKILL)
        self.process.proc.wait(10)
        return at

    def freeze(self) -> float:
        """SIGSTOP: a host gone silent (its sockets stay open); returns when."""
        assert self.process is not None and self.process.proc is not None
        at = time.time()
        os.kill(self.process.proc.pid, signal.SIGSTOP)
        return at

    def resume(self) -> None:
        assert self.process is not None and self.process.proc is not None
        os.kill(self.process.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=15)

    def exit_code(self) -> int | None:
        proc = self.process.proc if self.process is not None else None
        return proc.poll() if proc is not None else None


def write_config(
    inst: Instance, base: Path, db_url: str, broker_port: int, takeover_seconds: float = 3.0
) -> None:
    inst.config.write_text(
        f'[web]\nlisten = "127.0.0.1:{inst.web_port}"\n'
        f'[database]\nurl = "{db_url}"\nspill_dir = "{base}/spill-{inst.name}"\n'
        "shutdown_flush_seconds = 1.0\n"
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker_port}"\n'
        f'[sip]\nhep_listen = "127.0.0.1:{inst.hep_port}"\nmax_ring_seconds = 120.0\n'
        f"[rings]\ncycle_seconds = {CYCLE_SECONDS}\nlimit = {LIMIT}\n"
        f'[recordings]\nroot = "{base}/recordings"\n'
        '[speech]\nenabled = "off"\n'
        f'[ha]\nenabled = true\ninstance = "{inst.name}"\ntakeover_seconds = {takeover_seconds}\n'
        f"[orders]\naccept_minutes = {ACCEPT_SECONDS / 60}\n"
    )


def make_pair(base: Path, db_url: str, broker_port: int) -> tuple[Instance, Instance]:
    a = Instance("a", base / "a.toml", base / "a.log")
    b = Instance("b", base / "b.toml", base / "b.log")
    for inst in (a, b):
        write_config(inst, base, db_url, broker_port)
    return a, b


async def prepare_database(url: str) -> dict[str, str]:
    """Migrate, add the agents and a team lead. Returns API tokens: "lead", "agent" (2001)."""
    engine = db.create_engine(url)
    clock = SystemClock()
    try:
        await db.upgrade(engine)
        # Straight into the table: they sign in with tokens only, and hashing 21 passwords
        # costs seconds.
        now = clock.now()
        people = [("lead", "team_lead", None, None)] + [
            (f"agent{n}", "agent", ext, f"{n + 1:03d}") for n, ext in enumerate(EXTENSIONS)
        ]
        async with engine.begin() as conn:
            await conn.execute(users.insert(), [
                {"name": name, "role": role, "extension": ext, "work_number": number,
                 "password_hash": "-", "disabled": False, "created_at": now}
                for name, role, ext, number in people
            ])  # fmt: skip
        return {
            "lead": await auth_service.create_token(engine, clock, "lead"),
            "agent": await auth_service.create_token(engine, clock, "agent0"),
        }
    finally:
        await engine.dispose()


async def dispatch_orders(
    session: aiohttp.ClientSession, inst: Instance, token: str, at: Iterable[float]
) -> list[float]:
    """A repair ticket taken and dispatched to its station at each time (epoch seconds), as
    an agent does on the desk; the station never takes it. Returns the acceptance dues."""
    headers = {"Authorization": f"Bearer {token}"}
    dues = []
    for when in at:
        await asyncio.sleep(max(0.0, when - time.time()))
        async with session.post(f"{inst.url}/api/tickets", json=REPAIR, headers=headers) as r:
            assert r.status == 201, await r.text()
            ticket = await r.json()
        async with session.post(
            f"{inst.url}/api/tickets/{ticket['id']}/dispatch", headers=headers
        ) as r:
            assert r.status == 201, await r.text()
            dues.append(epoch((await r.json())["due"]["accept"]))
    return dues


async def health(session: aiohttp.ClientSession, inst: Instance, token: str = "") -> Any:
    """The instance's /api/health (signed in with `token`), or None while it does not answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with session.get(f"{inst.url}/api/health", headers=headers) as response:
            return await response.json()
    except (aiohttp.ClientError, OSError):
        return None


async def wait_role(
    session: aiohttp.ClientSession, inst: Instance, role: str, within: float = 30.0
) -> float:
    """Until the instance says it is `role`; returns when (epoch seconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if inst.process is not None and not inst.process.alive():
            raise AssertionError(f"{inst.name} exited:\n{inst.log.read_text()[-4000:]}")
        body = await health(session, inst)
        if body is not None and body.get("role") == role:
            return time.time()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{inst.name} is not {role} after {within} s:\n{inst.log.read_text()}")


@dataclass(frozen=True)
class Leg:
    """One simulated call to one phone, and whether its ring-limit alert is due."""

    call: sim.SimCall
    plan: sim.Plan
    start: float  # epoch seconds of the INVITE

    @property
    def ring_started(self) -> float:
        return self.start + 0.05  # simulate.timeline: the 180 comes 50 ms after the INVITE

    @property
    def deadline(self) -> float:
        return self.ring_started + DEADLINE

    @property
    def alerted(self) -> bool:
        return self.plan.outcome == "ringing" or self.plan.ring_seconds > DEADLINE


def failover_legs(rng: random.Random, t0: float, kill_after: float) -> list[Leg]:
    """200 phones ringing when the active is killed at `t0 + kill_after` (4.9 s): 100 ring on,
    50 are answered after their deadline, 50 before it but after the kill; then 20 calls
    that start during and after the takeover and ring on."""
    legs = []
    for n in range(200):
        call = sim.new_call(rng, extension=EXTENSIONS[n % len(EXTENSIONS)], prefix="fo")
        if n % 4 < 2 and n < 40:  # deadlines just after the kill: certainly in the gap
            start = t0 + kill_after - DEADLINE - 0.05 + rng.uniform(0.005, 0.05)
            plan = sim.Plan("ringing")
        elif n % 4 < 2:
            start, plan = t0 + rng.uniform(0, 3), sim.Plan("ringing")
        elif n % 4 == 2:  # answered 1-2 s after its deadline: after the kill too
            start = t0 + rng.uniform(0, 3)
            plan = sim.Plan("answered", rng.uniform(5.0, 6.0), talk_seconds=2.0)
        else:  # answered 0.45 s or more before its deadline, after the kill
            start = t0 + rng.uniform(kill_after - 3.3, 3.0)
            plan = sim.Plan("answered", rng.uniform(3.4, 3.6), talk_seconds=2.0)
        legs.append(Leg(call, plan, start))
    for n in range(20):
        call = sim.new_call(rng, extension=EXTENSIONS[n], prefix="new")
        legs.append(Leg(call, sim.Plan("ringing"), t0 + kill_after + 0.05 * n))
    return legs


async def mirror(legs: Iterable[Leg], ports: list[int]) -> int:
    """Send every leg's HEP to each port at its capture time, as siptrace mirrors a proxy's
    traffic to two destinations. Returns the datagrams sent to each."""
    schedule = sorted(item for leg in legs for item in sim.datagrams(leg.call, leg.plan, leg.start))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for at, datagram in schedule:
            delay = at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for port in ports:
                sock.sendto(datagram, ("127.0.0.1", port))
    return len(schedule)


class Collector:
    """Every alert and anomaly message on the broker, as a subscriber sees them (QoS 1)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ring: list[dict[str, Any]] = []
        self.anomalies: list[dict[str, Any]] = []
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, identifier="failover-test") as client:
            await client.subscribe(RING_TOPIC, qos=1)
            await client.subscribe(ANOMALY_TOPIC, qos=1)
            self.ready.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                body = json.loads(message.payload) | {"received": time.time()}
                if str(message.topic) == RING_TOPIC:
                    self.ring.append(body)
                else:
                    self.anomalies.append(body)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
