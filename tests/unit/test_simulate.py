"""Simulated calls through the real HEP listener and SIP translator: one event per fact."""

import random
from datetime import UTC, datetime, timedelta

from callcenter import signals as t
from callcenter.telephony.hep import simulate as sim
from callcenter.telephony.hep.listener import HepListener
from callcenter.telephony.hep.sip import parse_sip
from callcenter.telephony.hep.translate import SipTranslator

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC).timestamp()


def run(plan: sim.Plan, seed: int = 1) -> tuple[sim.SimCall, list[t.TelephonyEvent]]:
    call = sim.new_call(random.Random(seed), extension="2003")
    events: list[t.TelephonyEvent] = []
    listener = HepListener(events.append, SipTranslator("hep"))
    for _, data in sim.datagrams(call, plan, T0):
        listener.datagram_received(data)
    assert listener.stats.errors == {}
    assert listener.stats.sip_messages == len(sim.timeline(call, plan))
    return call, events


def names(events: list[t.TelephonyEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0, UTC) + timedelta(seconds=seconds)


def test_answered_call_caller_hangs_up() -> None:
    plan = sim.Plan("answered", ring_seconds=4.0, talk_seconds=20.0, retransmit_invite=True)
    call, events = run(plan)
    assert names(events) == ["CallOffered", "LegRinging", "LegAnswered", "CallEnded"]
    offered, ringing, answered, ended = events
    assert isinstance(offered, t.CallOffered)
    assert (offered.call_id, offered.call_tag) == (call.call_id, call.from_tag)
    assert offered.caller == call.caller and offered.dialed == "96069"
    assert offered.at == at(0)
    assert isinstance(ringing, t.LegRinging)
    assert (ringing.leg_id, ringing.extension, ringing.at) == (call.to_tag, "2003", at(0.05))
    assert isinstance(answered, t.LegAnswered)
    assert (answered.leg_id, answered.at) == (call.to_tag, at(4.05))
    assert isinstance(ended, t.CallEnded)
    assert ended.hung_up_by == "caller" and ended.at == at(24.05)


def test_agent_hangs_up_first() -> None:
    plan = sim.Plan("answered", 2.0, 10.0, hung_up_by="agent", retransmit_invite=True)
    _, events = run(plan)
    assert names(events) == ["CallOffered", "LegRinging", "LegAnswered", "CallEnded"]
    ended = events[-1]
    assert isinstance(ended, t.CallEnded) and ended.hung_up_by == "agent"


def test_caller_abandons_while_ringing() -> None:
    _, events = run(sim.Plan("abandoned", ring_seconds=7.0, retransmit_invite=True))
    assert names(events) == ["CallOffered", "LegRinging", "CallAbandoned", "LegUnanswered"]
    abandoned, unanswered = events[2], events[3]
    assert isinstance(abandoned, t.CallAbandoned) and abandoned.at == at(7.05)
    assert isinstance(unanswered, t.LegUnanswered) and unanswered.cause == "cancelled"


def test_phone_rings_out() -> None:
    call, events = run(sim.Plan("rang_out", ring_seconds=20.0, retransmit_invite=True))
    assert names(events) == ["CallOffered", "LegRinging", "LegUnanswered", "CallUnanswered"]
    unanswered, final = events[2], events[3]
    assert isinstance(unanswered, t.LegUnanswered)
    assert (unanswered.leg_id, unanswered.extension) == (call.to_tag, "2003")
    assert isinstance(final, t.CallUnanswered) and final.cause == "408 Request Timeout"


def test_ringing_call_stays_open() -> None:
    _, events = run(sim.Plan("ringing"))
    assert names(events) == ["CallOffered", "LegRinging"]


def test_every_copy_is_a_well_formed_mirror() -> None:
    call = sim.new_call(random.Random(7))
    plan = sim.Plan("answered", 1.0, 5.0, hung_up_by="agent")
    for _, hop in sim.timeline(call, plan):
        assert hop.payload.endswith(b"Content-Length: 0\r\n\r\n")
        assert b"\n" not in hop.payload.replace(b"\r\n", b"")
        msg = parse_sip(hop.payload)
        assert msg.call_id == call.call_id
        # A request leaving the proxy carries one Via more than when it entered.
        if msg.method in ("INVITE", "BYE") or (msg.method == "ACK" and msg.cseq_num == 1):
            expected = 2 if hop.src_ip == sim.PROXY_IP else 1
            assert msg.via_count == expected, hop
        if msg.status and hop.src_ip != sim.PROXY_IP:
            assert msg.via_count == 2, hop  # a response from an end, on its way to the proxy
        assert sim.PROXY_IP in (hop.src_ip, hop.dst_ip)


def test_plans_follow_the_ring_rule() -> None:
    rng = random.Random(3)
    for cycle, limit in ((5.0, 3), (1.0, 1), (0.5, 2)):
        deadline = cycle * limit
        for _ in range(200):
            assert sim.plan_for("answered_on_time", rng, cycle, limit).ring_seconds < deadline
            assert sim.plan_for("answered_late", rng, cycle, limit).ring_seconds > deadline
            assert sim.plan_for("rang_out", rng, cycle, limit).ring_seconds == deadline + 5
            talk = sim.plan_for("agent_hangs_up", rng, cycle, limit).talk_seconds
            assert 5 <= talk <= 40


def test_copies_out_of_order_change_nothing() -> None:
    # Several proxy workers: the copies of one burst (in, out, the proxy's own) may arrive
    # in any order (DESIGN.md). Reverse every burst of copies captured within 5 ms.
    plans = {
        "answered": sim.Plan("answered", 2.0, 5.0, hung_up_by="agent"),
        "abandoned": sim.Plan("abandoned", 3.0),
        "rang_out": sim.Plan("rang_out", 20.0),
    }
    expected = {
        "answered": ["CallOffered", "LegRinging", "LegAnswered", "CallEnded"],
        "abandoned": ["CallOffered", "LegRinging", "CallAbandoned", "LegUnanswered"],
        "rang_out": ["CallOffered", "LegRinging", "CallUnanswered", "LegUnanswered"],
    }
    for name, plan in plans.items():
        call = sim.new_call(random.Random(2))
        copies = sim.datagrams(call, plan, T0)
        bursts = [[copies[0]]]
        for item in copies[1:]:
            if item[0] - bursts[-1][-1][0] < 0.005:
                bursts[-1].append(item)
            else:
                bursts.append([item])
        events: list[t.TelephonyEvent] = []
        listener = HepListener(events.append, SipTranslator("hep"))
        for burst in bursts:
            for _, data in reversed(burst):
                listener.datagram_received(data)
        assert names(events) == expected[name], name
        ended = events[-1] if name == "answered" else None
        assert ended is None or (isinstance(ended, t.CallEnded) and ended.hung_up_by == "agent")
