"""A small pcap/pcapng reader for tests: transport payloads out of the corpus captures.

Handles Ethernet (VLAN), Linux SLL/SLL2, raw IP and BSD loopback links; IPv4/IPv6 with
fragment reassembly, IP-in-IP and GRE/ERSPAN; UDP, TCP, SCTP DATA and WebSocket frames.
"""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def corpus_dir() -> Path:
    """`tests/corpus`: the recorded wire bytes we test against (third-party data, each file's
    origin and licence in tests/corpus/PROVENANCE.md). Every test reads the corpus from here."""
    return Path(__file__).resolve().parent / "corpus"  # this file is <repo>/tests/pcap.py


@dataclass(frozen=True, slots=True)
class Datagram:
    """One transport payload; `frame` is 1-based like tshark's frame.number."""

    frame: int
    time: float  # capture time, seconds since the epoch
    transport: str  # "udp", "tcp", "sctp" or "ws"
    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    payload: bytes


_SIP_START = re.compile(rb"^(?:SIP/2\.0 \d{3}|[A-Z]+ \S+ SIP/2\.0\r?\n)")


def read_frames(path: Path) -> Iterator[tuple[int, float, int, bytes]]:
    """Yield (frame number, time, link type, frame bytes) from a pcap or pcapng file."""
    data = path.read_bytes()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng(data)
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    # The second magic counts nanoseconds instead of microseconds.
    unit = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    link = struct.unpack_from(endian + "I", data, 20)[0] & 0xFFFF
    record = struct.Struct(endian + "IIII")
    pos, frame = 24, 0
    while pos + 16 <= len(data):
        sec, frac, caplen, _origlen = record.unpack_from(data, pos)
        frame += 1
        yield frame, sec + frac * unit, link, data[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen


def _pcapng(data: bytes) -> Iterator[tuple[int, float, int, bytes]]:
    endian = "<"
    links: list[int] = []
    units: list[float] = []  # seconds per timestamp tick, per interface
    pos, frame = 0, 0
    while pos + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, pos)[0]
        if btype == 0x0A0D0D0A:  # section header: its byte-order magic sets the endianness
            endian = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            links, units = [], []
        blen = struct.unpack_from(endian + "I", data, pos + 4)[0]
        body = data[pos + 8 : pos + blen - 4]
        if btype == 1:  # interface description
            links.append(struct.unpack_from(endian + "H", body, 0)[0])
            units.append(_tsresol(body[8:], endian))
        elif btype == 6:  # enhanced packet
            iface, high, low, caplen = struct.unpack_from(endian + "IIII", body, 0)
            frame += 1
            when = ((high << 32) | low) * units[iface]
            yield frame, when, links[iface], body[20 : 20 + caplen]
        elif btype == 3:  # simple packet: interface 0, no time; its length is the block's
            origlen = struct.unpack_from(endian + "I", body, 0)[0]
            frame += 1
            yield frame, 0.0, links[0], body[4 : 4 + min(origlen, len(body) - 4)]
        elif btype == 2:  # obsolete packet block
            iface, _drops, high, low, caplen = struct.unpack_from(endian + "HHIIII", body, 0)
            frame += 1
            when = ((high << 32) | low) * units[iface]
            yield frame, when, links[iface], body[20 : 20 + caplen]
        pos += blen


def _tsresol(options: bytes, endian: str) -> float:
    """Seconds per tick from an interface's if_tsresol option (default: microseconds)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(endian + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[pos + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        pos += 4 + ((length + 3) & ~3)
    return 1e-6


class _Decoder:
    """Walks link → network → transport layers, keeping IP fragments until complete."""

    def __init__(self) -> None:
        self.fragments: dict[tuple[object, ...], dict[int, bytes]] = {}
        self.frag_total: dict[tuple[object, ...], int] = {}
        self.pending: dict[tuple[object, ...], bytes] = {}  # TCP/SCTP bytes awaiting the rest
        self.out: list[Datagram] = []
        self.frame = 0
        self.time = 0.0

    def link(self, link: int, pkt: bytes) -> None:
        if link == 1:  # Ethernet
            self.ether(pkt)
        elif link == 113:  # Linux cooked v1: protocol at 14, header 16
            self.ethertype(struct.unpack_from("!H", pkt, 14)[0], pkt[16:])
        elif link == 276:  # Linux cooked v2: protocol at 0, header 20
            self.ethertype(struct.unpack_from("!H", pkt, 0)[0], pkt[20:])
        elif link in (101, 12, 14, 228, 229):  # raw IP
            self.ip(pkt)
        elif link == 0:  # BSD loopback: 4-byte host-order family
            self.ip(pkt[4:])

    def ether(self, pkt: bytes) -> None:
        self.ethertype(struct.unpack_from("!H", pkt, 12)[0], pkt[14:])

    def ethertype(self, etype: int, rest: bytes) -> None:
        while etype in (0x8100, 0x88A8):  # VLAN tags
            etype, rest = struct.unpack_from("!H", rest, 2)[0], rest[4:]
        if etype in (0x0800, 0x86DD):
            self.ip(rest)

    def ip(self, pkt: bytes) -> None:
        if not pkt:
            return
        if pkt[0] >> 4 == 4:
            self.ipv4(pkt)
        elif pkt[0] >> 4 == 6:
            self.ipv6(pkt)

    def ipv4(self, pkt: bytes) -> None:
        ihl = (pkt[0] & 0x0F) * 4
        total, ident, frag = struct.unpack_from("!HHH", pkt, 2)
        proto = pkt[9]
        src, dst = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
        body = pkt[ihl:total]  # drops Ethernet padding
        more, offset = bool(frag & 0x2000), (frag & 0x1FFF) * 8
        if more or offset:
            whole = self.reassemble((4, src, dst, ident, proto), offset, more, body)
            if whole is None:
                return
            body = whole
        self.transport(proto, src, dst, body)

    def ipv6(self, pkt: bytes) -> None:
        plen, nxt = struct.unpack_from("!HB", pkt, 4)
        src = socket.inet_ntop(socket.AF_INET6, pkt[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, pkt[24:40])
        body = pkt[40 : 40 + plen]
        while nxt in (0, 43, 60, 44):  # hop-by-hop, routing, destination options, fragment
            if nxt == 44:
                frag, ident = struct.unpack_from("!HI", body, 2)
                inner, more, offset = body[0], bool(frag & 1), frag & 0xFFF8
                whole = self.reassemble((6, src, dst, ident), offset, more, body[8:])
                if whole is None:
                    return
                nxt, body = inner, whole
            else:
                nxt, body = body[0], body[(body[1] + 1) * 8 :]
        self.transport(nxt, src, dst, body)

    def reassemble(
        self, key: tuple[object, ...], offset: int, more: bool, piece: bytes
    ) -> bytes | None:
        pieces = self.fragments.setdefault(key, {})
        pieces[offset] = piece
        if not more:
            self.frag_total[key] = offset + len(piece)
        total = self.frag_total.get(key)
        if total is None:
            return None
        whole = bytearray()
        for start in sorted(pieces):
            if start != len(whole):
                return None  # a hole: wait for the missing fragment
            whole += pieces[start]
        if len(whole) != total:
            return None
        del self.fragments[key], self.frag_total[key]
        return bytes(whole)

    def transport(self, proto: int, src: str, dst: str, body: bytes) -> None:
        if proto == 17:
            sport, dport, length = struct.unpack_from("!HHH", body, 0)
            self.emit("udp", src, dst, sport, dport, body[8:length])
        elif proto == 6:
            sport, dport = struct.unpack_from("!HH", body, 0)
            data = body[(body[12] >> 4) * 4 :]
            flow = (src, sport, dst, dport)
            data = self.pending.pop(flow, b"") + data
            if data[:1] in (b"\x81", b"\x82"):  # a WebSocket text/binary frame
                message = _websocket(data)
                if message is None:  # the frame continues in the next segment
                    self.pending[flow] = data
                else:
                    self.emit("ws", src, dst, sport, dport, message)
            elif data:
                self.emit("tcp", src, dst, sport, dport, data)
        elif proto == 132:
            self.sctp(src, dst, body)
        elif proto == 4 or proto == 41:  # IP-in-IP, IPv6-in-IPv4
            self.ip(body)
        elif proto == 47:
            self.gre(body)

    def sctp(self, src: str, dst: str, body: bytes) -> None:
        # A user message may span DATA chunks (B/E bits); it is emitted with its last one.
        sport, dport = struct.unpack_from("!HH", body, 0)
        pos = 12
        while pos + 4 <= len(body):
            ctype, flags, clen = struct.unpack_from("!BBH", body, pos)
            if clen < 4:
                return
            if ctype == 0:  # DATA: TSN, stream, sequence, PPID, then user data
                stream = (src, sport, dst, dport, body[pos + 8 : pos + 12])
                data = self.pending.pop(stream, b"") + body[pos + 16 : pos + clen]
                if flags & 1:  # E bit: the last piece of a user message
                    self.emit("sctp", src, dst, sport, dport, data)
                else:
                    self.pending[stream] = data
            pos += (clen + 3) & ~3

    def gre(self, body: bytes) -> None:
        flags, proto = struct.unpack_from("!HH", body, 0)
        pos = 4 + 4 * bool(flags & 0x8000) + 4 * bool(flags & 0x2000) + 4 * bool(flags & 0x1000)
        inner = body[pos:]
        if proto == 0x6558:  # transparent Ethernet bridging
            self.ether(inner)
        elif proto == 0x88BE:  # ERSPAN type II: 8-byte header, then Ethernet
            self.ether(inner[8:])
        elif proto == 0x22EB:  # ERSPAN type III: 12 bytes (+8 with the O flag)
            self.ether(inner[20:] if inner[11] & 1 else inner[12:])
        elif proto in (0x0800, 0x86DD):
            self.ip(inner)

    def emit(self, kind: str, src: str, dst: str, sport: int, dport: int, data: bytes) -> None:
        self.out.append(Datagram(self.frame, self.time, kind, src, dst, sport, dport, data))


def _websocket(frame: bytes) -> bytes | None:
    """The unmasked payload of one WebSocket frame, or None while it is incomplete."""
    if len(frame) < 10:
        return None
    length, pos = frame[1] & 0x7F, 2
    if length == 126:
        length, pos = struct.unpack_from("!H", frame, 2)[0], 4
    elif length == 127:
        length, pos = struct.unpack_from("!Q", frame, 2)[0], 10
    masked = bool(frame[1] & 0x80)
    mask, pos = frame[pos : pos + 4 * masked], pos + 4 * masked
    if len(frame) < pos + length:
        return None
    data = frame[pos : pos + length]
    if not masked:
        return data
    return bytes(b ^ mask[i & 3] for i, b in enumerate(data))


def datagrams(path: Path) -> Iterator[Datagram]:
    """Every UDP/TCP/SCTP/WebSocket payload in `path`, in capture order."""
    decoder = _Decoder()
    for frame, when, link, pkt in read_frames(path):
        decoder.frame, decoder.time = frame, when
        try:
            decoder.link(link, pkt)
        except (struct.error, IndexError):
            continue  # a frame cut short by the capture's snap length
        yield from decoder.out
        decoder.out.clear()


def is_sip_start(payload: bytes) -> bool:
    """True when `payload` starts with a SIP request or status line (after keep-alives)."""
    return _SIP_START.match(payload.lstrip(b"\r\n")) is not None


def sip_payloads(path: Path) -> list[Datagram]:
    """The payloads of `path` that start with a SIP start line (TCP: one per segment)."""
    return [d for d in datagrams(path) if is_sip_start(d.payload)]
