"""What one HEP datagram may cost before it is trusted, and what a capture time may claim:
the auth key is checked before any inflation, the inflated payload and the work per datagram
are capped, a capture time far from our clock is replaced by the receive time, and the SIP
translator holds a bounded number of dialogs and legs whatever arrives (issue 11, items 5, 6)."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callcenter import signals as t
from callcenter.config import PbxSettings, parse_settings
from callcenter.telephony.hep import decode
from callcenter.telephony.hep import simulate as sim
from callcenter.telephony.hep.decode import HepError, HepPacket, decode_hep, encode_hep
from callcenter.telephony.hep.listener import HepListener
from callcenter.telephony.hep.sip import parse_sip
from callcenter.telephony.hep.source import HepSource
from callcenter.telephony.hep.translate import SipTranslator
from callcenter.telephony.sources import build_source

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
YEAR_2106 = 0xFFFF_FFFF
KEY = b"s3cret-key"


def _packet(
    payload: bytes, *, ts_sec: int | None = None, auth_key: bytes | None = KEY
) -> HepPacket:
    return HepPacket(
        ip_family=2,
        ip_proto=17,
        src_ip="10.0.0.9",
        dst_ip="10.0.0.1",
        src_port=5060,
        dst_port=5060,
        ts_sec=int(NOW.timestamp()) if ts_sec is None else ts_sec,
        ts_usec=0,
        proto_type=1,
        capture_id=1,
        auth_key=auth_key,
        payload=payload,
        correlation_id=None,
    )


def _chunk(ctype: int, value: bytes, vendor: int = 0) -> bytes:
    return struct.pack("!HHH", vendor, ctype, 6 + len(value)) + value


def _datagram(*chunks: bytes) -> bytes:
    body = b"".join(chunks)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def _invite(call_id: str = "c1@10.0.0.9", from_tag: str = "ft") -> bytes:
    return (
        "INVITE sip:96069@10.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKc1\r\n"
        f"From: <sip:13800000001@10.0.0.9>;tag={from_tag}\r\n"
        "To: <sip:96069@10.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def _ringing(to_tag: str, call_id: str = "c1@10.0.0.9") -> bytes:
    return (
        "SIP/2.0 180 Ringing\r\n"
        "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKc1\r\n"
        "From: <sip:13800000001@10.0.0.9>;tag=ft\r\n"
        f"To: <sip:96069@10.0.0.1>;tag={to_tag}\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        "Contact: <sip:2001@10.0.1.1:5060>\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


@pytest.fixture
def inflations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every inflation the decoder starts (one entry per zlib.decompressobj made)."""
    made: list[int] = []
    real = zlib.decompressobj

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(zlib, "decompressobj", counting)  # what decode.py calls
    return made


# -- the auth key before anything costly -------------------------------------------------


def test_wrong_auth_key_is_refused_before_the_payload_is_inflated(inflations: list[int]) -> None:
    bomb = encode_hep(_packet(bytes(60_000), auth_key=b"guess"), compress=True)
    with pytest.raises(HepError) as caught:
        decode_hep(bomb, auth_key=KEY)
    assert caught.value.kind == "auth-key"
    assert inflations == []


def test_missing_auth_key_is_refused_before_the_payload_is_inflated(inflations: list[int]) -> None:
    bomb = encode_hep(_packet(bytes(60_000), auth_key=None), compress=True)
    with pytest.raises(HepError) as caught:
        decode_hep(bomb, auth_key=KEY)
    assert caught.value.kind == "auth-key"
    assert inflations == []


def test_right_auth_key_decodes_a_compressed_payload_once(inflations: list[int]) -> None:
    packet = _packet(_invite())
    assert decode_hep(encode_hep(packet, compress=True), auth_key=KEY) == packet
    assert len(inflations) == 1


def test_wrong_auth_key_on_a_plain_payload_is_refused_too() -> None:
    with pytest.raises(HepError) as caught:
        decode_hep(encode_hep(_packet(_invite(), auth_key=b"nope")), auth_key=KEY)
    assert caught.value.kind == "auth-key"


def test_two_compressed_chunks_are_inflated_once(inflations: list[int]) -> None:
    squeezed = zlib.compress(_invite())
    data = _datagram(_chunk(0x0E, KEY), _chunk(0x10, squeezed), _chunk(0x10, squeezed))
    assert decode_hep(data, auth_key=KEY).payload == _invite()
    assert len(inflations) == 1


def test_a_burst_without_the_auth_key_is_never_inflated(inflations: list[int]) -> None:
    # Each of these inflates to 60 KB (the old limit: 1 MiB, ~6 ms each); from anyone, a
    # burst of them used to hold the event loop while the real traffic overflowed the socket.
    events: list[t.TelephonyEvent] = []
    listener = HepListener(events.append, SipTranslator("hep"), KEY.decode())
    rng = random.Random(1234)
    burst = [
        encode_hep(
            _packet(bytes(60_000), auth_key=rng.choice([None, b"guess", b""])), compress=True
        )
        for _ in range(200)
    ]
    for data in burst:
        listener.datagram_received(data)
    assert inflations == []
    assert listener.stats.errors == {"hep:auth-key": 200}
    # The real traffic, compressed or not, still gets through.
    listener.datagram_received(encode_hep(_packet(_invite()), compress=True))
    assert len(inflations) == 1
    assert [type(e) for e in events] == [t.CallOffered]


# -- capped work per datagram -------------------------------------------------------------


def test_payload_inflating_past_64_kib_is_payload_too_large() -> None:
    bomb = zlib.compress(bytes(decode.MAX_PAYLOAD + 1), 9)
    with pytest.raises(HepError) as caught:
        decode_hep(_datagram(_chunk(0x10, bomb)))
    assert caught.value.kind == "payload-too-large"
    assert decode.MAX_PAYLOAD == 64 * 1024


def test_payload_inflating_to_exactly_64_kib_is_accepted() -> None:
    full = b"x" * (64 * 1024)
    assert decode_hep(_datagram(_chunk(0x10, zlib.compress(full, 9)))).payload == full


def test_megabyte_bomb_is_payload_too_large(inflations: list[int]) -> None:
    bomb = zlib.compress(bytes(1 << 20), 9)
    with pytest.raises(HepError) as caught:
        decode_hep(_datagram(_chunk(0x10, bomb)))
    assert caught.value.kind == "payload-too-large"
    assert len(inflations) == 1


def test_datagram_over_65535_bytes_is_too_long() -> None:
    data = encode_hep(_packet(_invite()))
    with pytest.raises(HepError) as caught:
        decode_hep(data + bytes(65_536 - len(data)))
    assert caught.value.kind == "too-long"


def test_datagram_of_many_tiny_chunks_is_too_many_chunks() -> None:
    # 10,000 empty chunks fit a datagram: a walk of each would cost milliseconds.
    head = encode_hep(_packet(_invite()))[6:]
    for chunks in (
        [head, *[_chunk(0x7777, b"")] * 10_000],
        [*[_chunk(0x7777, b"")] * 10_000, head],
        [*[_chunk(0x0E, KEY)] * 500, head],
    ):
        with pytest.raises(HepError) as caught:
            decode_hep(_datagram(*chunks))
        assert caught.value.kind == "too-many-chunks"


def test_an_agent_s_usual_chunk_count_is_accepted() -> None:
    # heplify adds vendor chunks, tags and correlation ids: a few dozen is normal.
    extra = [_chunk(0x0020, b"\x00\x01")] * 20 + [_chunk(0x0001, b"x", vendor=3)] * 10
    data = _datagram(encode_hep(_packet(_invite()))[6:], *extra)
    assert decode_hep(data).payload == _invite()


def test_listener_counts_each_refusal_by_kind() -> None:
    listener = HepListener(lambda _e: None, SipTranslator("hep"))
    listener.datagram_received(_datagram(_chunk(0x10, zlib.compress(bytes(1 << 20)))))
    listener.datagram_received(encode_hep(_packet(_invite())) + bytes(65_536))
    listener.datagram_received(_datagram(*[_chunk(0x7777, b"")] * 1000, _chunk(0x0F, _invite())))
    assert listener.stats.errors == {
        "hep:payload-too-large": 1,
        "hep:too-long": 1,
        "hep:too-many-chunks": 1,
    }


# -- capture times far from our clock -------------------------------------------------------


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _listener(
    skew: float | None = 86_400.0, clock: Callable[[], datetime] | None = None
) -> tuple[HepListener, list[t.TelephonyEvent]]:
    events: list[t.TelephonyEvent] = []
    listener = HepListener(
        events.append, SipTranslator("hep"), clock=clock or _Clock(NOW), max_clock_skew=skew
    )
    return listener, events


@pytest.mark.parametrize("ts_sec", [YEAR_2106, 1, int((NOW - timedelta(days=2)).timestamp())])
def test_capture_time_far_from_our_clock_is_replaced_by_the_receive_time(ts_sec: int) -> None:
    listener, events = _listener()
    listener.datagram_received(encode_hep(_packet(_invite(), ts_sec=ts_sec)))
    (offered,) = events
    assert offered.at == NOW
    assert listener.stats.errors == {"hep:clock-skew": 1}
    assert listener.stats.last_message_at == NOW
    (dialog,) = listener.translator.dialogs.values()
    assert dialog.last_seen == NOW.timestamp()


def test_capture_time_within_the_allowed_skew_is_kept() -> None:
    listener, events = _listener()
    captured = NOW - timedelta(hours=23)
    listener.datagram_received(encode_hep(_packet(_invite(), ts_sec=int(captured.timestamp()))))
    (offered,) = events
    assert offered.at == captured
    assert listener.stats.errors == {}


def test_a_dialog_stamped_2106_expires_like_any_other() -> None:
    # The translator forgets dialogs by their capture time: one stamped 2106 never would.
    listener, _ = _listener()
    for n in range(100):
        payload = _invite(call_id=f"future-{n}@10.0.0.9")
        listener.datagram_received(encode_hep(_packet(payload, ts_sec=YEAR_2106)))
    assert len(listener.translator.dialogs) == 100
    listener.translator.expire((NOW + timedelta(hours=5)).timestamp())
    assert listener.translator.dialogs == {}


def test_the_source_takes_the_configured_skew() -> None:
    settings = parse_settings({"sip": {"max_clock_skew_seconds": 60}})
    pbx = PbxSettings(id="hep", kind="hep", host="127.0.0.1", port=0)
    events: list[t.SourceEvent] = []
    source = build_source(pbx, settings, events.append, _Clock(NOW))
    assert isinstance(source, HepSource)
    late = int((NOW - timedelta(seconds=120)).timestamp())
    source.listener.datagram_received(encode_hep(_packet(_invite(), ts_sec=late, auth_key=None)))
    (offered,) = events
    assert isinstance(offered, t.CallOffered) and offered.at == NOW
    assert source.listener.stats.errors == {"hep:clock-skew": 1}


def test_without_a_skew_limit_the_capture_time_is_trusted() -> None:
    # The simulator and the recorded captures replay old traffic through a bare listener.
    listener, events = _listener(skew=None)
    listener.datagram_received(encode_hep(_packet(_invite(), ts_sec=1_000_000_000)))
    (offered,) = events
    assert offered.at == datetime.fromtimestamp(1_000_000_000, UTC)


# -- bounded translator memory ------------------------------------------------------------


def test_translator_keeps_at_most_max_dialogs_the_idlest_go_first() -> None:
    dropped: list[str] = []
    tr = SipTranslator("hep", max_dialogs=100, on_drop=dropped.append)
    tr.translate(parse_sip(_invite(call_id="c1@10.0.0.9")), NOW)
    for n in range(1000):
        tr.translate(parse_sip(_invite(call_id=f"flood-{n}")), NOW)
        if n % 50 == 0:
            # The real call keeps ringing: its messages keep it from being the idlest.
            tr.translate(parse_sip(_ringing(f"tag{n}")), NOW)
    assert len(tr.dialogs) == 100
    assert ("c1@10.0.0.9", "ft") in tr.dialogs
    assert ("flood-999", "ft") in tr.dialogs and ("flood-0", "ft") not in tr.dialogs
    assert dropped == ["sip:dialog-evicted"] * 901


def test_translator_keeps_at_most_max_legs_per_dialog() -> None:
    dropped: list[str] = []
    tr = SipTranslator("hep", max_legs=8, on_drop=dropped.append)
    events = tr.translate(parse_sip(_invite()), NOW)
    for n in range(5000):
        events += tr.translate(parse_sip(_ringing(f"fork{n}")), NOW)
    (dialog,) = tr.dialogs.values()
    assert len(dialog.legs) == 8
    assert sum(isinstance(e, t.LegRinging) for e in events) == 8
    assert dropped == ["sip:too-many-legs"] * (5000 - 8)


def test_listener_counts_what_its_translator_drops() -> None:
    listener = HepListener(lambda _e: None, SipTranslator("hep", max_dialogs=10))
    for n in range(15):
        listener.datagram_received(encode_hep(_packet(_invite(call_id=f"f{n}"), auth_key=None)))
    assert listener.stats.errors == {"sip:dialog-evicted": 5}


def test_simulated_calls_still_decode_with_the_auth_key(inflations: list[int]) -> None:
    rng = random.Random(7)
    events: list[t.TelephonyEvent] = []
    listener = HepListener(events.append, SipTranslator("hep"), KEY.decode())
    call = sim.new_call(rng)
    plan = sim.plan_for("answered_on_time", rng, 5.0, 3)
    for _, data in sim.datagrams(call, plan, NOW.timestamp(), auth_key=KEY):
        listener.datagram_received(data)
    assert listener.stats.errors == {}
    assert [type(e).__name__ for e in events] == [
        "CallOffered",
        "LegRinging",
        "LegAnswered",
        "CallEnded",
    ]
