"""HEP3 (EEP v3) datagrams to and from `HepPacket`: pure bytes in, bytes out, no I/O.

Every malformed input raises `HepError` with a stable `kind`, which the listener counts.

Anyone can send a datagram to the HEP port, so the work one may cost is bounded before it
is trusted: at most `MAX_DATAGRAM` bytes and `MAX_CHUNKS` chunks are walked, the auth key is
checked (`decode_hep(data, auth_key=...)`) before anything costlier than that walk (no
inflation, no address formatting), and a compressed payload is inflated once, to at most
`MAX_PAYLOAD` bytes.
"""

from __future__ import annotations

import hmac
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

# HEP3 chunk ids, vendor 0x0000 (generic), from the HEP3 specification rev. 37.
# Every chunk is: vendor id (u16), type id (u16), length (u16, includes these 6 bytes), value.
#
#   id      name                          value
#   0x0001  IP protocol family            u8   (0x02 IPv4, 0x0a IPv6)
#   0x0002  IP protocol id                u8   (0x06 TCP, 0x11 UDP, 0x84 SCTP)
#   0x0003  IPv4 source address           4 bytes
#   0x0004  IPv4 destination address      4 bytes
#   0x0005  IPv6 source address           16 bytes
#   0x0006  IPv6 destination address      16 bytes
#   0x0007  protocol source port          u16
#   0x0008  protocol destination port     u16
#   0x0009  timestamp, seconds            u32 (Unix time)
#   0x000a  timestamp, microseconds       u32 (offset added to 0x0009)
#   0x000b  protocol type                 u8   (1 SIP, 5 RTCP JSON, 100 log, ...)
#   0x000c  capture agent id              u32
#   0x000d  keep-alive timer              u16  (seconds)
#   0x000e  authentication key            octets
#   0x000f  captured packet payload       octets
#   0x0010  captured payload, compressed  octets (zlib/gzip deflate of the payload)
#   0x0011  internal correlation id       octets
#   0x0012  VLAN id                       u16
#   0x0013  group id (node name)          octets
#   0x0014  source MAC                    u64
#   0x0015  destination MAC               u64
#   0x0016  Ethernet type                 u16
#   0x0017  TCP flags                     u8
#   0x0018  IP TOS                        u8
#   0x0019  MOS value                     u16
#   0x001a  R-factor                      u16
#   0x001b  GEO location                  octets
#   0x001c  jitter                        u32
#   0x001d  transaction type              octets
#   0x001e  payload JSON keys             octets
#   0x001f  tags values                   octets
#   0x0020  type of tag                   u16
# Ids not decoded below, and every chunk of a non-zero vendor, are skipped by their length.

_FAMILY = 0x0001
_IP_PROTO = 0x0002
_SRC_IP4 = 0x0003
_DST_IP4 = 0x0004
_SRC_IP6 = 0x0005
_DST_IP6 = 0x0006
_SRC_PORT = 0x0007
_DST_PORT = 0x0008
_TS_SEC = 0x0009
_TS_USEC = 0x000A
_PROTO_TYPE = 0x000B
_CAPTURE_ID = 0x000C
_AUTH_KEY = 0x000E
_PAYLOAD = 0x000F
_PAYLOAD_ZIP = 0x0010
_CORRELATION_ID = 0x0011

AF_IPV4 = 2
AF_IPV6 = 10

# Value sizes of the fixed-size chunks we decode; any other length is malformed.
_FIXED_SIZE = {
    _FAMILY: 1,
    _IP_PROTO: 1,
    _SRC_IP4: 4,
    _DST_IP4: 4,
    _SRC_IP6: 16,
    _DST_IP6: 16,
    _SRC_PORT: 2,
    _DST_PORT: 2,
    _TS_SEC: 4,
    _TS_USEC: 4,
    _PROTO_TYPE: 1,
    _CAPTURE_ID: 4,
}

# A SIP message is at most 64 KiB (what a UDP datagram and Kamailio's buffer hold): a
# compressed payload inflating past that is refused ("payload-too-large"), unread.
MAX_PAYLOAD = 1 << 16
# A HEP3 header counts its length in a u16: a longer datagram is refused ("too-long").
MAX_DATAGRAM = 0xFFFF
# Agents send 12 to 20 chunks (heplify adds tags and vendor chunks); 10,000 empty ones fit
# a datagram and would cost milliseconds to walk ("too-many-chunks").
MAX_CHUNKS = 64

_HEADER = struct.Struct("!4sH")
_CHUNK = struct.Struct("!HHH")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_MAGIC = b"HEP3"
_CHUNK_HEAD = 6
_HEADER_SIZE = 6
_MAX_DATAGRAM = MAX_DATAGRAM

_VALUE_CODE = {1: "B", 2: "H", 4: "I", 16: "16s"}
# The chunks the fast path may walk after its ten fixed ones.
_VARIABLE_CHUNKS = range(MAX_CHUNKS - 10)
# The order HepPacket wants its first ten fields in, and the order most agents send.
_STANDARD_FIELDS: tuple[int, ...] = (
    *(_FAMILY, _IP_PROTO, _SRC_IP4, _DST_IP4, _SRC_PORT, _DST_PORT),
    *(_TS_SEC, _TS_USEC, _PROTO_TYPE, _CAPTURE_ID),
)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Ten fixed-size chunks in one order: headers checked, values read, by two struct calls.

    `values` yields family, proto, src, dst, ports, seconds, microseconds, type, capture id,
    through `pick` when the chunk order differs from that one.
    """

    heads: struct.Struct
    headers: tuple[bytes, ...]
    values: struct.Struct
    pick: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None
    ipv6: bool
    end: int


def _layout(*order: int) -> _Layout:
    ipv6 = _SRC_IP6 in order
    heads = values = "!"
    for ctype in order:
        size = _FIXED_SIZE[ctype]
        heads += f"6s{size}x"
        # Addresses stay bytes for inet_ntop; the rest are big-endian unsigned integers.
        values += "6x" + ("4s" if ctype in (_SRC_IP4, _DST_IP4) else _VALUE_CODE[size])
    fields = _STANDARD_FIELDS
    if ipv6:
        fields = (_FAMILY, _IP_PROTO, _SRC_IP6, _DST_IP6, *_STANDARD_FIELDS[4:])
    headers = tuple(_CHUNK.pack(0, ctype, _CHUNK_HEAD + _FIXED_SIZE[ctype]) for ctype in order)
    pick = None if order == fields else itemgetter(*(order.index(c) for c in fields))
    compiled = struct.Struct(values)
    end = _HEADER_SIZE + compiled.size
    return _Layout(struct.Struct(heads), headers, compiled, pick, ipv6, end)


# The chunk orders agents send, most common first: the spec's order 1, 2, addresses, 7..12
# (Kamailio's siptrace, encode_hep), the same over IPv6, and the order of the proxy in
# hep3_compressed.pcapng (addresses after the capture id). Others take the general walk.
_LAYOUTS = (
    _layout(*_STANDARD_FIELDS),
    _layout(_FAMILY, _IP_PROTO, _SRC_IP6, _DST_IP6, *_STANDARD_FIELDS[4:]),
    _layout(_FAMILY, _IP_PROTO, *_STANDARD_FIELDS[4:], _SRC_IP4, _DST_IP4),
)


@lru_cache(maxsize=4096)
def _ip_text(raw: bytes) -> str:
    # A deployment has few addresses and formatting one costs as much as a chunk: memoize.
    if len(raw) == 4:
        return socket.inet_ntoa(raw)
    return socket.inet_ntop(socket.AF_INET6, raw)


class HepError(ValueError):
    """A datagram that is not a well-formed HEP3 packet; `kind` is a stable counter key."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(slots=True)
class HepPacket:
    """One captured packet as a HEP3 agent reported it."""

    ip_family: int
    ip_proto: int
    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    ts_sec: int
    ts_usec: int
    proto_type: int
    capture_id: int
    auth_key: bytes | None
    payload: bytes
    correlation_id: bytes | None

    @property
    def timestamp(self) -> float:
        """Capture time in seconds since the epoch (chunks 0x0009 + 0x000a)."""
        return self.ts_sec + self.ts_usec / 1_000_000


def _inflate(value: bytes) -> bytes:
    # wbits 32+15 accepts both zlib and gzip framing: agents differ in which they send.
    inflater = zlib.decompressobj(47)
    try:
        # One byte past the limit tells "exactly MAX_PAYLOAD" from "more left".
        out = inflater.decompress(value, MAX_PAYLOAD + 1)
    except zlib.error as exc:
        raise HepError("bad-compressed-payload", str(exc)) from None
    if len(out) > MAX_PAYLOAD:
        raise HepError("payload-too-large", f"inflates past {MAX_PAYLOAD} bytes")
    if not inflater.eof:
        raise HepError("bad-compressed-payload", "deflate stream ends early")
    return out


_same_key = hmac.compare_digest  # in constant time


def _bad_key() -> HepError:
    return HepError("auth-key", "missing or wrong auth key (chunk 0x000e)")


def _not_hep(data: bytes) -> HepError:
    if data[:1] in (b"\x01", b"\x02"):
        # HEPv1/v2 start with their version byte; we only speak v3.
        return HepError("hep-version", f"HEP version {data[0]} is not supported")
    if 0 < len(data) < 4 and _MAGIC.startswith(data):
        return HepError("truncated", f"{len(data)} bytes is shorter than the HEP3 header")
    return HepError("not-hep", "datagram does not start with 'HEP3'")


def decode_hep(data: bytes, auth_key: bytes | None = None) -> HepPacket:
    """Decode one HEP3 datagram; raise `HepError` for anything malformed, and, when
    `auth_key` is given, for a datagram without that key ("auth-key"), before its payload
    is inflated or its addresses formatted."""
    size = len(data)
    if size < _HEADER_SIZE or data[:4] != _MAGIC:
        if size >= 4 and data[:4] == _MAGIC:
            raise HepError("truncated", f"{size} bytes is shorter than the HEP3 header")
        raise _not_hep(data)
    if size > _MAX_DATAGRAM:
        raise HepError("too-long", f"{size} bytes exceed the {_MAX_DATAGRAM} of a datagram")
    total = _U16.unpack_from(data, 4)[0]
    if total > size:
        raise HepError("truncated", f"header says {total} bytes, datagram has {size}")

    # Fast path: the ten fixed-size chunks in an order agents use, checked and read by two
    # struct calls; only the variable chunks after them are walked one by one.
    for layout in _LAYOUTS:
        if layout.end > total or layout.heads.unpack_from(data, _HEADER_SIZE) != layout.headers:
            continue
        values = layout.values.unpack_from(data, _HEADER_SIZE)
        if layout.pick is not None:
            values = layout.pick(values)
        family, ip_proto, src, dst, sport, dport, ts_sec, ts_usec, ptype, capture_id = values
        key: bytes | None = None
        correlation_id: bytes | None = None
        payload: bytes | None = None
        unpack_chunk = _CHUNK.unpack_from
        pos = layout.end
        for _ in _VARIABLE_CHUNKS:
            if pos >= total:
                break
            if pos + _CHUNK_HEAD > total:
                raise HepError("bad-chunk-length", f"{total - pos} stray bytes at offset {pos}")
            vendor, ctype, clen = unpack_chunk(data, pos)
            end = pos + clen
            if clen < _CHUNK_HEAD or end > total:
                raise HepError("bad-chunk-length", f"chunk 0x{ctype:04x} length {clen} at {pos}")
            if not vendor:
                if ctype == _PAYLOAD:
                    payload = data[pos + _CHUNK_HEAD : end]
                elif ctype == _CORRELATION_ID:
                    correlation_id = data[pos + _CHUNK_HEAD : end]
                elif ctype == _AUTH_KEY:
                    key = data[pos + _CHUNK_HEAD : end]
                elif ctype == _PAYLOAD_ZIP or ctype in _FIXED_SIZE:
                    # A compressed payload, or a fixed chunk sent twice: the general walk.
                    return _decode_chunks(data, total, auth_key)
            pos = end
        else:
            if pos < total:
                raise HepError("too-many-chunks", f"more than {MAX_CHUNKS} chunks")
        if auth_key is not None and (key is None or not _same_key(key, auth_key)):
            raise _bad_key()
        if payload is None:
            raise HepError("no-payload", "no payload chunk (0x000f or 0x0010)")
        return HepPacket(
            family,
            ip_proto,
            _ip_text(src),
            _ip_text(dst),
            sport,
            dport,
            ts_sec,
            ts_usec,
            ptype,
            capture_id,
            key,
            payload,
            correlation_id,
        )
    return _decode_chunks(data, total, auth_key)


def _decode_chunks(data: bytes, total: int, auth_key: bytes | None) -> HepPacket:
    """The general walk: any chunk order, skipping vendor and unknown chunks. Values are
    only sliced here; the auth key is checked before the costly steps (inflating the
    payload, formatting the addresses)."""
    if total < _HEADER_SIZE:
        raise HepError("bad-length", f"header length {total} is below 6")

    family = ip_proto = proto_type = capture_id = 0
    src_port = dst_port = ts_sec = ts_usec = 0
    src_raw = dst_raw = b""
    key: bytes | None = None
    correlation_id: bytes | None = None
    payload: bytes | None = None
    zipped: bytes | None = None  # the last compressed payload chunk, inflated after the walk

    unpack_chunk = _CHUNK.unpack_from
    fixed = _FIXED_SIZE
    pos = _HEADER_SIZE
    chunks = 0
    while pos < total:
        chunks += 1
        if chunks > MAX_CHUNKS:
            raise HepError("too-many-chunks", f"more than {MAX_CHUNKS} chunks")
        if pos + _CHUNK_HEAD > total:
            raise HepError("bad-chunk-length", f"{total - pos} stray bytes at offset {pos}")
        vendor, ctype, clen = unpack_chunk(data, pos)
        end = pos + clen
        if clen < _CHUNK_HEAD or end > total:
            raise HepError("bad-chunk-length", f"chunk 0x{ctype:04x} length {clen} at {pos}")
        if vendor:
            pos = end
            continue
        start = pos + _CHUNK_HEAD
        want = fixed.get(ctype)
        if want is not None:
            if clen - _CHUNK_HEAD != want:
                raise HepError(
                    "bad-chunk-length",
                    f"chunk 0x{ctype:04x} holds {clen - _CHUNK_HEAD} bytes, expected {want}",
                )
            if ctype == _SRC_PORT:
                src_port = _U16.unpack_from(data, start)[0]
            elif ctype == _DST_PORT:
                dst_port = _U16.unpack_from(data, start)[0]
            elif ctype == _SRC_IP4:
                src_raw = data[start:end]
                family = family or AF_IPV4
            elif ctype == _DST_IP4:
                dst_raw = data[start:end]
                family = family or AF_IPV4
            elif ctype == _TS_SEC:
                ts_sec = _U32.unpack_from(data, start)[0]
            elif ctype == _TS_USEC:
                ts_usec = _U32.unpack_from(data, start)[0]
            elif ctype == _CAPTURE_ID:
                capture_id = _U32.unpack_from(data, start)[0]
            elif ctype == _FAMILY:
                family = data[start]
            elif ctype == _IP_PROTO:
                ip_proto = data[start]
            elif ctype == _PROTO_TYPE:
                proto_type = data[start]
            elif ctype == _SRC_IP6:
                src_raw = data[start:end]
                family = family or AF_IPV6
            else:  # _DST_IP6
                dst_raw = data[start:end]
                family = family or AF_IPV6
        elif ctype == _PAYLOAD:
            payload, zipped = data[start:end], None
        elif ctype == _PAYLOAD_ZIP:
            payload, zipped = None, data[start:end]
        elif ctype == _AUTH_KEY:
            key = data[start:end]
        elif ctype == _CORRELATION_ID:
            correlation_id = data[start:end]
        pos = end

    if auth_key is not None and (key is None or not _same_key(key, auth_key)):
        raise _bad_key()
    if zipped is not None:
        payload = _inflate(zipped)
    if payload is None:
        raise HepError("no-payload", "no payload chunk (0x000f or 0x0010)")
    return HepPacket(
        family,
        ip_proto,
        _ip_text(src_raw) if src_raw else "",
        _ip_text(dst_raw) if dst_raw else "",
        src_port,
        dst_port,
        ts_sec,
        ts_usec,
        proto_type,
        capture_id,
        key,
        payload,
        correlation_id,
    )


def _chunk(ctype: int, value: bytes) -> bytes:
    size = _CHUNK_HEAD + len(value)
    if size > _MAX_DATAGRAM:
        raise HepError("too-long", f"chunk 0x{ctype:04x} of {size} bytes exceeds 65535")
    return _CHUNK.pack(0, ctype, size) + value


def _address(ctype: int, family: int, text: str) -> bytes:
    try:
        return _chunk(ctype, socket.inet_pton(family, text))
    except (OSError, ValueError) as exc:
        raise HepError("bad-field", f"address {text!r}: {exc}") from None


def encode_hep(packet: HepPacket, *, compress: bool = False) -> bytes:
    """Encode `packet` as one HEP3 datagram (payload in 0x0010 when `compress`)."""
    ipv6 = packet.ip_family == AF_IPV6
    try:
        parts = [
            _chunk(_FAMILY, bytes((packet.ip_family,))),
            _chunk(_IP_PROTO, bytes((packet.ip_proto,))),
            _address(
                _SRC_IP6 if ipv6 else _SRC_IP4,
                socket.AF_INET6 if ipv6 else socket.AF_INET,
                packet.src_ip,
            ),
            _address(
                _DST_IP6 if ipv6 else _DST_IP4,
                socket.AF_INET6 if ipv6 else socket.AF_INET,
                packet.dst_ip,
            ),
            _chunk(_SRC_PORT, _U16.pack(packet.src_port)),
            _chunk(_DST_PORT, _U16.pack(packet.dst_port)),
            _chunk(_TS_SEC, _U32.pack(packet.ts_sec)),
            _chunk(_TS_USEC, _U32.pack(packet.ts_usec)),
            _chunk(_PROTO_TYPE, bytes((packet.proto_type,))),
            _chunk(_CAPTURE_ID, _U32.pack(packet.capture_id)),
        ]
    except HepError:
        raise
    except (struct.error, ValueError) as exc:
        # A port, timestamp or id outside its chunk's unsigned range.
        raise HepError("bad-field", str(exc)) from None
    if packet.auth_key is not None:
        parts.append(_chunk(_AUTH_KEY, packet.auth_key))
    if packet.correlation_id is not None:
        parts.append(_chunk(_CORRELATION_ID, packet.correlation_id))
    if compress:
        parts.append(_chunk(_PAYLOAD_ZIP, zlib.compress(packet.payload)))
    else:
        parts.append(_chunk(_PAYLOAD, packet.payload))
    body = b"".join(parts)
    total = _HEADER_SIZE + len(body)
    # Each chunk length is a u16 too; the total bound is the tighter one.
    if total > _MAX_DATAGRAM:
        raise HepError("too-long", f"{total} bytes do not fit one HEP3 datagram")
    return _HEADER.pack(_MAGIC, total) + body
