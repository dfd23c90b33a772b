"""One probe call through pyVoIP (uac.py), timed from the SIP messages its socket carried:
register, INVITE the hotline, CANCEL at the limit or hang up after the hold, unregister.

A fresh phone each probe: no registration to refresh between calls (pyVoIP's refresh reads
the socket its calls use), and nothing left over from the last call. pyVoIP's calls block,
so they run in worker threads; the datagrams come back to the event loop as they pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.probe import dialog
from callcenter.probe.model import Heard
from callcenter.probe.settings import ProbeSettings

log = logging.getLogger(__name__)

ProbeCall = Callable[[ProbeSettings], Awaitable[Heard]]
# After a CANCEL, how long to wait for the INVITE's final answer (487, or a 200 that crossed
# the CANCEL and is hung up at once); after a BYE, for its 200.
_FINAL_WAIT = 4.0
_BYE_WAIT = 2.0
NOT_INSTALLED = "pyVoIP is not installed: pip install 'callcenter[probe]'"


@dataclass
class Watch:
    """Reads the datagrams of one probe call into what was heard, pure (no I/O)."""

    call_id: str | None = None
    sent_at: float | None = None
    first_response: float | None = None
    ring: float | None = None
    answer: float | None = None
    final_status: int | None = None
    bye_status: int | None = None
    register_status: int | None = None
    statuses: list[int] = field(default_factory=list)

    def feed(self, at: float, data: bytes, inbound: bool) -> None:
        if not inbound:
            if data.startswith(b"INVITE ") and self.call_id is None:
                self.call_id = dialog.first(data, "call-id")
                self.sent_at = at  # a re-sent INVITE (digest answer) keeps the first time
            return
        status = dialog.status_of(data)
        if status is None:
            return  # a request to the probe (OPTIONS, a BYE from the far end): not timed
        _, method = dialog.cseq(data)
        if method == "REGISTER":
            self.register_status = status
            return
        if self.call_id is None or dialog.first(data, "call-id") != self.call_id:
            return
        if method == "BYE":
            self.bye_status = status
            return
        if method != "INVITE" or self.sent_at is None:
            return
        seconds = max(0.0, at - self.sent_at)
        self.statuses.append(status)
        if self.first_response is None:
            self.first_response = seconds
        if status in (180, 183):
            self.ring = seconds if self.ring is None else self.ring
        elif 200 <= status < 300:
            if self.answer is None:
                self.answer = seconds
                self.final_status = status
        elif status >= 300 and status not in (401, 407) and self.final_status is None:
            # 401/407 ask for credentials: pyVoIP sends the INVITE again with them.
            self.final_status = status

    @property
    def alive(self) -> bool:
        return self.ring is not None or self.answer is not None

    def heard(self, cancelled: bool, problem: str = "") -> Heard:
        return Heard(
            sip_call_id=self.call_id,
            first_response=self.first_response,
            ring=self.ring,
            answer=self.answer,
            final_status=self.final_status,
            cancelled=cancelled,
            bye_status=self.bye_status,
            problem=problem,
        )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Call:
    """The datagrams of one probe phone, handed from pyVoIP's threads to the event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[float, bytes, bool]] = asyncio.Queue()
        self.watch = Watch()

    def on_datagram(self, at: float, data: bytes, inbound: bool) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (at, data, inbound))

    def drain(self) -> None:
        while not self.queue.empty():
            self.watch.feed(*self.queue.get_nowait())

    async def until(self, done: Callable[[Watch], bool], deadline: float) -> bool:
        """Feed datagrams until `done` holds (True) or the monotonic `deadline` (False)."""
        while True:
            self.drain()
            if done(self.watch):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                self.watch.feed(*await asyncio.wait_for(self.queue.get(), left))


async def place_probe_call(s: ProbeSettings) -> Heard:
    """Register, call `s.number`, and report what was heard. Never raises for the line's
    faults (they are what is measured); raises RuntimeError without pyVoIP."""
    try:
        from callcenter.probe import uac
    except ImportError as exc:
        raise RuntimeError(NOT_INSTALLED) from exc
    assert s.registrar is not None
    host, port = s.listen
    call = _Call()
    phone = uac.ProbeVoIPPhone(
        s.registrar[0],
        s.registrar[1],
        s.username,
        s.password,
        myIP=host,
        sipPort=port or _free_port(host),
        rtpPortLow=s.rtp_ports[0],
        rtpPortHigh=s.rtp_ports[1],
        on_datagram=call.on_datagram,
    )
    # A registrar answers at least as fast as the hotline rings.
    phone.sip.register_timeout = max(1, round(s.ring_limit_seconds))
    dial: asyncio.Future[Any] | None = None
    try:
        await asyncio.to_thread(phone.start)
        call.drain()
        if phone.get_status().name != "REGISTERED":
            status = call.watch.register_status
            why = f"REGISTER answered {status}" if status else "no answer to REGISTER"
            return Heard(registered=False, problem=f"{why} from {s.registrar[0]}")
        dial = asyncio.ensure_future(asyncio.to_thread(phone.call, s.number))
        return await _follow(s, phone, call, dial)
    finally:
        await _close(phone, dial)


async def _follow(s: ProbeSettings, phone: Any, call: _Call, dial: asyncio.Future[Any]) -> Heard:
    started = time.monotonic()
    sent = await call.until(lambda w: w.sent_at is not None, started + 2.0)
    if not sent:
        return call.watch.heard(False, "the INVITE was not sent")
    assert call.watch.sent_at is not None
    t0 = call.watch.sent_at
    final = await call.until(
        lambda w: w.final_status is not None or w.alive, t0 + s.ring_limit_seconds
    )
    if final and call.watch.final_status is None:
        final = await call.until(lambda w: w.final_status is not None, t0 + s.answer_limit_seconds)
    cancelled = not final
    if cancelled:
        assert call.watch.call_id is not None
        phone.client.cancel(call.watch.call_id)
        await call.until(lambda w: w.final_status is not None, time.monotonic() + _FINAL_WAIT)
    if call.watch.answer is not None:
        if not cancelled:
            await asyncio.sleep(s.hold_seconds)
        await asyncio.to_thread(_hang_up, phone, call.watch.call_id)
        await call.until(lambda w: w.bye_status is not None, time.monotonic() + _BYE_WAIT)
    problem = ""
    if dial.done() and dial.exception() is not None:
        problem = f"pyVoIP: {dial.exception()!r}"
    return call.watch.heard(cancelled, problem)


def _hang_up(phone: Any, call_id: str | None) -> None:
    """pyVoIP's hangup when it knows the answered call (it also stops the media), else our
    BYE (its INVITE loop can swallow a 200 that came before any 100 or 180)."""
    from pyVoIP.VoIP import CallState

    known = phone.calls.get(call_id)
    if known is not None and known.state == CallState.ANSWERED:
        known.hangup()
    elif call_id is not None:
        phone.client.hang_up(call_id)


async def _close(phone: Any, dial: asyncio.Future[Any] | None) -> None:
    if dial is not None and not dial.done():
        # pyVoIP's INVITE waits on the socket for a 100 or 180 that never came: closing
        # the socket ends that wait (its thread sees an OSError).
        with contextlib.suppress(OSError, AttributeError):
            phone.sip.s.close()
    if dial is not None:
        with contextlib.suppress(Exception):
            await dial
    try:
        await asyncio.wait_for(asyncio.to_thread(phone.stop), phone.sip.register_timeout + 2)
    except Exception as exc:  # pyVoIP's unregister: the probe's result stands regardless
        log.info("probe phone stop: %r", exc)
