"""Simulated hotline calls as a Kamailio siptrace mirror shows them: SIP bytes and HEP3 datagrams.

Pure: no I/O, no clock. The demo (`callcenter.demo`), the benchmark (`scripts/bench_hep.py`)
and the tests build their traffic here, so all three send the same wire bytes.

The picture: residents call 96069 from a carrier gateway, a record-routing stateful proxy
forwards the INVITE to one agent phone. siptrace mirrors every message as it enters the proxy
and again as it leaves; the leaving copy of a request carries the proxy's Via on top, and a
response has 2 Vias between phone and proxy, 1 between proxy and caller. What the proxy
generates itself (100 Trying, 200 to a CANCEL, its own CANCEL/ACK, a 408) is mirrored once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from callcenter.telephony.hep.decode import AF_IPV4, HepPacket, encode_hep

HOTLINE = "96069"
PROXY_IP = "10.0.0.1"
GATEWAY_IP = "10.0.9.1"  # the carrier gateway every resident's call comes through
SIP_PORT = 5060
EXTENSIONS = ("2001", "2002", "2003", "2004")
# Common Chinese mobile prefixes (China Mobile / Unicom / Telecom).
MOBILE_PREFIXES = ("139", "138", "137", "135", "150", "158", "186", "188", "133", "189")

_UDP = 17
_HEP_SIP = 1
_COPY_GAP = 0.0004  # seconds between a message entering the proxy and leaving it

Address = tuple[str, int]
# once(at, src, dst, payload): record one copy that the mirror shows only once.
_Once = Callable[[float, Address, Address, bytes], None]
Outcome = Literal["answered", "abandoned", "rang_out", "ringing"]
HungUpBy = Literal["caller", "agent"]
Scenario = Literal["answered_on_time", "answered_late", "agent_hangs_up", "abandoned", "rang_out"]
# How often each scenario comes up in the demo and the benchmark's mixed traffic.
SCENARIO_WEIGHTS: dict[Scenario, int] = {
    "answered_on_time": 40,
    "answered_late": 15,
    "agent_hangs_up": 15,
    "abandoned": 18,
    "rang_out": 12,
}


@dataclass(frozen=True, slots=True)
class SimCall:
    """One resident's call to the hotline, rung on one agent phone (one leg)."""

    call_id: str
    caller: str
    from_tag: str  # the caller's From tag: with the Call-ID, the call's key
    to_tag: str  # the phone's To tag: the leg
    branch: str  # unique part of this call's Via branches
    extension: str
    phone_ip: str
    dialed: str = HOTLINE
    caller_ip: str = GATEWAY_IP
    proxy_ip: str = PROXY_IP
    port: int = SIP_PORT

    # -- the pieces every message repeats -------------------------------------------------
    @property
    def caller_uri(self) -> str:
        return f"sip:{self.caller}@{self.caller_ip}"

    @property
    def hotline_uri(self) -> str:
        return f"sip:{self.dialed}@{self.proxy_ip}"

    @property
    def phone_uri(self) -> str:
        return f"sip:{self.extension}@{self.phone_ip}:{self.port}"

    def caller_via(self, n: int = 0) -> str:
        return f"SIP/2.0/UDP {self.caller_ip}:{self.port};branch=z9hG4bK{self.branch}c{n};rport"

    def proxy_via(self, n: int = 0) -> str:
        return f"SIP/2.0/UDP {self.proxy_ip}:{self.port};branch=z9hG4bK{self.branch}p{n}.0"

    @property
    def proxy_tag(self) -> str:
        """The To tag of a final response the proxy generates itself (408)."""
        return f"{self.branch[:8]}.k"

    def phone_via(self, n: int = 0) -> str:
        return f"SIP/2.0/UDP {self.phone_ip}:{self.port};branch=z9hG4bK{self.branch}a{n}"


@dataclass(frozen=True, slots=True)
class Hop:
    """One SIP message on one wire (a mirrored copy): sender, receiver, bytes."""

    src_ip: str
    src_port: int
    dst_ip: str
    dst_port: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Plan:
    """What happens to a call once its phone rings. Times in seconds.

    `ring_seconds` runs from the 180 to the answer, the caller's CANCEL or the proxy's CANCEL;
    "ringing" never ends (the benchmark's alert storm).
    """

    outcome: Outcome
    ring_seconds: float = 0.0
    talk_seconds: float = 0.0
    hung_up_by: HungUpBy = "caller"
    retransmit_invite: bool = False


def new_call(rng: random.Random, extension: str | None = None, prefix: str = "") -> SimCall:
    """A fresh call with random caller, tags and Call-ID (`prefix` keeps runs apart)."""
    ext = extension if extension is not None else rng.choice(EXTENSIONS)
    caller = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    return SimCall(
        call_id=f"{prefix}{rng.getrandbits(64):016x}@{GATEWAY_IP}",
        caller=caller,
        from_tag=f"{rng.getrandbits(32):08x}",
        to_tag=f"{rng.getrandbits(40):010x}",
        branch=f"{rng.getrandbits(48):012x}",
        extension=ext,
        phone_ip=phone_ip(ext),
    )


def phone_ip(extension: str) -> str:
    """Agent phones sit at 10.0.1.x: 2001 → 10.0.1.1."""
    number = int(extension) if extension.isdigit() else 0
    return f"10.0.1.{number - 2000 if 2001 <= number <= 2254 else 254}"


def plan_for(scenario: Scenario, rng: random.Random, cycle_seconds: float, limit: int) -> Plan:
    """A plan for `scenario`, timed from the ring rule so any configuration shows it."""
    deadline = cycle_seconds * limit
    talk = rng.uniform(5.0, 40.0)
    if scenario in ("answered_on_time", "agent_hangs_up"):
        # One to two rings, but always inside the limit (limit may be 1).
        ring = min(rng.uniform(1.0, 2.0) * cycle_seconds, deadline * rng.uniform(0.5, 0.9))
        by: HungUpBy = "agent" if scenario == "agent_hangs_up" else "caller"
        return Plan("answered", ring, talk, by)
    if scenario == "answered_late":
        return Plan("answered", deadline + rng.uniform(0.3, 1.0) * cycle_seconds, talk)
    if scenario == "abandoned":
        # Most give up inside the limit; some hold on past it (an alert, then an abandon).
        return Plan("abandoned", rng.uniform(0.5, limit + 1.0) * cycle_seconds)
    return Plan("rang_out", deadline + 5.0)


def random_scenario(rng: random.Random) -> Scenario:
    names = list(SCENARIO_WEIGHTS)
    return rng.choices(names, weights=[SCENARIO_WEIGHTS[n] for n in names])[0]


# -- SIP messages -------------------------------------------------------------------------
def _message(start: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [start, *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


def _hop(src: Address, dst: Address, payload: bytes) -> Hop:
    return Hop(src[0], src[1], dst[0], dst[1], payload)


def _ends(call: SimCall) -> tuple[Address, Address, Address]:
    return (call.caller_ip, call.port), (call.proxy_ip, call.port), (call.phone_ip, call.port)


def invite_request(call: SimCall, *, forwarded: bool) -> bytes:
    """The caller's INVITE as it reaches the proxy, or `forwarded` to the phone."""
    vias = [call.proxy_via(), call.caller_via()] if forwarded else [call.caller_via()]
    headers = [("Via", v) for v in vias]
    if forwarded:
        headers.append(("Record-Route", f"<sip:{call.proxy_ip};lr>"))
    headers += [
        ("Max-Forwards", "69" if forwarded else "70"),
        ("From", f"<{call.caller_uri}>;tag={call.from_tag}"),
        ("To", f"<{call.hotline_uri}>"),
        ("Call-ID", call.call_id),
        ("CSeq", "1 INVITE"),
        ("Contact", f"<{call.caller_uri}:{call.port}>"),
        ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
    ]
    uri = call.phone_uri if forwarded else call.hotline_uri
    return _message(f"INVITE {uri} SIP/2.0", headers)


def invite_response(
    call: SimCall,
    status: int,
    reason: str,
    *,
    from_phone: bool,
    tag: Literal["leg", "proxy", "none"] = "leg",
) -> bytes:
    """A response to the INVITE: `from_phone` (2 Vias, phone → proxy) or relayed/generated
    by the proxy towards the caller (1 Via). The To tag is the leg's, the proxy's own (a
    reply it generated) or none (its 100 Trying)."""
    vias = [call.proxy_via(), call.caller_via()] if from_phone else [call.caller_via()]
    headers = [("Via", v) for v in vias]
    if 180 <= status < 300:
        headers.append(("Record-Route", f"<sip:{call.proxy_ip};lr>"))
    to_tag = {"leg": call.to_tag, "proxy": call.proxy_tag, "none": ""}[tag]
    to = f"<{call.hotline_uri}>" + (f";tag={to_tag}" if to_tag else "")
    headers += [
        ("From", f"<{call.caller_uri}>;tag={call.from_tag}"),
        ("To", to),
        ("Call-ID", call.call_id),
        ("CSeq", "1 INVITE"),
    ]
    if 180 <= status < 300:
        headers.append(("Contact", f"<{call.phone_uri}>"))
    return _message(f"SIP/2.0 {status} {reason}", headers)


def cancel_request(call: SimCall, *, by_proxy: bool) -> bytes:
    """CANCEL of the INVITE: the caller's (its INVITE's branch) or the proxy's own hop-by-hop
    one to the phone (one Via, the branch of the forwarded INVITE; RFC 3261 9.1)."""
    via = call.proxy_via() if by_proxy else call.caller_via()
    uri = call.phone_uri if by_proxy else call.hotline_uri
    return _message(
        f"CANCEL {uri} SIP/2.0",
        [
            ("Via", via),
            ("Max-Forwards", "70"),
            ("From", f"<{call.caller_uri}>;tag={call.from_tag}"),
            ("To", f"<{call.hotline_uri}>"),
            ("Call-ID", call.call_id),
            ("CSeq", "1 CANCEL"),
        ],
    )


def cancel_response(call: SimCall, *, by_proxy: bool) -> bytes:
    """200 OK to a CANCEL, hop by hop (one Via): the phone's to the proxy's CANCEL, or the
    proxy's to the caller's. Its To tag is the one the INVITE's final response will carry."""
    via = call.proxy_via() if by_proxy else call.caller_via()
    tag = call.to_tag if by_proxy else call.proxy_tag
    return _message(
        "SIP/2.0 200 OK",
        [
            ("Via", via),
            ("From", f"<{call.caller_uri}>;tag={call.from_tag}"),
            ("To", f"<{call.hotline_uri}>;tag={tag}"),
            ("Call-ID", call.call_id),
            ("CSeq", "1 CANCEL"),
        ],
    )


def ack_request(
    call: SimCall, *, after_2xx: bool, forwarded: bool = False, to_tag: str | None = None
) -> bytes:
    """ACK: end to end for a 2xx (new branch, routed through the proxy, `forwarded` adds its
    Via), or hop by hop for a failure (the INVITE's branch; `forwarded` = the proxy's ACK).
    `to_tag` is the acknowledged response's (default: the leg's)."""
    to = f"<{call.hotline_uri}>;tag={to_tag or call.to_tag}"
    if after_2xx:
        vias = [call.proxy_via(1), call.caller_via(1)] if forwarded else [call.caller_via(1)]
        uri = call.phone_uri
    else:
        vias = [call.proxy_via()] if forwarded else [call.caller_via()]
        uri = call.phone_uri if forwarded else call.hotline_uri
    headers = [("Via", v) for v in vias]
    if after_2xx and not forwarded:
        headers.append(("Route", f"<sip:{call.proxy_ip};lr>"))
    headers += [
        ("Max-Forwards", "69" if forwarded else "70"),
        ("From", f"<{call.caller_uri}>;tag={call.from_tag}"),
        ("To", to),
        ("Call-ID", call.call_id),
        ("CSeq", "1 ACK"),
    ]
    return _message(f"ACK {uri} SIP/2.0", headers)


def bye_request(call: SimCall, by: HungUpBy, *, forwarded: bool) -> bytes:
    """The BYE of whoever hangs up; the agent's carries the leg's To tag as its From tag."""
    if by == "caller":
        vias = [call.proxy_via(2), call.caller_via(2)] if forwarded else [call.caller_via(2)]
        uri, cseq = call.phone_uri, "2 BYE"
        from_ = f"<{call.caller_uri}>;tag={call.from_tag}"
        to = f"<{call.hotline_uri}>;tag={call.to_tag}"
    else:
        vias = [call.proxy_via(2), call.phone_via(2)] if forwarded else [call.phone_via(2)]
        uri, cseq = f"{call.caller_uri}:{call.port}", "101 BYE"
        from_ = f"<{call.hotline_uri}>;tag={call.to_tag}"
        to = f"<{call.caller_uri}>;tag={call.from_tag}"
    headers = [("Via", v) for v in vias]
    if not forwarded:
        headers.append(("Route", f"<sip:{call.proxy_ip};lr>"))
    headers += [
        ("Max-Forwards", "69" if forwarded else "70"),
        ("From", from_),
        ("To", to),
        ("Call-ID", call.call_id),
        ("CSeq", cseq),
    ]
    return _message(f"BYE {uri} SIP/2.0", headers)


def bye_response(call: SimCall, by: HungUpBy, *, relayed: bool) -> bytes:
    """200 OK to the BYE: from the other end to the proxy (2 Vias), or `relayed` (1 Via)."""
    if by == "caller":
        vias = [call.caller_via(2)] if relayed else [call.proxy_via(2), call.caller_via(2)]
        from_ = f"<{call.caller_uri}>;tag={call.from_tag}"
        to = f"<{call.hotline_uri}>;tag={call.to_tag}"
        cseq = "2 BYE"
    else:
        vias = [call.phone_via(2)] if relayed else [call.proxy_via(2), call.phone_via(2)]
        from_ = f"<{call.hotline_uri}>;tag={call.to_tag}"
        to = f"<{call.caller_uri}>;tag={call.from_tag}"
        cseq = "101 BYE"
    headers = [("Via", v) for v in vias]
    headers += [("From", from_), ("To", to), ("Call-ID", call.call_id), ("CSeq", cseq)]
    return _message("SIP/2.0 200 OK", headers)


# -- a whole call, copy by copy -------------------------------------------------------------
def timeline(call: SimCall, plan: Plan) -> list[tuple[float, Hop]]:
    """Every mirrored copy of the call in capture order, with its offset from the INVITE."""
    caller, proxy, phone = _ends(call)
    out: list[tuple[float, Hop]] = []

    def both(at: float, src: Address, mid: bytes, dst: Address, fwd: bytes) -> None:
        # One message seen twice: entering the proxy from src, leaving it to dst.
        out.append((at, _hop(src, proxy, mid)))
        out.append((at + _COPY_GAP, _hop(proxy, dst, fwd)))

    def once(at: float, src: Address, dst: Address, payload: bytes) -> None:
        out.append((at, _hop(src, dst, payload)))

    invite_in = invite_request(call, forwarded=False)
    once(0.0, caller, proxy, invite_in)
    once(
        _COPY_GAP,
        proxy,
        caller,
        invite_response(call, 100, "Trying", from_phone=False, tag="none"),
    )
    once(2 * _COPY_GAP, proxy, phone, invite_request(call, forwarded=True))
    ring_at = 0.05
    both(
        ring_at,
        phone,
        invite_response(call, 180, "Ringing", from_phone=True),
        caller,
        invite_response(call, 180, "Ringing", from_phone=False),
    )
    if plan.retransmit_invite:
        # A retransmission (the caller lost our 100): same bytes, absorbed by the proxy.
        once(0.5, caller, proxy, invite_in)
    end = ring_at + plan.ring_seconds
    if plan.outcome == "answered":
        both(
            end,
            phone,
            invite_response(call, 200, "OK", from_phone=True),
            caller,
            invite_response(call, 200, "OK", from_phone=False),
        )
        both(
            end + 0.03,
            caller,
            ack_request(call, after_2xx=True),
            phone,
            ack_request(call, after_2xx=True, forwarded=True),
        )
        bye_at = end + plan.talk_seconds
        by = plan.hung_up_by
        near, far = (caller, phone) if by == "caller" else (phone, caller)
        both(
            bye_at,
            near,
            bye_request(call, by, forwarded=False),
            far,
            bye_request(call, by, forwarded=True),
        )
        both(
            bye_at + 0.02,
            far,
            bye_response(call, by, relayed=False),
            near,
            bye_response(call, by, relayed=True),
        )
    elif plan.outcome == "abandoned":
        once(end, caller, proxy, cancel_request(call, by_proxy=False))
        once(end + _COPY_GAP, proxy, caller, cancel_response(call, by_proxy=False))
        _cancel_phone(call, end + 2 * _COPY_GAP, once, 487, "Request Terminated")
    elif plan.outcome == "rang_out":
        # The proxy's INVITE timer (fr_inv_timer) expired: it cancels the phone and answers
        # the caller 408 itself.
        _cancel_phone(call, end, once, 408, "Request Timeout")
    out.sort(key=lambda item: item[0])
    return out


def _cancel_phone(call: SimCall, at: float, once: _Once, status: int, reason: str) -> None:
    """The proxy cancels the phone's leg; the phone ends it with 487; the caller is told
    `status` and ACKs it."""
    caller, proxy, phone = _ends(call)
    once(at, proxy, phone, cancel_request(call, by_proxy=True))
    once(at + 0.01, phone, proxy, cancel_response(call, by_proxy=True))
    once(
        at + 0.012, phone, proxy, invite_response(call, 487, "Request Terminated", from_phone=True)
    )
    once(at + 0.0124, proxy, phone, ack_request(call, after_2xx=False, forwarded=True))
    # A relayed 487 keeps the phone's To tag; a reply the proxy generates (408) has its own.
    tag: Literal["leg", "proxy"] = "leg" if status == 487 else "proxy"
    once(
        at + 0.0128, proxy, caller, invite_response(call, status, reason, from_phone=False, tag=tag)
    )
    ack_tag = call.to_tag if tag == "leg" else call.proxy_tag
    once(at + 0.04, caller, proxy, ack_request(call, after_2xx=False, to_tag=ack_tag))


# -- HEP3 ---------------------------------------------------------------------------------
def hep_datagram(hop: Hop, at: float, capture_id: int = 1, auth_key: bytes | None = None) -> bytes:
    """One mirrored copy as siptrace sends it: HEP3 over UDP, captured at `at` (epoch s),
    with `auth_key` (chunk 0x000e) when the listener wants a password."""
    micros = int(at * 1_000_000)
    return encode_hep(
        HepPacket(
            ip_family=AF_IPV4,
            ip_proto=_UDP,
            src_ip=hop.src_ip,
            dst_ip=hop.dst_ip,
            src_port=hop.src_port,
            dst_port=hop.dst_port,
            ts_sec=micros // 1_000_000,
            ts_usec=micros % 1_000_000,
            proto_type=_HEP_SIP,
            capture_id=capture_id,
            auth_key=auth_key,
            payload=hop.payload,
            correlation_id=None,
        )
    )


def datagrams(
    call: SimCall, plan: Plan, start: float, capture_id: int = 1, auth_key: bytes | None = None
) -> list[tuple[float, bytes]]:
    """The call's HEP3 datagrams with their capture times, the INVITE captured at `start`."""
    return [
        (start + offset, hep_datagram(hop, start + offset, capture_id, auth_key))
        for offset, hop in timeline(call, plan)
    ]
