"""SIP seen through a proxy's mirror → exactly one normalized event per fact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter import signals as t
from callcenter.telephony.hep.sip import parse_sip
from callcenter.telephony.hep.translate import SipTranslator
from tests.pcap import corpus_dir, sip_payloads

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


# -- which phone a leg is: the dialled phone, not what it writes in Contact --------------------
AGENTS = {"2001", "2002", "2003"}
HOTLINE = "96069"


def directory(extension: str) -> bool:
    return extension in AGENTS


def sip(
    first: str,
    vias: list[str],
    cseq: str,
    *,
    to: str = f"<sip:{HOTLINE}@10.0.0.1>",
    from_: str = "<sip:13800000001@10.0.0.9>;tag=ft",
    call_id: str = "hunt@10.0.0.9",
    contact: str | None = None,
    extra: tuple[str, ...] = (),
) -> bytes:
    lines = [first, *[f"Via: {v}" for v in vias], f"From: {from_}", f"To: {to}"]
    lines += [f"Call-ID: {call_id}", f"CSeq: {cseq}", *extra]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def register(
    aor: str,
    contact: str,
    *,
    granted: str | None = None,
    expires: str = "3600",
    cseq: int = 1,
    call_id: str = "reg-1",
) -> list[bytes]:
    """A phone's REGISTER for `aor` and the registrar's 200, which lists the binding with the
    expiry it granted (`granted`; no Contact in the 200 when None)."""
    via = f"SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKreg{cseq}"
    common = {
        "to": f"<sip:{aor}@10.0.0.1>",
        "from_": f"<sip:{aor}@10.0.0.1>;tag=reg",
        "call_id": call_id,
    }
    request = sip(
        "REGISTER sip:10.0.0.1 SIP/2.0",
        [via],
        f"{cseq} REGISTER",
        contact=contact,
        extra=(f"Expires: {expires}",),
        **common,
    )
    reply_to = common | {"to": f"<sip:{aor}@10.0.0.1>;tag=registrar"}
    contact_back = None if granted is None else f"{contact.split(';')[0]};expires={granted}"
    ok = sip("SIP/2.0 200 OK", [via], f"{cseq} REGISTER", contact=contact_back, **reply_to)
    return [request, ok]


def hunt_invites(*targets: str) -> list[bytes]:
    """The resident's INVITE to the hotline and the proxy's INVITE to each target phone URI
    (one branch each: parallel forking)."""
    out = [sip(f"INVITE sip:{HOTLINE}@10.0.0.1 SIP/2.0", [CALLER_VIA], "1 INVITE")]
    for n, uri in enumerate(targets):
        proxy_via = f"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfork{n}"
        out.append(sip(f"INVITE {uri} SIP/2.0", [proxy_via, CALLER_VIA], "1 INVITE"))
    return out


def phone(status: str, fork: int, tag: str, contact: str) -> bytes:
    """A response of the phone on the proxy's `fork` branch (two Vias)."""
    proxy_via = f"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKfork{fork}"
    to = f"<sip:{HOTLINE}@10.0.0.1>;tag={tag}"
    return sip(f"SIP/2.0 {status}", [proxy_via, CALLER_VIA], "1 INVITE", to=to, contact=contact)


def relayed(status: str, tag: str, contact: str) -> bytes:
    """The proxy's relayed copy of a phone's response, towards the caller (one Via)."""
    to = f"<sip:{HOTLINE}@10.0.0.1>;tag={tag}"
    return sip(f"SIP/2.0 {status}", [CALLER_VIA], "1 INVITE", to=to, contact=contact)


def legs(events: list[t.TelephonyEvent]) -> list[tuple[str, str, str]]:
    return [
        (type(e).__name__, e.leg_id, e.extension)
        for e in events
        if isinstance(e, t.LegRinging | t.LegAnswered | t.LegUnanswered)
    ]


def test_statically_routed_phone_whose_contact_is_not_its_extension() -> None:
    # Linphone puts the account name in Contact, SIPp "sipp": the dialled 2001 is the phone.
    tr = SipTranslator(known_extension=directory)
    events = feed(
        tr,
        INVITE_IN,
        INVITE_OUT,
        msg("SIP/2.0 180 Ringing", [PROXY_VIA, CALLER_VIA], "1 INVITE", "pt", contact="sipp"),
        msg("SIP/2.0 200 OK", [PROXY_VIA, CALLER_VIA], "1 INVITE", "pt", contact="sipp"),
    )
    assert legs(events) == [("LegRinging", "pt", "2001"), ("LegAnswered", "pt", "2001")]


def test_hunt_group_to_a_registered_contact_is_its_address_of_record() -> None:
    tr = SipTranslator(known_extension=directory)
    contact = "<sip:sipp@127.0.0.1:5071>"
    events = feed(
        tr,
        *register("2001", contact, granted="3600"),
        *hunt_invites("sip:sipp@127.0.0.1:5071"),
        phone("180 Ringing", 0, "pt", contact),
        relayed("180 Ringing", "pt", contact),
        phone("200 OK", 0, "pt", contact),
    )
    offered = events[0]
    assert isinstance(offered, t.CallOffered) and offered.dialed == HOTLINE
    assert legs(events) == [("LegRinging", "pt", "2001"), ("LegAnswered", "pt", "2001")]


def test_a_registered_address_of_record_is_known_without_the_directory() -> None:
    # 2009 has no agent yet; what the registrar bound still names the phone.
    tr = SipTranslator(known_extension=directory)
    contact = "<sip:0004f2abcdef@10.0.0.7>"
    events = feed(
        tr,
        *register("2009", contact + ";+sip.instance=x", granted="600"),
        *hunt_invites("sip:0004f2abcdef@10.0.0.7:5060;transport=udp"),
        phone("180 Ringing", 0, "pt", "<sip:0004f2abcdef@10.0.0.7:5060>"),
    )
    assert legs(events) == [("LegRinging", "pt", "2009")]


def test_forked_hunt_group_legs_are_told_apart_by_the_branch_they_answer() -> None:
    # Both phones are SIPp ("sipp" in Contact): only the proxy's INVITE per branch tells them.
    tr = SipTranslator(known_extension=directory)
    a, b = "<sip:sipp@127.0.0.1:5071>", "<sip:sipp@127.0.0.1:5072>"
    events = feed(
        tr,
        *register("2001", a, granted="3600"),
        *register("2002", b, granted="3600", call_id="reg-2"),
        *hunt_invites("sip:sipp@127.0.0.1:5071", "sip:sipp@127.0.0.1:5072"),
        phone("180 Ringing", 1, "leg-b", b),
        phone("180 Ringing", 0, "leg-a", a),
        relayed("180 Ringing", "leg-b", b),
        phone("200 OK", 1, "leg-b", b),
        relayed("200 OK", "leg-b", b),
        phone("487 Request Terminated", 0, "leg-a", a),
    )
    assert legs(events) == [
        ("LegRinging", "leg-b", "2002"),
        ("LegRinging", "leg-a", "2001"),
        ("LegAnswered", "leg-b", "2002"),
        ("LegUnanswered", "leg-a", "2001"),
    ]


def test_the_relayed_copy_alone_maps_to_the_one_forwarded_invite() -> None:
    # The phone-side copy was lost: the caller-side one answers the caller's branch, and the
    # proxy forwarded the call to one phone only.
    tr = SipTranslator(known_extension=directory)
    contact = "<sip:sipp@127.0.0.1:5071>"
    events = feed(
        tr,
        *register("2001", contact, granted="3600"),
        *hunt_invites("sip:sipp@127.0.0.1:5071"),
        relayed("180 Ringing", "pt", contact),
    )
    assert legs(events) == [("LegRinging", "pt", "2001")]


def test_direct_call_without_a_proxy_is_the_request_uri_of_the_callers_invite() -> None:
    tr = SipTranslator(known_extension=directory)
    invite = sip("INVITE sip:2002@10.0.1.2 SIP/2.0", [CALLER_VIA], "1 INVITE", to="<sip:x@y>")
    ringing = sip(
        "SIP/2.0 180 Ringing", [CALLER_VIA], "1 INVITE", to="<sip:x@y>;tag=pt", contact="<sip:z@h>"
    )
    assert legs(feed(tr, invite, ringing)) == [("LegRinging", "pt", "2002")]


def test_to_user_when_the_request_uri_is_not_an_extension() -> None:
    tr = SipTranslator(known_extension=directory)
    to = "<sip:2003@10.0.0.1>"
    invite = sip("INVITE sip:2003@10.0.0.1 SIP/2.0", [CALLER_VIA], "1 INVITE", to=to)
    forwarded = sip("INVITE sip:desk@10.0.1.3 SIP/2.0", [PROXY_VIA, CALLER_VIA], "1 INVITE", to=to)
    ringing = sip(
        "SIP/2.0 180 Ringing",
        [PROXY_VIA, CALLER_VIA],
        "1 INVITE",
        to=to + ";tag=pt",
        contact="<sip:desk@10.0.1.3>",
    )
    assert legs(feed(tr, invite, forwarded, ringing)) == [("LegRinging", "pt", "2003")]


def test_contact_user_is_the_last_resort() -> None:
    # Nothing the proxy dialled is an extension or a registered contact.
    tr = SipTranslator(known_extension=directory)
    events = feed(
        tr,
        *hunt_invites("sip:sipp@127.0.0.1:5071"),
        phone("180 Ringing", 0, "pt", "<sip:2002@127.0.0.1:5071>"),
    )
    assert legs(events) == [("LegRinging", "pt", "2002")]


def test_unregister_and_expiry_end_a_binding() -> None:
    contact = "<sip:sipp@127.0.0.1:5071>"

    def leg_extension(*before: bytes, after: float = 0.0) -> str:
        tr = SipTranslator(known_extension=directory)
        feed(tr, *register("2001", contact, granted="60"), *before)
        messages = [
            *hunt_invites("sip:sipp@127.0.0.1:5071"),
            phone("180 Ringing", 0, "pt", contact),
        ]
        events: list[t.TelephonyEvent] = []
        for m in messages:
            events += tr.translate(parse_sip(m), T0 + timedelta(seconds=after))
        (ringing,) = [e for e in events if isinstance(e, t.LegRinging)]
        return ringing.extension

    assert leg_extension() == "2001"
    assert leg_extension(after=60) == "2001"
    # The registrar granted 60 s though 3600 were asked: gone a while after those 60 s.
    assert leg_extension(after=200) == "sipp"
    assert leg_extension(*register("2001", contact, expires="0", cseq=2)) == "sipp"
    assert leg_extension(*register("2001", "*", expires="0", cseq=2)) == "sipp"
    unregister = register("2001", contact + ";expires=0", cseq=2)
    assert leg_extension(*unregister) == "sipp"
    # A refresh keeps it.
    assert leg_extension(*register("2001", contact, granted="600", cseq=2), after=200) == "2001"


def test_a_challenged_register_binds_once_answered() -> None:
    contact = "<sip:sipp@127.0.0.1:5071>"
    first, _ = register("2001", contact, cseq=1)
    challenge = sip(
        "SIP/2.0 401 Unauthorized",
        ["SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKreg1"],
        "1 REGISTER",
        to="<sip:2001@10.0.0.1>;tag=registrar",
        from_="<sip:2001@10.0.0.1>;tag=reg",
        call_id="reg-1",
    )
    tr = SipTranslator(known_extension=directory)
    # The registrar's 200 lists no contact here: the REGISTER's own Contact and Expires count.
    feed(tr, first, challenge, *register("2001", contact, cseq=2))
    events = feed(
        tr, *hunt_invites("sip:sipp@127.0.0.1:5071"), phone("180 Ringing", 0, "p", contact)
    )
    assert legs(events) == [("LegRinging", "p", "2001")]


def test_bindings_are_bounded() -> None:
    tr = SipTranslator(known_extension=directory, max_bindings=2)
    for n, aor in enumerate(("2001", "2002", "2003")):
        feed(tr, *register(aor, f"<sip:sipp@127.0.0.1:507{n}>", granted="600", call_id=f"r{n}"))
    events = feed(
        tr,
        *hunt_invites(*(f"sip:sipp@127.0.0.1:507{n}" for n in range(3))),
        *(phone("180 Ringing", n, f"leg{n}", "<sip:sipp@h>") for n in range(3)),
    )
    # The oldest binding went; 2001 is not dialled by name, so its leg is the Contact's.
    assert [extension for _, _, extension in legs(events)] == ["sipp", "2002", "2003"]


def test_register_through_the_hep_listener() -> None:
    # The listener used to skip REGISTER unparsed.
    from callcenter.telephony.hep import simulate as sim
    from callcenter.telephony.hep.listener import HepListener

    events: list[t.TelephonyEvent] = []
    tr = SipTranslator(known_extension=directory)
    listener = HepListener(events.append, tr)
    contact = "<sip:sipp@127.0.0.1:5071>"
    messages = [
        *register("2001", contact),  # a 200 without Contact: the REGISTER is needed
        *hunt_invites("sip:sipp@127.0.0.1:5071"),
        phone("180 Ringing", 0, "pt", contact),
    ]
    for payload in messages:
        hop = sim.Hop("10.0.0.7", 5060, "10.0.0.1", 5060, payload)
        listener.datagram_received(sim.hep_datagram(hop, T0.timestamp()))
    assert listener.stats.errors == {}
    assert legs(events) == [("LegRinging", "pt", "2001")]


# -- a B2BUA answering with another To tag than its 180 carried --------------------------------
def test_b2bua_answer_with_another_to_tag_answers_the_leg_that_rang() -> None:
    # An SBC in front of the phone: 180 with one To tag, 200 with another, both answering the
    # proxy's one INVITE to 2001. One phone rang and answered: one leg.
    tr = SipTranslator(known_extension=directory)
    events = feed(
        tr,
        *hunt_invites("sip:2001@10.0.1.1"),
        phone("180 Ringing", 0, "early", "<sip:sbc@10.0.1.1>"),
        relayed("180 Ringing", "early", "<sip:sbc@10.0.1.1>"),
        phone("200 OK", 0, "final", "<sip:sbc@10.0.1.1>"),
        relayed("200 OK", "final", "<sip:sbc@10.0.1.1>"),
    )
    assert legs(events) == [("LegRinging", "early", "2001"), ("LegAnswered", "early", "2001")]
    # The dialog goes on with the answer's tag: the agent's BYE carries it.
    bye = sip(
        "BYE sip:13800000001@10.0.0.9 SIP/2.0",
        [PHONE_VIA],
        "2 BYE",
        from_=f"<sip:{HOTLINE}@10.0.0.1>;tag=final",
        to="<sip:13800000001@10.0.0.9>;tag=ft",
    )
    (ended,) = feed(tr, bye)
    assert isinstance(ended, t.CallEnded) and ended.hung_up_by == "agent"


def test_answer_on_another_branch_is_another_leg_even_if_it_never_rang() -> None:
    tr = SipTranslator(known_extension=directory)
    events = feed(
        tr,
        *hunt_invites("sip:2001@10.0.1.1", "sip:2002@10.0.1.2"),
        phone("180 Ringing", 0, "a", "<sip:x@10.0.1.1>"),
        phone("200 OK", 1, "b", "<sip:y@10.0.1.2>"),
    )
    assert legs(events) == [("LegRinging", "a", "2001"), ("LegAnswered", "b", "2002")]


def test_a_phone_that_already_answered_another_tag_is_not_merged() -> None:
    # Downstream forking behind one branch: the first 200 wins; a second 2xx with a new tag
    # (to be BYEd by the proxy) makes no event.
    tr = SipTranslator(known_extension=directory)
    events = feed(
        tr,
        *hunt_invites("sip:2001@10.0.1.1"),
        phone("180 Ringing", 0, "a", "<sip:x@10.0.1.1>"),
        phone("200 OK", 0, "a", "<sip:x@10.0.1.1>"),
        phone("200 OK", 0, "b", "<sip:x@10.0.1.1>"),
    )
    assert legs(events) == [("LegRinging", "a", "2001"), ("LegAnswered", "a", "2001")]


@pytest.mark.parametrize(
    "name",
    [
        # A T.38 fax: the called side re-INVITEs to switch to fax (frames 164-180).
        "heplify__FAX-Call-t38-CA-TDM-SIP-FB-1.pcap",
        "heplify__erspan_sip_ipv4_udp.pcapng",
    ],
)
def test_in_real_captures_only_initial_invites_make_calls(name: str) -> None:
    messages = [
        (parse_sip(d.payload), datetime.fromtimestamp(d.time, UTC))
        for d in sip_payloads(corpus_dir() / "sip" / name)
    ]
    tr = SipTranslator()
    events = [e for m, at in messages for e in tr.translate(m, at)]
    initial = {
        (m.call_id, m.from_tag) for m, _ in messages if m.method == "INVITE" and not m.to_tag
    }
    offered = [(e.call_id, e.call_tag) for e in events if isinstance(e, t.CallOffered)]
    assert sorted(offered) == sorted(initial)
