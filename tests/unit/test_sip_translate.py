"""SIP seen through a proxy's mirror → exactly one normalized event per fact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcenter import signals as t
from callcenter.telephony.hep.sip import parse_sip
from callcenter.telephony.hep.translate import SipTranslator

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CALLER_VIA = "SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKcaller1"
PROXY_VIA = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy1"


def msg(
    first: str,
    vias: list[str],
    cseq: str,
    to_tag: str | None = None,
    from_tag: str = "ft",
    from_user: str = "13800000001",
    contact: str | None = None,
) -> bytes:
    to = "<sip:2001@10.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [first, *[f"Via: {v}" for v in vias]]
    lines += [
        f"From: <sip:{from_user}@10.0.0.9>;tag={from_tag}",
        f"To: {to}",
        "Call-ID: abc@10.0.0.9",
        f"CSeq: {cseq}",
    ]
    if contact:
        lines.append(f"Contact: <sip:{contact}@10.0.1.1:5060>")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


INVITE_IN = msg("INVITE sip:2001@10.0.0.1 SIP/2.0", [CALLER_VIA], "1 INVITE")
INVITE_OUT = msg("INVITE sip:2001@10.0.1.1:5060 SIP/2.0", [PROXY_VIA, CALLER_VIA], "1 INVITE")


def resp(status: str, to_tag: str | None, *, phone_side: bool, cseq: str = "1 INVITE") -> bytes:
    vias = [PROXY_VIA, CALLER_VIA] if phone_side else [CALLER_VIA]
    return msg(f"SIP/2.0 {status}", vias, cseq, to_tag, contact="2001" if to_tag else None)


def feed(tr: SipTranslator, *messages: bytes) -> list[t.TelephonyEvent]:
    out: list[t.TelephonyEvent] = []
    for i, m in enumerate(messages):
        out += tr.translate(parse_sip(m), T0 + timedelta(milliseconds=100 * i))
    return out


def names(events: list[t.TelephonyEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_answered_call_seen_twice_per_hop_gives_each_event_once() -> None:
    events = feed(
        SipTranslator(),
        INVITE_IN,
        resp("100 Trying", None, phone_side=False),
        INVITE_OUT,
        INVITE_OUT,  # a retransmission
        resp("180 Ringing", "pt", phone_side=True),
        resp("180 Ringing", "pt", phone_side=False),
        resp("200 OK", "pt", phone_side=True),
        resp("200 OK", "pt", phone_side=False),
        msg("BYE sip:2001@10.0.1.1 SIP/2.0", [CALLER_VIA], "2 BYE", "pt"),
        msg("BYE sip:2001@10.0.1.1 SIP/2.0", [PROXY_VIA, CALLER_VIA], "2 BYE", "pt"),
    )
    assert names(events) == ["CallOffered", "LegRinging", "LegAnswered", "CallEnded"]
    offered, ringing, _, ended = events
    assert isinstance(offered, t.CallOffered) and offered.caller == "13800000001"
    assert offered.dialed == "2001"
    assert isinstance(ringing, t.LegRinging) and ringing.extension == "2001"
    assert isinstance(ended, t.CallEnded) and ended.hung_up_by == "caller"


def test_bye_from_the_agent_side_is_told_by_its_from_tag() -> None:
    tr = SipTranslator()
    feed(tr, INVITE_IN, INVITE_OUT, resp("180 Ringing", "pt", phone_side=True))
    feed(tr, resp("200 OK", "pt", phone_side=True))
    # The agent's BYE: From carries the agent's tag, To the caller's.
    bye = msg("BYE sip:13800000001@10.0.0.9 SIP/2.0", [PROXY_VIA], "1 BYE", "ft", from_tag="pt")
    (ended,) = feed(tr, bye, bye)
    assert isinstance(ended, t.CallEnded) and ended.hung_up_by == "agent"


def test_callers_cancel_is_an_abandon() -> None:
    tr = SipTranslator()
    feed(tr, INVITE_IN, INVITE_OUT, resp("180 Ringing", "pt", phone_side=True))
    events = feed(
        tr,
        msg("CANCEL sip:2001@10.0.0.1 SIP/2.0", [CALLER_VIA], "1 CANCEL"),
        msg("CANCEL sip:2001@10.0.1.1:5060 SIP/2.0", [PROXY_VIA], "1 CANCEL"),
        resp("487 Request Terminated", "pt", phone_side=True),
        resp("487 Request Terminated", "pt", phone_side=False),
    )
    assert names(events) == ["CallAbandoned", "LegUnanswered"]


def test_proxy_cancelling_a_phone_that_rang_out_is_not_an_abandon() -> None:
    tr = SipTranslator()
    feed(tr, INVITE_IN, INVITE_OUT, resp("180 Ringing", "pt", phone_side=True))
    events = feed(
        tr,
        # Only the proxy's own CANCEL exists: its branch is the proxy's, not the caller's.
        msg("CANCEL sip:2001@10.0.1.1:5060 SIP/2.0", [PROXY_VIA], "1 CANCEL"),
        resp("487 Request Terminated", "pt", phone_side=True),
        resp("408 Request Timeout", "pt", phone_side=False),
    )
    assert names(events) == ["LegUnanswered", "CallUnanswered"]
    assert isinstance(events[1], t.CallUnanswered) and events[1].cause == "408 Request Timeout"


def test_phone_declining_is_unanswered_with_its_cause() -> None:
    tr = SipTranslator()
    feed(tr, INVITE_IN, INVITE_OUT, resp("180 Ringing", "pt", phone_side=True))
    events = feed(tr, resp("486 Busy Here", "pt", phone_side=True))
    assert isinstance(events[0], t.LegUnanswered) and events[0].cause == "486 Busy Here"


def test_ack_before_the_final_response_it_acknowledges_changes_nothing() -> None:
    # Kamailio with several workers mirrored an ACK before its own copy of the 480.
    tr = SipTranslator()
    feed(tr, INVITE_IN, INVITE_OUT, resp("180 Ringing", "pt", phone_side=True))
    ack = msg("ACK sip:2001@10.0.0.1 SIP/2.0", [CALLER_VIA], "1 ACK", "pt")
    events = feed(tr, ack, resp("480 Temporarily Unavailable", "pt", phone_side=False))
    assert names(events) == ["CallUnanswered"]


def test_authentication_challenge_does_not_end_the_call() -> None:
    tr = SipTranslator()
    challenge = msg("SIP/2.0 407 Proxy Authentication Required", [CALLER_VIA], "1 INVITE", "px")
    assert names(feed(tr, INVITE_IN, challenge)) == ["CallOffered"]
    again = msg("INVITE sip:2001@10.0.0.1 SIP/2.0", [CALLER_VIA.replace("1", "2")], "2 INVITE")
    assert feed(tr, again) == []
    assert names(feed(tr, resp("180 Ringing", "pt", phone_side=True))) == ["LegRinging"]


def test_forked_phones_are_separate_legs() -> None:
    tr = SipTranslator()
    feed(tr, INVITE_IN, INVITE_OUT)
    events = feed(
        tr,
        resp("180 Ringing", "leg-a", phone_side=True),
        resp("183 Session Progress", "leg-b", phone_side=True),
        resp("180 Ringing", "leg-a", phone_side=False),
        resp("200 OK", "leg-b", phone_side=True),
        resp("200 OK", "leg-a", phone_side=True),  # a second answer is ignored
    )
    assert names(events) == ["LegRinging", "LegRinging", "LegAnswered"]
    assert {e.leg_id for e in events} == {"leg-a", "leg-b"}  # type: ignore[union-attr]


def test_direct_call_without_proxy_cancel_and_487_abandon_once() -> None:
    tr = SipTranslator()
    events = feed(
        tr,
        INVITE_IN,
        resp("180 Ringing", "pt", phone_side=False),
        msg("CANCEL sip:2001@10.0.0.1 SIP/2.0", [CALLER_VIA], "1 CANCEL"),
        resp("487 Request Terminated", "pt", phone_side=False),
    )
    assert names(events) == ["CallOffered", "LegRinging", "CallAbandoned", "LegUnanswered"]


def test_same_call_id_with_another_from_tag_is_another_call() -> None:
    # A border controller that keeps the Call-ID but rewrites the From tag.
    tr = SipTranslator()
    other = msg("INVITE sip:2001@10.0.0.1 SIP/2.0", [CALLER_VIA], "1 INVITE", from_tag="other")
    assert names(feed(tr, INVITE_IN, other)) == ["CallOffered", "CallOffered"]


def test_finished_dialogs_are_forgotten_after_retransmissions_die_down() -> None:
    tr = SipTranslator()
    feed(tr, INVITE_IN, resp("486 Busy Here", "pt", phone_side=False))
    assert tr.expire(T0.timestamp() + 10) == 0
    assert tr.expire(T0.timestamp() + 65) == 1


# -- in-dialog requests and their responses never make calls -----------------------------------
PHONE_VIA = "SIP/2.0/UDP 10.0.1.1:5060;branch=z9hG4bKphone9"
PROXY_VIA_2 = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy9"


def from_callee(first: str, vias: list[str], cseq: str, *, branch: str = "") -> bytes:
    """A request the agent's phone sends in the dialog, or a response to it: From carries
    the phone's tag, To the caller's."""
    if branch:
        vias = [v.replace("9", branch) for v in vias]
    lines = [first, *[f"Via: {v}" for v in vias]]
    lines += [
        "From: <sip:2001@10.0.0.1>;tag=pt",
        "To: <sip:13800000001@10.0.0.9>;tag=ft",
        "Call-ID: abc@10.0.0.9",
        f"CSeq: {cseq}",
        "Contact: <sip:2001@10.0.1.1:5060>",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def callee_reinvite(cseq: str = "1 INVITE", branch: str = "") -> list[bytes]:
    """The phone re-INVITEs the caller (a transfer, a hold), as the mirror shows it: the
    request in and out of the proxy, 100, the caller's 200 in and out."""
    first = "INVITE sip:13800000001@10.0.0.9:5060 SIP/2.0"
    inside, outside = [PHONE_VIA], [PROXY_VIA_2, PHONE_VIA]
    return [
        from_callee(first, inside, cseq, branch=branch),
        from_callee("SIP/2.0 100 Trying", inside, cseq, branch=branch),
        from_callee(first, outside, cseq, branch=branch),
        from_callee("SIP/2.0 180 Ringing", outside, cseq, branch=branch),
        from_callee("SIP/2.0 200 OK", outside, cseq, branch=branch),
        from_callee("SIP/2.0 200 OK", inside, cseq, branch=branch),
    ]


def answered(tr: SipTranslator) -> None:
    events = feed(tr, INVITE_IN, INVITE_OUT, resp("180 Ringing", "pt", phone_side=True))
    events += feed(
        tr, resp("200 OK", "pt", phone_side=True), resp("200 OK", "pt", phone_side=False)
    )
    assert names(events) == ["CallOffered", "LegRinging", "LegAnswered"]


def test_callees_reinvite_and_its_200_make_no_second_call() -> None:
    tr = SipTranslator()
    answered(tr)
    assert feed(tr, *callee_reinvite()) == []
    assert list(tr.dialogs) == [("abc@10.0.0.9", "ft")]
    # The call is still the one call, and ends once.
    bye = msg("BYE sip:2001@10.0.1.1 SIP/2.0", [CALLER_VIA], "2 BYE", "pt")
    (ended,) = feed(tr, bye)
    assert isinstance(ended, t.CallEnded) and ended.hung_up_by == "caller"


def test_a_failed_callee_reinvite_ends_nothing() -> None:
    tr = SipTranslator()
    answered(tr)
    first, *_ = callee_reinvite()
    pending = from_callee("SIP/2.0 491 Request Pending", [PHONE_VIA], "1 INVITE")
    assert feed(tr, first, pending) == []
    agent_bye = msg("BYE sip:13800000001@10.0.0.9 SIP/2.0", [PHONE_VIA], "2 BYE", "ft", "pt")
    (ended,) = feed(tr, agent_bye)
    assert isinstance(ended, t.CallEnded) and ended.hung_up_by == "agent"


def test_callers_reinvite_changes_nothing() -> None:
    tr = SipTranslator()
    answered(tr)
    via = "SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKcaller5"
    reinvite = msg("INVITE sip:2001@10.0.1.1 SIP/2.0", [via], "2 INVITE", "pt")
    ok = msg("SIP/2.0 200 OK", [via], "2 INVITE", "pt")
    other_tag = msg("SIP/2.0 200 OK", [via], "2 INVITE", "zz")
    assert feed(tr, reinvite, ok, other_tag) == []


def test_callees_reinvite_after_a_restart_makes_no_call() -> None:
    tr = SipTranslator()
    tr.restore("abc@10.0.0.9", "ft", {"pt": ("2001", True)})
    assert feed(tr, *callee_reinvite()) == []
    assert list(tr.dialogs) == [("abc@10.0.0.9", "ft")]


def test_reinvite_of_a_dialog_never_seen_makes_no_call() -> None:
    # The call began before the service started: its INVITE was never mirrored to us.
    tr = SipTranslator()
    assert feed(tr, *callee_reinvite()) == []
    assert tr.dialogs == {}
    # A new call with the same Call-ID and the caller's own tag still counts (a response seen
    # before its INVITE is how a call is found when the INVITE copy was lost).
    assert names(feed(tr, resp("180 Ringing", "pt", phone_side=True))) == [
        "CallOffered",
        "LegRinging",
    ]
