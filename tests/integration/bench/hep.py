"""Decode the HEPv3 copies the bench proxy mirrors, so tests can look at the SIP inside.

HEP copies are sent by several Kamailio worker processes, so their arrival order is
not guaranteed to be causal (once seen: the outgoing copy of a relayed BYE arrived
after the 200 answering it).  Order by the HEP timestamp (chunks 9/10) or by SIP
semantics rather than by arrival.
"""

from __future__ import annotations

import dataclasses
import socket
import struct


@dataclasses.dataclass(frozen=True)
class HepPacket:
    """The interesting chunks of one HEPv3 datagram."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    timestamp: float
    capture_id: int | None
    payload: bytes

    @property
    def start_line(self) -> bytes:
        return self.payload.split(b"\r\n", 1)[0]


def parse_hep3(datagram: bytes) -> HepPacket:
    """Decode a HEPv3 datagram (raises ValueError if it is not one)."""
    if len(datagram) < 6 or datagram[:4] != b"HEP3":
        raise ValueError("not a HEP3 datagram")
    total = struct.unpack("!H", datagram[4:6])[0]
    chunks: dict[int, bytes] = {}
    offset = 6
    end = min(total, len(datagram))
    while offset + 6 <= end:
        _vendor, ctype, clen = struct.unpack("!HHH", datagram[offset : offset + 6])
        if clen < 6:
            raise ValueError("bad HEP3 chunk length")
        chunks[ctype] = datagram[offset + 6 : offset + clen]
        offset += clen

    def ip(ctype: int) -> str:
        raw = chunks.get(ctype, b"")
        return socket.inet_ntoa(raw) if len(raw) == 4 else ""

    def num(ctype: int) -> int | None:
        raw = chunks.get(ctype)
        return int.from_bytes(raw, "big") if raw else None

    return HepPacket(
        src_ip=ip(3),
        dst_ip=ip(4),
        src_port=num(7) or 0,
        dst_port=num(8) or 0,
        timestamp=(num(9) or 0) + (num(10) or 0) / 1e6,
        capture_id=num(12),
        payload=chunks.get(15, b""),
    )
