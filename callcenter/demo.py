"""A simulated hotline for `callcenter serve --demo`: residents call 96069, agent phones
2001–2004 ring, and every SIP message reaches our own HEP listener mirrored twice, as
Kamailio's siptrace sends it. The messages come from `telephony.hep.simulate`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections.abc import Callable

from callcenter.app import Services
from callcenter.privacy import mask_number
from callcenter.telephony.hep import simulate as sim

log = logging.getLogger(__name__)

_ARRIVAL_SECONDS = (3.0, 8.0)  # a new call every 3–8 s
_FREE_PHONE_POLL = 0.5


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
                ext = rng.choice(free)
                scenario = sim.random_scenario(rng)
                plan = sim.plan_for(scenario, rng, rule.cycle_seconds, rule.limit)
                call = sim.new_call(rng, ext, prefix="demo-")
            except Exception:
                log.exception("demo: planning a call failed")
            else:
                busy.add(ext)
                task = asyncio.get_running_loop().create_task(
                    _play(sock, target, auth_key, call, plan, scenario),
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


def _release(
    calls: set[asyncio.Task[None]], busy: set[str], ext: str
) -> Callable[[asyncio.Task[None]], None]:
    """When a call's task ends, its phone is free again."""

    def done(task: asyncio.Task[None]) -> None:
        calls.discard(task)
        busy.discard(ext)

    return done


async def _play(
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
    try:
        start = loop.time()
        for offset, hop in sim.timeline(call, plan):
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sock.sendto(sim.hep_datagram(hop, time.time(), auth_key=auth_key), target)
    except Exception:
        # CancelledError is not an Exception: a cancelled demo stops here as it should.
        log.exception("demo call failed scenario=%s caller=%s", scenario, mask_number(call.caller))
