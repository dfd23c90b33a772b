"""Ring time when the answering leg never rang by itself: a B2BUA or SBC in front of the phone
rings with one To tag and answers with another. The caller heard ringing from that 180, so
the answer is late or on time from there, and it is one phone: one leg, one fault at most.
SIP as the mirror shows it → the translator's events → model.offer / model.apply, with the
ring-limit timer's model.deadline_due called when a ringing leg's deadline passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter import signals as t
from callcenter.calls import model
from callcenter.calls.model import AgentRef
from callcenter.calls.rings import RingRule
from callcenter.events import PhoneStopped, ViolationRecorded
from callcenter.telephony.hep.sip import parse_sip
from callcenter.telephony.hep.translate import SipTranslator

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
RULE = RingRule(5.0, 3)  # the deadline falls 15 s after the first ring
AGENTS = {"2001": AgentRef(1, "li.na"), "2002": AgentRef(2, "wang.wei")}
CALLER_VIA = "SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKcaller1"


def lookup(extension: str) -> AgentRef | None:
    return AGENTS.get(extension)


def proxy_via(fork: int) -> str:
    return f"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfork{fork}"


def sip(first: str, vias: list[str], to_tag: str | None = None) -> bytes:
    lines = [first, *[f"Via: {v}" for v in vias]]
    lines += [
        "From: <sip:13800000001@10.0.0.9>;tag=ft",
        "To: <sip:96069@10.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
        "Call-ID: b2bua@10.0.0.9",
        "CSeq: 1 INVITE",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def invites(*extensions: str) -> list[tuple[float, bytes]]:
    """The resident's INVITE to the hotline and the proxy's INVITE to each phone."""
    out = [(0.0, sip("INVITE sip:96069@10.0.0.1 SIP/2.0", [CALLER_VIA]))]
    for fork, extension in enumerate(extensions):
        uri = f"sip:{extension}@10.0.1.{fork + 1}:5060"
        out.append((0.01, sip(f"INVITE {uri} SIP/2.0", [proxy_via(fork), CALLER_VIA])))
    return out


def reply(at: float, status: str, tag: str, fork: int = 0) -> list[tuple[float, bytes]]:
    """A response as it enters the proxy from the phone's side and as it is relayed."""
    return [
        (at, sip(f"SIP/2.0 {status}", [proxy_via(fork), CALLER_VIA], tag)),
        (at + 0.001, sip(f"SIP/2.0 {status}", [CALLER_VIA], tag)),
    ]


def run(*messages: tuple[float, bytes]) -> tuple[model.CallState, list[object]]:
    """Every message through the translator, every event it makes through the model; the
    ring-limit timer fires as the tracker's would, between messages."""
    translator = SipTranslator(known_extension=lambda extension: extension in AGENTS)
    call: model.CallState | None = None
    domain: list[object] = []
    for seconds, data in messages:
        now = T0 + timedelta(seconds=seconds)
        if call is not None:
            for leg in list(call.legs.values()):
                started = leg.ring_started_at
                if started is not None and started + RULE.deadline <= now:
                    domain += model.deadline_due(call, leg, started + RULE.deadline, RULE)
        for event in translator.translate(parse_sip(data), now):
            if isinstance(event, t.CallOffered):
                call = model.offer(event, lookup)
            else:
                assert call is not None
                domain += model.apply(call, event, RULE, lookup)
    assert call is not None
    return call, domain


def answered_leg(call: model.CallState) -> model.LegState:
    assert call.answered_leg is not None
    return call.legs[call.answered_leg]


def ring_seconds(leg: model.LegState) -> float:
    assert leg.ring_started_at is not None and leg.answered_at is not None
    return (leg.answered_at - leg.ring_started_at).total_seconds()


def violations(domain: list[object]) -> list[tuple[str, float | None]]:
    return [(v.kind, v.ring_seconds) for v in domain if isinstance(v, ViolationRecorded)]


def test_b2bua_answering_with_another_to_tag_rang_since_its_180() -> None:
    call, domain = run(
        *invites("2001"),
        *reply(1.0, "180 Ringing", "sbc-early"),
        *reply(21.0, "200 OK", "sbc-final"),
    )
    leg = answered_leg(call)
    assert leg.extension == "2001" and leg.agent == AGENTS["2001"]
    assert ring_seconds(leg) == 20.0
    # One phone rang past the limit: one fault, raised at the deadline, none again at the
    # answer; nothing was "answered elsewhere".
    assert violations(domain) == [("ring_limit", 15.0)]
    stopped = [(e.outcome, e.rings) for e in domain if isinstance(e, PhoneStopped)]
    assert stopped == [("answered", 5)]
    assert list(call.legs) == ["sbc-early"]


def test_b2bua_answering_within_the_limit_is_on_time_from_its_180() -> None:
    call, domain = run(
        *invites("2001"),
        *reply(1.0, "183 Session Progress", "sbc-early"),
        *reply(6.0, "200 OK", "sbc-final"),
    )
    assert ring_seconds(answered_leg(call)) == 5.0
    assert violations(domain) == []


def test_forked_phone_answering_without_ringing_is_another_leg() -> None:
    # Another branch of the proxy, another phone: not merged into the ringing one.
    call, _ = run(
        *invites("2001", "2002"),
        *reply(1.0, "180 Ringing", "phone-a", fork=0),
        *reply(6.0, "200 OK", "phone-b", fork=1),
    )
    assert answered_leg(call).extension == "2002"
    assert call.legs["phone-a"].outcome == "answered_elsewhere"


def test_serial_hunt_next_phone_answering_without_ringing_keeps_its_own_ring_time() -> None:
    # The first phone rang out and was cancelled; the proxy then tried the next one.
    call, domain = run(
        *invites("2001"),
        *reply(1.0, "180 Ringing", "phone-a", fork=0),
        (14.0, sip("SIP/2.0 487 Request Terminated", [proxy_via(0), CALLER_VIA], "phone-a")),
        (14.1, invites("2001", "2002")[2][1]),
        *reply(14.5, "200 OK", "phone-b", fork=1),
    )
    leg = answered_leg(call)
    assert leg.extension == "2002" and ring_seconds(leg) == 0.0
    assert "late_answer" not in [kind for kind, _ in violations(domain)]
