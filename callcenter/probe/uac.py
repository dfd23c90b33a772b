"""pyVoIP 1.6.8 as the probe's phone (the optional extra `callcenter[probe]`, GPL-3.0), with
the smallest repairs an outgoing call through a PBX or proxy needs.

pyVoIP registers (digest auth), sends the INVITE (SDP, digest retry), runs its receive loop
and starts the media on a 200. What it lacks or gets wrong is done here (dialog.py says how):
- it reports no ringing for an outgoing call and ignores 180/183, so its UDP socket is
  tapped: every datagram it reads or sends is reported with the time, and the probe times
  the call from those;
- its ACK of a 200 and its BYE carry a wrong To tag and ignore Record-Route: `gen_ack` and
  `gen_bye` are replaced by correct ones;
- it leaves a 486/480/487/500 unacknowledged (the PBX resends it for 32 s): acknowledged here;
- it has no CANCEL: `cancel`;
- its Call-IDs (and so its INVITE branches) are the hash of a counter that starts again in
  each phone: every probe call would have the same one; `gen_call_id` makes them random.
Nothing else of pyVoIP is changed; the probe reads no pyVoIP call state.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

# pyVoIP.VoIP first: importing pyVoIP.SIP first fails on pyVoIP's circular import.
import pyVoIP.VoIP
from pyVoIP import SIP

from callcenter.probe import dialog

OnDatagram = Callable[[float, bytes, bool], None]  # (monotonic seconds, bytes, inbound)
USER_AGENT = f"callcenter-probe (pyVoIP {pyVoIP.__version__})"


class _Tap:
    """The SIP client's UDP socket, seen: each datagram is reported before pyVoIP has it."""

    def __init__(self, sock: socket.socket, on_datagram: OnDatagram) -> None:
        self._sock = sock
        self._on = on_datagram

    def recv(self, size: int) -> bytes:
        data = self._sock.recv(size)
        self._on(time.monotonic(), data, True)
        return data

    def sendto(self, data: bytes, address: Any) -> int:
        self._on(time.monotonic(), data, False)
        return self._sock.sendto(data, address)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _ProbeSipClient(SIP.SIPClient):
    def __init__(self, *args: Any, on_datagram: OnDatagram, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_datagram = on_datagram
        self._lock = threading.Lock()
        self._invites: dict[str, bytes] = {}  # Call-ID -> the last INVITE sent
        self._dialogs: dict[str, dialog.Dialog] = {}  # Call-ID -> the answered dialog
        self._acked = False  # whether the 200 being handled was acknowledged (under recvLock)

    def _heard(self, at: float, data: bytes, inbound: bool) -> None:
        if not inbound and data.startswith(b"INVITE "):
            with self._lock:
                self._invites[dialog.first(data, "call-id")] = data
        self._on_datagram(at, data, inbound)

    def gen_call_id(self) -> str:
        return f"{secrets.token_hex(16)}@{self.myIP}"

    def start(self) -> None:
        # pyVoIP's own start, with the socket tapped before the first REGISTER goes out, and
        # the receive loop started at once: pyVoIP starts it a second later (Timer(1)), and a
        # 180 arriving in that second would be read, and timed, only then.
        if self.NSD:
            raise RuntimeError("Attempted to start already started SIPClient")
        self.NSD = True
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        raw.bind((self.myIP, self.myPort))
        self.s = _Tap(raw, self._heard)  # type: ignore[assignment]
        self.out = self.s
        self.register()
        threading.Thread(target=self.recv_loop, name="SIP Recieve", daemon=True).start()

    def recv_loop(self) -> None:
        # pyVoIP's loop, with the socket made blocking again before the lock is released:
        # pyVoIP does it after (util.acquired_lock_and_unblocked_socket), and an INVITE sent
        # in between reads a non-blocking socket: BlockingIOError, the call lost to pyVoIP,
        # its 200 never acknowledged (measured: 1 probe in ~40). stop() ends the loop by
        # closing the socket under it: not an error.
        while self.NSD:
            try:
                with self.recvLock:
                    self.s.setblocking(False)
                    try:
                        self.recv()
                    finally:
                        self.s.setblocking(True)
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                if self.NSD:
                    raise
                return

    def parse_message(self, message: SIP.SIPMessage) -> None:
        # Called under recvLock (pyVoIP's receive loop and its INVITE both hold it).
        if message.type != SIP.SIPMessageType.RESPONSE or not self._handled(message.raw):
            super().parse_message(message)

    def _handled(self, raw: bytes) -> bool:
        """A response to the INVITE that pyVoIP would only print a TODO about (a 183, a
        486): taken care of here. A 200 goes to pyVoIP (media, then its ACK: gen_ack below),
        and is acknowledged here if pyVoIP did not: it has no call for a 200 read inside its
        INVITE loop or before it filed the call, and raises before its ACK when the media
        cannot start (an RTP port in use)."""
        status = dialog.status_of(raw)
        _, method = dialog.cseq(raw)
        if status is None or method != "INVITE":
            return False
        if 200 <= status < 300:
            with self._lock:
                self._dialogs[dialog.first(raw, "call-id")] = dialog.dialog_of(raw)
            message = message_of(raw)
            self._acked = False
            try:
                super().parse_message(message)
            finally:
                if not self._acked:
                    self.out.sendto(self.gen_ack(message).encode(), (self.server, self.port))
            return True
        if status in (404, 503):  # pyVoIP ends its call and acknowledges it (gen_ack below)
            return False
        if status >= 300:
            self.out.sendto(self.gen_ack(message_of(raw)).encode(), (self.server, self.port))
            return True
        return status not in (100, 180)

    def gen_ack(self, request: SIP.SIPMessage) -> str:
        self._acked = True
        raw = request.raw
        call_id = dialog.first(raw, "call-id")
        with self._lock:
            invite = self._invites.get(call_id)
            answered = self._dialogs.get(call_id)
        status = dialog.status_of(raw) or 0
        if invite is None:  # not our call: pyVoIP's own
            return str(super().gen_ack(request))
        if 200 <= status < 300 and answered is not None:
            return dialog.in_dialog("ACK", invite, answered, self.myIP, self.myPort, USER_AGENT)
        return dialog.ack_non_2xx(invite, raw, USER_AGENT)

    def gen_bye(self, request: SIP.SIPMessage) -> str:
        call_id = request.headers["Call-ID"]
        with self._lock:
            invite = self._invites.get(call_id)
            answered = self._dialogs.get(call_id)
        if invite is None or answered is None:
            return str(super().gen_bye(request))
        return dialog.in_dialog("BYE", invite, answered, self.myIP, self.myPort, USER_AGENT)

    def cancel(self, call_id: str) -> bool:
        """CANCEL the INVITE of `call_id`; False if no INVITE of it was sent."""
        with self._lock:
            invite = self._invites.get(call_id)
        if invite is None:
            return False
        self.out.sendto(dialog.cancel(invite, USER_AGENT).encode(), (self.server, self.port))
        return True

    def hang_up(self, call_id: str) -> bool:
        """BYE an answered call, whether or not pyVoIP knows it (a 200 read inside its
        INVITE loop never reaches its call); False if it was not answered."""
        with self._lock:
            invite = self._invites.get(call_id)
            answered = self._dialogs.get(call_id)
        if invite is None or answered is None:
            return False
        bye = dialog.in_dialog("BYE", invite, answered, self.myIP, self.myPort, USER_AGENT)
        self.out.sendto(bye.encode(), (self.server, self.port))
        return True


def message_of(raw: bytes) -> SIP.SIPMessage:
    return SIP.SIPMessage(raw)


class ProbeVoIPPhone(pyVoIP.VoIP.VoIPPhone):
    """pyVoIP's phone with the repaired SIP client."""

    def __init__(self, *args: Any, on_datagram: OnDatagram, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sip = _ProbeSipClient(
            self.server,
            self.port,
            self.username,
            self.password,
            phone=self,
            myIP=self.myIP,
            myPort=self.sip.myPort,
            callCallback=self.callback,
            fatalCallback=self.fatal,
            on_datagram=on_datagram,
        )

    @property
    def client(self) -> _ProbeSipClient:
        assert isinstance(self.sip, _ProbeSipClient)
        return self.sip
