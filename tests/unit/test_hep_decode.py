"""HEP3 decoding and encoding, on the recorded HEP captures and on generated datagrams."""

from __future__ import annotations

import socket
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.telephony.hep.decode import (
    MAX_PAYLOAD,
    HepError,
    HepPacket,
    decode_hep,
    encode_hep,
)
from callcenter.telephony.hep.sip import SipError, parse_sip
from tests.pcap import Datagram, corpus_dir, datagrams

HEP_DIR = corpus_dir() / "hep"


def _capture(name: str) -> list[Datagram]:
    return list(datagrams(HEP_DIR / name))


def _chunk(ctype: int, value: bytes, vendor: int = 0) -> bytes:
    return struct.pack("!HHH", vendor, ctype, 6 + len(value)) + value


def _datagram(*chunks: bytes) -> bytes:
    body = b"".join(chunks)
    return b"HEP3" + struct.pack("!H", 6 + len(body)) + body


def _split_chunks(raw: bytes) -> list[bytes]:
    """The chunks of a well-formed datagram, by their own lengths (independent of decode)."""
    chunks, pos = [], 6
    while pos < len(raw):
        length = struct.unpack_from("!H", raw, pos + 4)[0]
        chunks.append(raw[pos : pos + length])
        pos += length
    return chunks


def _sample() -> HepPacket:
    return HepPacket(
        ip_family=2,
        ip_proto=17,
        src_ip="10.0.0.1",
        dst_ip="10.0.0.2",
        src_port=5060,
        dst_port=5080,
        ts_sec=1_700_000_000,
        ts_usec=250_000,
        proto_type=1,
        capture_id=228,
        auth_key=b"myHep",
        payload=b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n",
        correlation_id=b"x",
    )


# hep.pcap: eight HEP3 messages from a test generator; fields read by hand from the hex dump
# (`tshark -r hep-wireshark__hep.pcap -T fields -e data.data`).
HEP_PCAP_TYPES = [1, 1, 1, 1, 100, 1, 1, 5]
HEP_PCAP_STARTS = [
    b"INVITE sip:nodejs@127.0.0.1 SIP/2.0\n",
    b"SIP/2.0 100 Trying\n",
    b"SIP/2.0 407 Proxy Authentication Required\n",
    b"OPTIONS sip:127.0.0.1 SIP/2.0\n",
    b"SYSLOG: ",
    b"SIP/2.0 200 Alive\n",
    b"PUBLISH sip:nodejs@127.0.0.1:5999",
    b'{"sender_information":',
]


def test_hep_pcap_first_packet_has_the_fields_in_its_hex_dump() -> None:
    packet = decode_hep(_capture("hep-wireshark__hep.pcap")[0].payload)
    assert packet == HepPacket(
        ip_family=2,
        ip_proto=17,
        src_ip="192.168.1.1",
        dst_ip="192.168.1.2",
        src_port=5060,
        dst_port=5060,
        ts_sec=0x584D365C,
        ts_usec=100,
        proto_type=1,
        capture_id=2001,
        auth_key=b"myHep",
        payload=packet.payload,
        correlation_id=b"qgf3dm9rudi@127.0.0.1",
    )
    assert packet.payload.startswith(b"INVITE sip:nodejs@127.0.0.1 SIP/2.0\nCall-ID: qgf3dm9rudi")


def test_hep_pcap_carries_sip_log_and_rtcp_types() -> None:
    captured = _capture("hep-wireshark__hep.pcap")
    packets = [decode_hep(datagram.payload) for datagram in captured]
    assert [datagram.dst_port for datagram in captured] == [9060] * 8
    assert [packet.proto_type for packet in packets] == HEP_PCAP_TYPES
    for packet, start in zip(packets, HEP_PCAP_STARTS, strict=True):
        assert packet.payload.startswith(start)
        assert packet.correlation_id == b"qgf3dm9rudi@127.0.0.1"
        assert packet.capture_id == 2001


def test_hep_pcap_capture_time_is_close_to_the_pcap_frame_time() -> None:
    for datagram in _capture("hep-wireshark__hep.pcap"):
        assert abs(decode_hep(datagram.payload).timestamp - datagram.time) < 2.0


def test_hep_pcap_sip_payloads_parse() -> None:
    for datagram in _capture("hep-wireshark__hep.pcap"):
        packet = decode_hep(datagram.payload)
        if packet.proto_type == 1:
            assert parse_sip(packet.payload).call_id == "qgf3dm9rudi@127.0.0.1"


# hep3_compressed.pcapng: 7 messages, each captured 3 times; payload in chunk 0x0010.
COMPRESSED_STARTS = [
    b"REGISTER sip:rcs.st SIP/2.0\r\n",
    b"REGISTER sip:rcs.st SIP/2.0\r\n",
    b"SIP/2.0 401 Unauthorized\r\n",
    b"SIP/2.0 401 Unauthorized\r\n",
    b"REGISTER sip:rcs.st SIP/2.0\r\n",
    b"REGISTER sip:rcs.st SIP/2.0\r\n",
    b"SIP/2.0 200 OK\r\n",
]


def test_compressed_capture_inflates_to_the_registration() -> None:
    captured = _capture("hep-wireshark__hep3_compressed.pcapng")
    assert len(captured) == 21
    packets = [decode_hep(datagram.payload) for datagram in captured]
    for datagram, packet in zip(captured, packets, strict=True):
        assert datagram.dst_port == 9060
        assert packet.capture_id == 228
        assert packet.auth_key == b"myHep"
        assert packet.ip_family == 2
        assert packet.ip_proto == 6  # the SIP inside went over TCP
        assert packet.correlation_id is None
    # Each message is there three times (broadcast + docker bridge copies), identical.
    for index, start in enumerate(COMPRESSED_STARTS):
        copies = packets[3 * index : 3 * index + 3]
        assert copies[0] == copies[1] == copies[2]
        assert copies[0].payload.startswith(start)
        assert parse_sip(copies[0].payload).cseq_method == "REGISTER"


def test_compressed_payload_equals_plain_zlib_of_the_chunk() -> None:
    raw = _capture("hep-wireshark__hep3_compressed.pcapng")[0].payload
    (chunk,) = [c for c in _split_chunks(raw) if c[2:4] == b"\x00\x10"]
    assert decode_hep(raw).payload == zlib.decompress(chunk[6:])


def test_compressed_capture_addresses_and_time() -> None:
    datagram = _capture("hep-wireshark__hep3_compressed.pcapng")[0]
    packet = decode_hep(datagram.payload)
    assert (packet.src_ip, packet.src_port) == ("192.168.137.1", 54345)
    assert (packet.dst_ip, packet.dst_port) == ("192.168.137.247", 5060)
    assert abs(packet.timestamp - datagram.time) < 2.0


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "not-hep"),
        (b"GET / HTTP/1.1\r\n\r\n", "not-hep"),
        (b"\x01\x10\x02\x11", "hep-version"),
        (b"\x02\x10\x02\x11" + bytes(20), "hep-version"),
        (b"HEP", "truncated"),
        (b"HEP3\x00", "truncated"),
        (b"HEP3\x00\x40" + bytes(10), "truncated"),
        (b"HEP3\x00\x03", "bad-length"),
        (b"HEP3\x00\x06", "no-payload"),
        (b"HEP3\x00\x09\x00\x00\x00", "bad-chunk-length"),
    ],
)
def test_malformed_headers_name_their_kind(data: bytes, kind: str) -> None:
    with pytest.raises(HepError) as caught:
        decode_hep(data)
    assert caught.value.kind == kind


def test_chunk_shorter_than_its_own_header_is_bad_chunk_length() -> None:
    data = _datagram(struct.pack("!HHH", 0, 0x0F, 4), b"ab")
    with pytest.raises(HepError, match="bad-chunk-length"):
        decode_hep(data)


def test_chunk_running_past_the_datagram_is_bad_chunk_length() -> None:
    data = _datagram(struct.pack("!HHH", 0, 0x0F, 60), b"INVITE")
    with pytest.raises(HepError) as caught:
        decode_hep(data)
    assert caught.value.kind == "bad-chunk-length"


@pytest.mark.parametrize(("ctype", "size"), [(0x01, 2), (0x03, 5), (0x05, 4), (0x07, 4)])
def test_fixed_chunk_of_the_wrong_size_is_bad_chunk_length(ctype: int, size: int) -> None:
    data = _datagram(_chunk(ctype, bytes(size)), _chunk(0x0F, b"x"))
    with pytest.raises(HepError) as caught:
        decode_hep(data)
    assert caught.value.kind == "bad-chunk-length"


def test_datagram_without_payload_chunk_is_no_payload() -> None:
    raw = encode_hep(_sample())
    without = _datagram(*[c for c in _split_chunks(raw) if c[2:4] != b"\x00\x0f"])
    with pytest.raises(HepError) as caught:
        decode_hep(without)
    assert caught.value.kind == "no-payload"


def test_garbage_in_compressed_payload_is_bad_compressed_payload() -> None:
    with pytest.raises(HepError) as caught:
        decode_hep(_datagram(_chunk(0x10, b"not zlib at all")))
    assert caught.value.kind == "bad-compressed-payload"


def test_cut_compressed_payload_is_bad_compressed_payload() -> None:
    squeezed = zlib.compress(b"INVITE " * 200)
    with pytest.raises(HepError) as caught:
        decode_hep(_datagram(_chunk(0x10, squeezed[:-10])))
    assert caught.value.kind == "bad-compressed-payload"


def test_compressed_payload_inflating_past_the_limit_is_refused() -> None:
    bomb = zlib.compress(bytes(MAX_PAYLOAD + 1), 9)
    with pytest.raises(HepError) as caught:
        decode_hep(_datagram(_chunk(0x10, bomb)))
    assert caught.value.kind == "payload-too-large"


def test_gzip_framed_compressed_payload_inflates() -> None:
    squeezer = zlib.compressobj(wbits=31)  # gzip framing
    squeezed = squeezer.compress(b"BYE sip:x SIP/2.0\r\n") + squeezer.flush()
    assert decode_hep(_datagram(_chunk(0x10, squeezed))).payload == b"BYE sip:x SIP/2.0\r\n"


def test_vendor_and_unknown_chunks_are_skipped() -> None:
    data = _datagram(
        _chunk(0x0F, b"not ours", vendor=0x0003),  # a vendor's own chunk 0x000f
        _chunk(0x0020, b"\x00\x01"),
        _chunk(0x7777, b"future"),
        _chunk(0x0F, b"ours"),
    )
    assert decode_hep(data).payload == b"ours"


def test_bytes_after_the_header_length_are_ignored() -> None:
    raw = encode_hep(_sample())
    assert decode_hep(raw + b"\x00padding") == _sample()


def test_family_is_inferred_from_the_address_chunks() -> None:
    src = socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    dst = socket.inet_pton(socket.AF_INET6, "2001:db8::2")
    packet = decode_hep(_datagram(_chunk(0x05, src), _chunk(0x06, dst), _chunk(0x0F, b"x")))
    assert (packet.ip_family, packet.src_ip, packet.dst_ip) == (10, "2001:db8::1", "2001:db8::2")


def test_timestamp_adds_microseconds() -> None:
    assert _sample().timestamp == pytest.approx(1_700_000_000.25)


def test_compressed_encoding_decodes_to_the_same_packet() -> None:
    assert decode_hep(encode_hep(_sample(), compress=True)) == _sample()


def test_encoding_a_port_out_of_range_is_bad_field() -> None:
    packet = _sample()
    packet.src_port = 70_000
    with pytest.raises(HepError) as caught:
        encode_hep(packet)
    assert caught.value.kind == "bad-field"


def test_encoding_a_payload_too_big_for_a_datagram_is_too_long() -> None:
    packet = _sample()
    packet.payload = bytes(70_000)
    with pytest.raises(HepError) as caught:
        encode_hep(packet)
    assert caught.value.kind == "too-long"


def _address(family: int) -> st.SearchStrategy[str]:
    size, af = (16, socket.AF_INET6) if family == 10 else (4, socket.AF_INET)
    return st.binary(min_size=size, max_size=size).map(lambda raw: socket.inet_ntop(af, raw))


u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
optional_bytes = st.none() | st.binary(max_size=64)

packets = st.sampled_from([2, 10]).flatmap(
    lambda family: st.builds(
        HepPacket,
        ip_family=st.just(family),
        ip_proto=st.integers(0, 255),
        src_ip=_address(family),
        dst_ip=_address(family),
        src_port=u16,
        dst_port=u16,
        ts_sec=u32,
        ts_usec=u32,
        proto_type=st.integers(0, 255),
        capture_id=u32,
        auth_key=optional_bytes,
        payload=st.binary(max_size=3000),
        correlation_id=optional_bytes,
    )
)


@given(packets, st.booleans())
def test_encode_then_decode_gives_the_packet_back(packet: HepPacket, compress: bool) -> None:
    assert decode_hep(encode_hep(packet, compress=compress)) == packet


@given(packets, st.data())
def test_chunk_order_does_not_change_the_packet(packet: HepPacket, data: st.DataObject) -> None:
    # Agents order chunks differently; the fast path and the general walk must agree.
    chunks = data.draw(st.permutations(_split_chunks(encode_hep(packet))))
    assert decode_hep(_datagram(*chunks)) == packet


@given(packets, st.booleans(), st.binary(min_size=1, max_size=32), st.data())
def test_with_an_auth_key_only_that_key_decodes(
    packet: HepPacket, compress: bool, key: bytes, data: st.DataObject
) -> None:
    # Any order of chunks: the fast path and the general walk both check the key.
    if packet.auth_key and data.draw(st.booleans()):
        key = packet.auth_key
    chunks = data.draw(st.permutations(_split_chunks(encode_hep(packet, compress=compress))))
    raw = _datagram(*chunks)
    if packet.auth_key == key:
        assert decode_hep(raw, auth_key=key) == packet
    else:
        with pytest.raises(HepError) as caught:
            decode_hep(raw, auth_key=key)
        assert caught.value.kind == "auth-key"


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_hep_error(data: bytes) -> None:
    try:
        decode_hep(data)
    except HepError:
        pass


@given(st.binary(max_size=300))
def test_random_chunks_after_a_valid_header_raise_only_hep_error(body: bytes) -> None:
    try:
        decode_hep(b"HEP3" + struct.pack("!H", 6 + len(body)) + body)
    except HepError:
        pass


def _real_datagrams() -> list[bytes]:
    raws = []
    for name in ("hep-wireshark__hep.pcap", "hep-wireshark__hep3_compressed.pcapng"):
        raws += [datagram.payload for datagram in datagrams(HEP_DIR / name)][:2]
    return raws


def test_every_truncation_of_a_real_packet_is_truncated() -> None:
    for raw in _real_datagrams():
        for cut in range(1, len(raw)):
            with pytest.raises(HepError) as caught:
                decode_hep(raw[:cut])
            assert caught.value.kind == "truncated"


def test_every_truncation_with_a_matching_length_raises_only_hep_error() -> None:
    # The header is patched to the cut length, so the chunk walk itself meets the cut.
    for raw in _real_datagrams():
        for cut in range(6, len(raw)):
            try:
                decode_hep(raw[:4] + struct.pack("!H", cut) + raw[6:cut])
            except HepError:
                pass


@settings(max_examples=300)
@given(st.data())
def test_a_flipped_byte_in_a_real_packet_raises_only_hep_or_sip_error(data: st.DataObject) -> None:
    raws = _real_datagrams()
    raw = bytearray(data.draw(st.sampled_from(raws)))
    raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        packet = decode_hep(bytes(raw))
        parse_sip(packet.payload)
    except (HepError, SipError):
        pass


def _records(pcap: bytes) -> list[tuple[int, int, bytes]]:
    """(seconds, microseconds, frame) of a little-endian microsecond pcap, read directly."""
    records, pos = [], 24
    while pos < len(pcap):
        sec, usec, caplen, _ = struct.unpack_from("<IIII", pcap, pos)
        records.append((sec, usec, pcap[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    return records


def _classic(records: list[tuple[int, int, bytes]], endian: str, link: int, nanos: bool) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)
    for sec, usec, frame in records:
        frac = usec * 1000 if nanos else usec
        out += struct.pack(endian + "IIII", sec, frac, len(frame), len(frame)) + frame
    return out


def _pcapng_simple_blocks(records: list[tuple[int, int, bytes]], endian: str) -> bytes:
    def block(btype: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        size = 12 + len(body)
        return struct.pack(endian + "II", btype, size) + body + struct.pack(endian + "I", size)

    out = block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack(endian + "HHI", 1, 0, 65535))
    for _, _, frame in records:
        out += block(3, struct.pack(endian + "I", len(frame)) + frame)
    return out


@pytest.mark.parametrize(
    ("layout", "strip"),
    [(("<", 1, True), 0), ((">", 1, False), 0), ((">", 1, True), 0), ((">", 101, False), 14)],
    ids=["le-nanoseconds", "be-microseconds", "be-nanoseconds", "be-raw-ip"],
)
def test_pcap_reader_reads_other_byte_orders_and_links(
    tmp_path: Path, layout: tuple[str, int, bool], strip: int
) -> None:
    original = HEP_DIR / "hep-wireshark__hep.pcap"
    records = [(s, u, frame[strip:]) for s, u, frame in _records(original.read_bytes())]
    endian, link, nanos = layout
    path = tmp_path / "variant.pcap"
    path.write_bytes(_classic(records, endian, link, nanos))
    assert list(datagrams(path)) == list(datagrams(original))


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcap_reader_reads_pcapng_simple_packet_blocks(tmp_path: Path, endian: str) -> None:
    original = HEP_DIR / "hep-wireshark__hep.pcap"
    path = tmp_path / "simple.pcapng"
    path.write_bytes(_pcapng_simple_blocks(_records(original.read_bytes()), endian))
    # Simple packet blocks carry no time; everything else must match.
    got = [d.payload for d in datagrams(path)]
    assert got == [d.payload for d in datagrams(original)]
    assert [decode_hep(raw).proto_type for raw in got] == HEP_PCAP_TYPES
