"""pyVoIP's SIP client with the probe's repairs (uac.py), on recorded probe calls: what it
sends in answer to each response, and what it leaves to pyVoIP."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.probe import dialog, uac
from tests.unit.test_probe_dialog import answer_of_invite, first


class Wire:
    """Stands in for the phone's socket: what it would have sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, _address: Any) -> int:
        self.sent.append(data)
        return len(data)

    def setblocking(self, _flag: bool) -> None:
        pass


@pytest.fixture
def phone() -> uac.ProbeVoIPPhone:
    p = uac.ProbeVoIPPhone(
        "127.0.0.1", 5060, "8999", "", myIP="127.0.0.1", sipPort=5062, on_datagram=lambda *a: None
    )
    p.client.out = p.client.s = Wire()  # type: ignore[assignment]
    return p


def sent(phone: uac.ProbeVoIPPhone) -> list[bytes]:
    wire = phone.client.out
    assert isinstance(wire, Wire)
    return wire.sent


def test_a_200_pyvoip_has_no_call_for_is_acknowledged_through_the_route_set(
    phone: uac.ProbeVoIPPhone,
) -> None:
    invite = first("answered", "INVITE ", inbound=False)
    phone.client._heard(0.0, invite, False)
    phone.client.parse_message(uac.message_of(answer_of_invite()))
    (ack,) = sent(phone)
    assert ack.startswith(b"ACK sip:2001@127.0.0.1:20001 SIP/2.0\r\n")
    assert dialog.first(ack, "route") == dialog.first(answer_of_invite(), "record-route")
    assert phone.client.hang_up(dialog.first(invite, "call-id"))
    assert sent(phone)[-1].startswith(b"BYE sip:2001@127.0.0.1:20001 ")


def test_a_200_is_acknowledged_even_when_pyvoips_media_cannot_start(
    phone: uac.ProbeVoIPPhone,
) -> None:
    class NoMedia:
        def answered(self, _request: Any) -> None:
            raise OSError(98, "Address already in use")  # its RTP port is taken

    invite = first("answered", "INVITE ", inbound=False)
    phone.client._heard(0.0, invite, False)
    phone.calls[dialog.first(invite, "call-id")] = NoMedia()  # type: ignore[assignment]
    with pytest.raises(OSError):  # pyVoIP's receive loop logs it and goes on
        phone.client.parse_message(uac.message_of(answer_of_invite()))
    (ack,) = sent(phone)
    assert ack.startswith(b"ACK sip:2001@127.0.0.1:20001 SIP/2.0\r\n")


def test_a_200_pyvoip_answers_is_acknowledged_once(phone: uac.ProbeVoIPPhone) -> None:
    class Media:
        def answered(self, _request: Any) -> None:
            pass

    invite = first("answered", "INVITE ", inbound=False)
    phone.client._heard(0.0, invite, False)
    phone.calls[dialog.first(invite, "call-id")] = Media()  # type: ignore[assignment]
    phone.client.parse_message(uac.message_of(answer_of_invite()))
    (ack,) = sent(phone)  # pyVoIP's, built by the repaired gen_ack
    assert ack.startswith(b"ACK sip:2001@127.0.0.1:20001 SIP/2.0\r\n")


def test_a_486_is_acknowledged_and_pyvoip_prints_nothing(
    phone: uac.ProbeVoIPPhone, capsys: pytest.CaptureFixture[str]
) -> None:
    phone.client._heard(0.0, first("busy", "INVITE ", inbound=False), False)
    phone.client.parse_message(uac.message_of(first("busy", "SIP/2.0 486", inbound=True)))
    (ack,) = sent(phone)
    assert ack.startswith(b"ACK sip:96069@127.0.0.1 SIP/2.0\r\n")
    assert capsys.readouterr().out == ""  # pyVoIP's "TODO: Add 500 Error …"


def test_cancel_needs_an_invite_sent(phone: uac.ProbeVoIPPhone) -> None:
    assert not phone.client.cancel("no-such-call")
    invite = first("no_answer", "INVITE ", inbound=False)
    phone.client._heard(0.0, invite, False)
    assert phone.client.cancel(dialog.first(invite, "call-id"))
    assert sent(phone)[0].startswith(b"CANCEL sip:96069@127.0.0.1 SIP/2.0\r\n")


def test_each_phone_makes_call_ids_of_its_own() -> None:
    ids = {
        uac.ProbeVoIPPhone(
            "127.0.0.1", 5060, "8999", "", myIP="127.0.0.1", on_datagram=lambda *a: None
        ).client.gen_call_id()
        for _ in range(3)
    }
    assert len(ids) == 3  # pyVoIP's own: the same hash of "1" in every new phone
