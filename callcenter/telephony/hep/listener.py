"""The HEP3 UDP listener: datagrams → HEP → SIP → telephony events, surviving any input.

Reads with `loop.add_reader` and drains up to a few hundred datagrams per wake-up: a plain
DatagramProtocol costs ~21 µs of syscall overhead per packet here (DESIGN.md).

Anyone may send to the HEP port: the auth key is checked inside the decoder, before the
payload is inflated (decode.py bounds the rest of a datagram's cost). A capture time further
than `max_clock_skew` seconds from our clock (an agent's clock gone wrong, the year 2106 of
a u32 of ones) is replaced by the time received and counted as "hep:clock-skew": the
translator forgets dialogs by capture time, so a dialog stamped 2106 would never be forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from callcenter import signals as t
from callcenter.telephony.hep.decode import HepError, decode_hep
from callcenter.telephony.hep.sip import SipError, parse_sip
from callcenter.telephony.hep.translate import SipTranslator

log = logging.getLogger(__name__)

HEP_SIP = 1
_DRAIN = 256
# At close, how long the datagrams already queued may take to handle (a burst of seconds).
_DRAIN_AT_CLOSE_SECONDS = 5.0
_RCVBUF = 32 * 1024 * 1024
# Start lines of SIP messages the call tracker never uses; anything else is parsed (and so
# validated): INVITE, CANCEL, BYE, REGISTER (which phone a contact is) and every response
# but 100.
_UNTRACKED = (
    b"ACK ", b"PRACK ", b"OPTIONS ", b"NOTIFY ", b"SUBSCRIBE ", b"PUBLISH ",
    b"UPDATE ", b"INFO ", b"MESSAGE ", b"REFER ", b"SIP/2.0 100 ",
)  # fmt: skip


@dataclass(slots=True)
class ListenerStats:
    datagrams: int = 0
    sip_messages: int = 0
    events: int = 0
    ignored: int = 0  # valid HEP carrying something other than SIP (RTCP, logs)
    untracked: int = 0  # SIP messages that change no call state (ACK, 100 Trying, OPTIONS…)
    errors: dict[str, int] = field(default_factory=dict)
    last_message_at: datetime | None = None


def enlarge_receive_buffer(sock: socket.socket) -> int:
    """A big receive buffer absorbs bursts while a batch is written. Root may pass
    net.core.rmem_max (SO_RCVBUFFORCE); others get what rmem_max allows. Returns the bytes
    the kernel grants."""
    for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
        if option is None:
            continue
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, _RCVBUF)
            break
        except OSError:
            continue
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def _send_marker(sock: socket.socket) -> bytes | None:
    """Send a datagram no one else could to the socket's own address; None if it cannot
    be sent (the caller then drains until the socket is empty)."""
    marker = os.urandom(16)
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        with socket.socket(sock.family, socket.SOCK_DGRAM) as out:
            out.sendto(marker, (host, port))
    except OSError:
        return None
    return marker


class HepListener:
    def __init__(
        self,
        on_event: Callable[[t.TelephonyEvent], None],
        translator: SipTranslator,
        password: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        max_clock_skew: float | None = None,
    ) -> None:
        """`max_clock_skew`: seconds a capture time may be from `clock` before the time
        received replaces it (None trusts every capture time: replays of old captures)."""
        self.on_event = on_event
        self.translator = translator
        self._password = password.encode() if password else None
        self._clock = clock
        self._max_skew = max_clock_skew
        self.stats = ListenerStats()
        self._logged_kinds: set[str] = set()
        if translator.on_drop is None:
            # What the translator refuses to keep (a flood of dialogs, a runaway fork) is
            # counted with the rest of the bad input.
            translator.on_drop = self._bad
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bad(self, kind: str, detail: str = "") -> None:
        errors = self.stats.errors
        errors[kind] = errors.get(kind, 0) + 1
        if kind not in self._logged_kinds:
            # Once per kind: a flood of garbage must not flood the log too.
            self._logged_kinds.add(kind)
            log.warning("bad HEP input kind=%s %s(further ones only counted)", kind, detail)

    def datagram_received(self, data: bytes, received: float | None = None) -> None:
        """Handle one datagram; `received` is our clock's epoch seconds when it was read
        (read from the clock when not given)."""
        self.stats.datagrams += 1
        try:
            packet = decode_hep(data, self._password)
        except HepError as exc:
            self._bad("hep:" + exc.kind)
            return
        if packet.proto_type != HEP_SIP:
            self.stats.ignored += 1
            return
        payload = packet.payload
        if payload.startswith(_UNTRACKED):
            # A quarter of a call's messages (ACKs, the proxy's 100 Trying, keep-alive
            # OPTIONS) change no call state: skip the parse, the costliest step here.
            self.stats.sip_messages += 1
            self.stats.untracked += 1
            return
        try:
            msg = parse_sip(payload)
        except SipError as exc:
            self._bad("sip:" + exc.kind)
            return
        self.stats.sip_messages += 1
        # Time by the capture timestamp (a loaded service reads its socket late), unless
        # there is none or it is far from our clock: then by the time received.
        at: datetime | None = None
        if packet.ts_sec > 0:
            captured = packet.timestamp
            skew = self._max_skew
            if skew is None:
                at = datetime.fromtimestamp(captured, UTC)
            else:
                if received is None:
                    received = self._clock().timestamp()
                if -skew <= captured - received <= skew:
                    at = datetime.fromtimestamp(captured, UTC)
                else:
                    self._bad("hep:clock-skew", f"capture time {packet.ts_sec} ")
        if at is None:
            at = self._clock()
        self.stats.last_message_at = at
        try:
            events = self.translator.translate(msg, at)
            for event in events:
                self.on_event(event)
        except Exception as exc:
            # A bug must cost one message, never the listener.
            self._bad("internal", repr(exc))
            log.exception("handling a SIP message failed call_id=%s", msg.call_id)
            return
        self.stats.events += len(events)

    def _readable(self) -> None:
        sock = self._sock
        assert sock is not None
        # One clock read per wake-up, only to tell a capture time far from ours.
        received = self._clock().timestamp() if self._max_skew is not None else None
        for _ in range(_DRAIN):
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP-induced errors on some platforms
                self._bad("socket", repr(exc))
                return
            self.datagram_received(data, received)

    async def start(self, host: str, port: int) -> tuple[str, int]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        enlarge_receive_buffer(sock)
        sock.setblocking(False)
        sock.bind((host, port))
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)
        bound = sock.getsockname()
        log.info("HEP listener on %s:%s", bound[0], bound[1])
        return bound[0], bound[1]

    def close(self, drain_seconds: float = _DRAIN_AT_CLOSE_SECONDS) -> None:
        """Stop listening; what reached the socket before now is still handled.

        A service stopped under load has a backlog queued in the socket (the 32 MB buffer
        holds seconds of traffic): those messages were received, and their calls' state is
        saved by the shutdown that follows. A marker sent to ourselves now ends the drain,
        as one host's UDP socket keeps the order datagrams arrived in; what comes after it
        came after the stop. Bounded by `drain_seconds` (logged if it ran out)."""
        sock, loop = self._sock, self._loop
        if sock is None or loop is None:
            return
        loop.remove_reader(sock.fileno())
        self._sock = None
        marker = _send_marker(sock)
        received = self._clock().timestamp() if self._max_skew is not None else None
        deadline = time.monotonic() + drain_seconds
        drained = 0
        try:
            while True:
                if time.monotonic() >= deadline:
                    log.warning("stopped draining the HEP socket after %.1f s datagrams=%d "
                                "(the rest, queued before the stop, is not handled)",
                                drain_seconds, drained)  # fmt: skip
                    break
                try:
                    data = sock.recv(65535)
                except OSError:
                    break  # empty (BlockingIOError): the marker was lost to a full buffer
                if data == marker:
                    break
                self.datagram_received(data, received)
                drained += 1
        finally:
            sock.close()
        if drained:
            log.info("HEP listener closed after handling its backlog datagrams=%d", drained)
