"""A simulated hotline for `callcenter serve --demo`: residents call 96069, agent phones
2001–2004 ring, and every SIP message reaches our own HEP listener mirrored twice, as
Kamailio's siptrace sends it. The messages come from `telephony.hep.simulate`. Each
answered call gets a short recording (espeak-ng speaks the intake opening, ffmpeg makes it
8 kHz µ-law as a PBX records), handed in the way Asterisk's MixMonitor post-command does.
While a call is talked through, its agent types the ticket (`demo_agents`), and the
recording lands on it by itself. Now and then many households of one community call about
one fault (`demo_burst`), and the service proposes an incident.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from callcenter.app import Services
from callcenter.demo_agents import DemoAgents, agent_of
from callcenter.demo_burst import Bursts
from callcenter.demo_history import seed_history
from callcenter.demo_stations import DemoStations
from callcenter.errors import DomainError
from callcenter.privacy import mask_number
from callcenter.recordings.service import Inbound
from callcenter.telephony.hep import simulate as sim

log = logging.getLogger(__name__)

_ARRIVAL_SECONDS = (3.0, 8.0)  # a new call every 3–8 s
_FREE_PHONE_POLL = 0.5
_TYPED_BY = 0.7  # share of the talk time gone when the agent saves the ticket


def _target(address: tuple[str, int]) -> tuple[str, int]:
    """Where to send: the listener's own address, loopback when it listens on all of them."""
    host, port = address[0], address[1]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, port


async def run_demo(svc: Services) -> None:
    """Send simulated calls to the HEP listener until cancelled; one failing call is logged
    and the next one starts as usual."""
    if svc.hep_address is None:
        log.warning("demo: the HEP listener is not running; no simulated calls")
        return
    target = _target(svc.hep_address)
    password = svc.settings.sip.hep_password
    auth_key = password.encode() if password else None
    rule = svc.rule
    rng = random.Random()
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    busy: set[str] = set()
    calls: set[asyncio.Task[None]] = set()
    agents = DemoAgents(svc.tickets, svc.hub, rng) if svc.tickets is not None else None
    if agents is not None:
        agents.orders = svc.orders
    # Yesterday's shift, for the spot-check desk: written while today's calls start.
    calls.add(asyncio.get_running_loop().create_task(_history(svc), name="demo-history"))
    stations = None
    if svc.orders is not None and svc.callbacks is not None:
        stations = DemoStations(svc.orders, svc.callbacks, svc.hub, svc.clock, random.Random())
        calls.add(asyncio.get_running_loop().create_task(stations.run(), name="demo-stations"))
    loop = asyncio.get_running_loop()
    bursts = None
    if agents is not None and svc.incidents is not None:
        bursts = Bursts(svc.address_book(), svc.incidents, agents, rng, loop.time())
    log.info(
        "demo hotline: calls every %.0f-%.0f s to extensions %s, HEP to %s:%s",
        *_ARRIVAL_SECONDS,
        "/".join(sim.EXTENSIONS),
        *target,
    )
    try:
        while True:
            free = [ext for ext in sim.EXTENSIONS if ext not in busy]
            if not free:
                # Every phone is busy: the next resident waits in the queue.
                await asyncio.sleep(_FREE_PHONE_POLL)
                continue
            try:
                if bursts is not None and bursts.due(loop.time()):
                    await bursts.start(loop.time())
                ext = rng.choice(free)
                scenario = sim.random_scenario(rng)
                call = sim.new_call(rng, ext, prefix="demo-")
                reporting = bursts.caller() if bursts is not None else None
                if reporting is not None:
                    # A household of the burst gets through and reports its fault.
                    call, scenario = replace(call, caller=reporting), "answered_on_time"
                elif agents is not None:
                    call = replace(call, caller=agents.caller(call.caller))
                plan = sim.plan_for(scenario, rng, rule.cycle_seconds, rule.limit)
            except Exception:
                log.exception("demo: planning a call failed")
            else:
                busy.add(ext)
                task = loop.create_task(
                    _play(svc, agents, sock, target, auth_key, call, plan, scenario),
                    name=f"demo-call-{call.call_id[:21]}",
                )
                calls.add(task)
                task.add_done_callback(_release(calls, busy, ext))
            await asyncio.sleep(rng.uniform(*_ARRIVAL_SECONDS))
    finally:
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
        sock.close()


async def _history(svc: Services) -> None:
    try:
        await seed_history(svc, random.Random())
    except Exception:
        log.exception("demo: writing the past shifts failed; the spot-check desk stays empty")


def _release(
    calls: set[asyncio.Task[None]], busy: set[str], ext: str
) -> Callable[[asyncio.Task[None]], None]:
    """When a call's task ends, its phone is free again."""

    def done(task: asyncio.Task[None]) -> None:
        calls.discard(task)
        busy.discard(ext)

    return done


async def _play(
    svc: Services,
    agents: DemoAgents | None,
    sock: socket.socket,
    target: tuple[str, int],
    auth_key: bytes | None,
    call: sim.SimCall,
    plan: sim.Plan,
    scenario: str,
) -> None:
    """Send one call's copies at their times, captured now; errors end this call only."""
    loop = asyncio.get_running_loop()
    log.info(
        "demo call scenario=%s caller=%s extension=%s ring=%.1fs talk=%.1fs",
        scenario,
        mask_number(call.caller),
        call.extension,
        plan.ring_seconds,
        plan.talk_seconds,
    )
    typing: asyncio.Task[None] | None = None
    try:
        start = loop.time()
        if agents is not None and plan.outcome == "answered":
            # The ticket is saved while the resident is still on the line, as agents do.
            saved_at = plan.ring_seconds + plan.talk_seconds * _TYPED_BY
            typing = loop.create_task(_type_ticket(agents, call, saved_at))
        for offset, hop in sim.timeline(call, plan):
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sock.sendto(sim.hep_datagram(hop, time.time(), auth_key=auth_key), target)
        if typing is not None:
            await typing
        if plan.outcome == "answered":
            await _record(svc, call)
    except Exception:
        # CancelledError is not an Exception: a cancelled demo stops here as it should.
        log.exception("demo call failed scenario=%s caller=%s", scenario, mask_number(call.caller))
    finally:
        if typing is not None and not typing.done():
            typing.cancel()


async def _type_ticket(agents: DemoAgents, call: sim.SimCall, after: float) -> None:
    await asyncio.sleep(after)
    if agents.at_desk(call.extension):
        return  # a person is at this desk: the ticket is theirs to type
    agent = await agent_of(agents.tickets, call.extension)
    if agent is None:
        return
    ticket = await agents.take(agent, call.caller)
    if ticket is not None:
        log.info("demo: agent %s took ticket %s", agent.name, ticket)


_OPENING = "您好，大龙供暖报修{extension}号为您服务，请问您有什么问题"
_missing_tools: set[str] = set()


async def _record(svc: Services, call: sim.SimCall) -> None:
    """The demo PBX's recording of an answered call, stored like `recording add` would."""
    if svc.recordings is None or _missing_tools:
        return
    with tempfile.TemporaryDirectory(prefix="cc-demo-") as tmp:
        speech, recorded = Path(tmp) / "speech.wav", Path(tmp) / "call.wav"
        text = _OPENING.format(extension=call.extension)
        for args in (
            ("espeak-ng", "-v", "cmn", "-w", str(speech), text),
            ("ffmpeg", "-v", "error", "-nostdin", "-i", str(speech),
             "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw", str(recorded)),
        ):  # fmt: skip
            try:
                proc = await asyncio.create_subprocess_exec(
                    *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
                )
            except FileNotFoundError:
                _missing_tools.add(args[0])
                log.warning("demo: %s is not installed; demo calls get no recordings", args[0])
                return
            if await proc.wait() != 0:
                log.warning("demo: %s failed; this call gets no recording", args[0])
                return
        try:
            await svc.recordings.add_file(
                recorded, Inbound("cli", "demo", f"{call.call_id}.wav", call.call_id)
            )
        except DomainError as exc:
            log.warning("demo: recording refused: %s", exc.message)
