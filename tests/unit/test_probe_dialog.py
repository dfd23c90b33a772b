"""The probe's SIP repairs on recorded probe calls (tests/fixtures/probe): the requests pyVoIP
gets wrong rebuilt as RFC 3261 says, and the timings read from the datagrams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callcenter.probe import dialog
from callcenter.probe.phone import Watch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "probe"


def capture(name: str) -> list[tuple[float, bytes, bool]]:
    rows = json.loads((FIXTURES / f"{name}.json").read_text())
    return [(r["at"], r["data"].encode(), r["inbound"]) for r in rows]


def first(name: str, start: str, inbound: bool) -> bytes:
    return next(d for _, d, i in capture(name) if i == inbound and d.startswith(start.encode()))


def answer_of_invite() -> bytes:
    rows = capture("answered")
    return next(d for _, d, i in rows if i and d.startswith(b"SIP/2.0 200") and b" INVITE" in d)


def lines(text: str) -> list[str]:
    return text.split("\r\n")


def test_ack_of_a_200_goes_to_the_contact_through_the_record_route_with_its_to_tag() -> None:
    invite = first("answered", "INVITE ", inbound=False)
    ok = answer_of_invite()
    ack = lines(dialog.in_dialog("ACK", invite, dialog.dialog_of(ok), "127.0.0.1", 5062, "ua"))
    assert ack[0] == "ACK sip:2001@127.0.0.1:20001 SIP/2.0"
    route = [x for x in ack if x.startswith("Route: ")]
    assert route == [f"Route: {dialog.first(ok, 'record-route')}"]
    assert f"To: {dialog.first(ok, 'to')}" in ack
    assert dialog.first(ok, "to").endswith(";tag=agent1")
    assert f"From: {dialog.first(invite, 'from')}" in ack
    assert "CSeq: 1 ACK" in ack
    # A new transaction: not the INVITE's branch.
    assert dialog.first(invite, "via") not in "\n".join(ack)


def test_bye_takes_the_next_cseq_in_the_same_dialog() -> None:
    invite = first("answered", "INVITE ", inbound=False)
    ok = answer_of_invite()
    bye = lines(dialog.in_dialog("BYE", invite, dialog.dialog_of(ok), "127.0.0.1", 5062, "ua"))
    assert bye[0] == "BYE sip:2001@127.0.0.1:20001 SIP/2.0"
    assert "CSeq: 2 BYE" in bye
    assert bye[-2:] == ["", ""]  # ends with the blank line


def test_record_route_of_several_proxies_is_reversed_into_the_route_set() -> None:
    response = (
        b"SIP/2.0 200 OK\r\nRecord-Route: <sip:p2;lr>, <sip:p1;lr>\r\n"
        b"Record-Route: <sip:p0;lr>\r\nContact: <sip:2001@10.0.0.7>\r\nTo: <sip:96069@x>;tag=a\r\n"
        b"CSeq: 7 INVITE\r\n\r\n"
    )
    d = dialog.dialog_of(response)
    assert d.route == ("<sip:p0;lr>", "<sip:p1;lr>", "<sip:p2;lr>")
    assert d.remote_target == "sip:2001@10.0.0.7"
    assert d.cseq == 7


def test_ack_of_a_486_repeats_the_invites_uri_and_via_with_the_responses_to() -> None:
    invite = first("busy", "INVITE ", inbound=False)
    busy = first("busy", "SIP/2.0 486", inbound=True)
    ack = lines(dialog.ack_non_2xx(invite, busy, "ua"))
    assert ack[0] == "ACK sip:96069@127.0.0.1 SIP/2.0"
    assert f"Via: {dialog.first(invite, 'via')}" in ack
    assert f"To: {dialog.first(busy, 'to')}" in ack
    assert "CSeq: 1 ACK" in ack


def test_the_recorded_486_was_acknowledged_as_built_here() -> None:
    invite = first("busy", "INVITE ", inbound=False)
    busy = first("busy", "SIP/2.0 486", inbound=True)
    sent = first("busy", "ACK ", inbound=False).decode()
    assert sent == dialog.ack_non_2xx(invite, busy, dialog.first(sent, "user-agent"))


def test_cancel_names_the_invite_transaction() -> None:
    invite = first("no_answer", "INVITE ", inbound=False)
    cancel = lines(dialog.cancel(invite, "ua"))
    assert cancel[0] == "CANCEL sip:96069@127.0.0.1 SIP/2.0"
    assert f"Via: {dialog.first(invite, 'via')}" in cancel
    assert f"To: {dialog.first(invite, 'to')}" in cancel  # no tag: the INVITE's own To
    assert "CSeq: 1 CANCEL" in cancel


def watch(name: str) -> Watch:
    w = Watch()
    for at, data, inbound in capture(name):
        w.feed(at, data, inbound)
    return w


def test_an_answered_call_times_ring_and_answer_from_the_invite() -> None:
    w = watch("answered")
    rows = capture("answered")
    sent = next(at for at, d, i in rows if not i and d.startswith(b"INVITE "))
    rang = next(at for at, d, i in rows if i and d.startswith(b"SIP/2.0 180"))
    assert w.ring == pytest.approx(rang - sent)
    assert w.answer is not None and w.answer > w.ring
    assert (w.final_status, w.bye_status, w.register_status) == (200, 200, 200)


def test_a_busy_hotline_is_its_final_status_after_ringing() -> None:
    w = watch("busy")
    assert w.ring is not None
    assert (w.answer, w.final_status) == (None, 486)


def test_a_cancelled_call_ends_with_487_and_no_answer() -> None:
    w = watch("no_answer")
    assert w.ring is not None
    assert (w.answer, w.final_status, w.statuses) == (None, 487, [100, 180, 487])


def test_responses_of_another_call_are_not_this_calls() -> None:
    w = Watch()
    invite = first("busy", "INVITE ", inbound=False)
    w.feed(0.0, invite, False)
    for at, data, inbound in capture("answered"):
        if inbound:
            w.feed(at, data, inbound)
    assert (w.first_response, w.ring, w.final_status) == (None, None, None)


def test_a_digest_challenge_is_not_the_final_answer() -> None:
    w = Watch()
    invite = first("busy", "INVITE ", inbound=False)
    w.feed(0.0, invite, False)
    challenge = first("busy", "SIP/2.0 486", inbound=True).replace(
        b"486 Busy Here", b"401 Unauthorized"
    )
    w.feed(0.1, challenge, True)
    assert w.final_status is None
    assert w.first_response == pytest.approx(0.1)
