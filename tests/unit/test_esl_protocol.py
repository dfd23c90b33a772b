"""ESL framing on our own streams split at every byte, and on the REAL FreeSWITCH events in
tests/corpus/esl (a CHANNEL_EXECUTE_COMPLETE that arrived in 7 TCP reads, URL-encoded
plain events, Content-Length bodies, a disconnect notice, a CHANNEL_HANGUP_COMPLETE)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from callcenter.telephony.esl.protocol import (
    API_RESPONSE,
    AUTH_REQUEST,
    COMMAND_REPLY,
    DISCONNECT_NOTICE,
    EVENT_JSON,
    EVENT_PLAIN,
    EslEventError,
    EslParser,
    EslProtocolError,
    Frame,
    encode_command,
    event_headers,
    parse_json,
    parse_plain,
)
from tests.fakes.esl_server import (
    AUTH_REQUEST as AUTH_BYTES,
)
from tests.fakes.esl_server import (
    api_response,
    command_reply,
    disconnect_notice,
    json_event,
    plain_event,
)
from tests.pcap import corpus_dir

ESL_CORPUS = corpus_dir() / "esl"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl"
NAME = "王小明"  # 3 bytes a character in UTF-8: reads split inside them


def sections(path: Path, marker: str) -> dict[str, bytes]:
    """The corpus extraction files: `##### <marker>: name` lines between verbatim payloads
    (the extractor put one newline before each marker line)."""
    parts = re.split(rb"\n?##### " + marker.encode() + rb": ([^\n]+)\n", path.read_bytes())
    return {k.decode(): v for k, v in zip(parts[1::2], parts[2::2], strict=True)}


def frames_of(data: bytes, cuts: list[int]) -> list[Frame]:
    parser = EslParser()
    out: list[Frame] = []
    start = 0
    for cut in [*cuts, len(data)]:
        out += parser.feed(data[start:cut])
        start = cut
    return out


def caller_event() -> dict[str, str]:
    doc = json.loads((FIXTURES / "queue_call_answered.json").read_text(encoding="utf-8"))
    event: dict[str, str] = doc["events"][0]
    assert event["Caller-Caller-ID-Name"] == NAME
    return event


def our_stream() -> bytes:
    event = caller_event()
    return b"".join(
        [
            AUTH_BYTES,
            command_reply("+OK accepted"),
            command_reply("+OK event listener enabled json"),
            api_response(
                json.dumps({"row_count": 1, "rows": [{"cid_name": NAME}]}, ensure_ascii=False)
            ),
            json_event(event),
            plain_event({**event, "_body": f"来电 {NAME}\n"}),
            command_reply("+OK Job-UUID: 7f4d", Job_UUID="7f4d"),
            disconnect_notice(),
        ]
    )


def test_a_stream_gives_its_frames_in_order() -> None:
    frames = frames_of(our_stream(), [])
    assert [f.content_type for f in frames] == [
        AUTH_REQUEST, COMMAND_REPLY, COMMAND_REPLY, API_RESPONSE,
        EVENT_JSON, EVENT_PLAIN, COMMAND_REPLY, DISCONNECT_NOTICE,
    ]  # fmt: skip
    assert frames[1].headers["Reply-Text"] == "+OK accepted"
    assert frames[6].headers["Job-UUID"] == "7f4d"
    assert json.loads(frames[3].text)["rows"][0]["cid_name"] == NAME
    assert event_headers(frames[4])["Caller-Caller-ID-Name"] == NAME
    plain = event_headers(frames[5])
    assert plain["Caller-Caller-ID-Name"] == NAME
    assert plain["_body"] == f"来电 {NAME}\n"
    assert frames[7].text.startswith("Disconnected, goodbye.")


def test_every_split_position_gives_the_same_frames() -> None:
    data = our_stream()
    whole = frames_of(data, [])
    for cut in range(1, len(data)):
        assert frames_of(data, [cut]) == whole, f"split at byte {cut}"


def test_reads_of_random_sizes_give_the_same_frames() -> None:
    data = our_stream()
    whole = frames_of(data, [])
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(2, 40)))
        assert frames_of(data, cuts) == whole


def test_a_split_inside_a_chinese_character_changes_nothing() -> None:
    frame = json_event(caller_event())
    at = frame.index(NAME.encode()) + 1  # inside 王
    (split,) = frames_of(frame, [at])
    assert event_headers(split)["Caller-Caller-ID-Name"] == NAME


def test_a_split_inside_content_length_changes_nothing() -> None:
    frame = json_event(caller_event())
    digits = frame.index(b"Content-Length: ") + len(b"Content-Length: ") + 2
    for cut in (digits - 3, digits, digits + 1):
        (split,) = frames_of(frame + command_reply("+OK"), [cut])[:1]
        assert event_headers(split)["Unique-ID"] == caller_event()["Unique-ID"]


def test_content_length_counts_bytes_not_characters() -> None:
    body = f"{NAME}\n".encode()
    assert len(body) == 10 and len(f"{NAME}\n") == 4
    data = api_response(f"{NAME}\n") + command_reply("+OK")
    first, second = frames_of(data, [])
    assert first.text == f"{NAME}\n"
    assert second.headers["Reply-Text"] == "+OK"


def test_a_header_block_without_content_length_has_no_body() -> None:
    (frame,) = frames_of(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n", [])
    assert frame.body == b"" and frame.headers["Reply-Text"] == "-ERR invalid"


def test_blank_lines_between_frames_are_skipped() -> None:
    data = b"\n\n" + command_reply("+OK") + b"\n\n\n" + AUTH_BYTES
    assert [f.content_type for f in frames_of(data, [3])] == [COMMAND_REPLY, AUTH_REQUEST]


def test_a_bad_content_length_is_a_protocol_error() -> None:
    with pytest.raises(EslProtocolError, match="Content-Length"):
        EslParser().feed(b"Content-Type: api/response\nContent-Length: 12x\n\nhello")


def test_a_frame_over_the_cap_is_refused_before_it_is_read() -> None:
    with pytest.raises(EslProtocolError, match="exceeds"):
        EslParser(max_frame=1024).feed(b"Content-Length: 2048\nContent-Type: text/event-json\n\n")


def test_an_endless_header_block_is_refused() -> None:
    parser = EslParser(max_frame=1024)
    parser.feed(b"X-Garbage: " + b"a" * 1000)
    with pytest.raises(EslProtocolError, match="header block"):
        parser.feed(b"b" * 100)


def test_garbage_without_headers_still_frames() -> None:
    frames = frames_of(b"hello world\n\n" + command_reply("+OK"), [])
    assert frames[0].headers == {} and frames[1].headers["Reply-Text"] == "+OK"


def test_bad_event_json_is_an_event_error_not_a_stream_error() -> None:
    with pytest.raises(EslEventError):
        parse_json(b'{"Event-Name": "CHANNEL_CREATE"')
    with pytest.raises(EslEventError):
        parse_json(b'["not", "an", "object"]')
    with pytest.raises(EslEventError):
        parse_json(b"\xff\xfe")


def test_event_json_array_headers_read_as_plain_would_show_them() -> None:
    h = parse_json(b'{"Event-Name":"CUSTOM","variable_list":["a","b"],"n":3}')
    assert h == {"Event-Name": "CUSTOM", "variable_list": "ARRAY::a|:b", "n": "3"}


def test_a_command_is_its_line_its_headers_and_a_blank_line() -> None:
    assert encode_command("auth ClueCon") == b"auth ClueCon\n\n"
    assert encode_command("bgapi status", {"Job-UUID": "x1"}) == b"bgapi status\nJob-UUID: x1\n\n"


# -- the real events -------------------------------------------------------------------------
def davec82() -> dict[str, bytes]:
    return sections(ESL_CORPUS / "davec82-outboundsocket__fs_events_extracted.txt", "section")


def test_real_event_split_over_seven_tcp_reads() -> None:
    parts = [davec82()[f"command_reply_and_event_part{i}"] for i in range(1, 8)]
    parser = EslParser()
    frames = [f for part in parts for f in parser.feed(part)]
    assert [f.content_type for f in frames] == [COMMAND_REPLY, EVENT_PLAIN]
    assert frames[0].headers["Reply-Text"] == "+OK"
    assert len(frames[1].body) == 9366 == int(frames[1].headers["Content-Length"])
    h = event_headers(frames[1])
    assert h["Event-Name"] == "CHANNEL_EXECUTE_COMPLETE"
    assert h["Unique-ID"] == "102037b6-e2a6-11e8-b44d-4b084ebbf04f"
    assert h["Event-Date-Timestamp"] == "1541606351045444"
    # URL-encoded values come out decoded.
    assert h["FreeSWITCH-IPv6"] == "::1"
    assert h["Channel-Name"] == "sofia/external/nobody@192.168.1.235:5060"
    assert h["variable_switch_r_sdp"].startswith("v=0\r\no=huawei 871432192 1 IN IP4")
    assert h["Application-UUID"] == "10e170a2-e2a6-11e8-b455-4b084ebbf04f"
    assert parser.buffered == 0


def test_real_seven_read_stream_split_anywhere_gives_the_same_frames() -> None:
    data = b"".join(davec82()[f"command_reply_and_event_part{i}"] for i in range(1, 8))
    whole = frames_of(data, [])
    for cut in range(1, len(data), 7):
        assert frames_of(data, [cut]) == whole


def test_real_frames_with_bodies_and_notices() -> None:
    s = davec82()
    data = b"".join(
        [
            s["channel_state_header"], s["channel_state"], s["command_reply"],
            s["api_response"], s["background_job_with_body"],
            s["speech_detection_with_body_part1"], s["speech_detection_with_body_part2"],
            s["speech_detection_with_body_part3"], s["event_with_utf8_body"],
            s["disconnect_header"], s["disconnect"],
        ]
    )  # fmt: skip
    frames = frames_of(data, [])
    assert [f.content_type for f in frames] == [
        EVENT_PLAIN, COMMAND_REPLY, API_RESPONSE, EVENT_PLAIN, EVENT_PLAIN, EVENT_PLAIN,
        DISCONNECT_NOTICE,
    ]  # fmt: skip
    state, reply, api, job, speech, utf8, notice = frames
    assert event_headers(state)["Event-Name"] == "CHANNEL_STATE"
    assert event_headers(state)["Event-Date-timestamp"] == "1197865998931097"
    assert reply.headers["Job-UUID"] == "e3054f48-151e-11dc-842a-d3a3942d3d63"
    assert len(api.body) == 6872 and api.text.startswith("Event-Name: CHANNEL_DATA")
    assert event_headers(job)["_body"] == "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621\n"
    speech_h = event_headers(speech)
    assert speech_h["Event-Name"] == "DETECTED_SPEECH"
    assert speech_h["_body"].startswith('<result grammar="<request1@form-level.store>#nombres">')
    assert event_headers(utf8)["_body"] == "\u0800\u0800\u0800"
    assert notice.text == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    for cut in range(1, len(data), 11):
        assert frames_of(data, [cut]) == frames


def test_real_outbound_connect_reply_is_a_header_only_frame() -> None:
    (frame,) = frames_of(davec82()["channel_data"], [])
    assert frame.content_type == COMMAND_REPLY
    assert frame.headers["Reply-Text"] == "%2BOK%0A"  # envelope headers stay as sent
    assert frame.headers["Channel-Unique-ID"] == "4192e98c-e569-11e7-b747-73bec77e82ec"


def test_real_hangup_complete_body_decodes() -> None:
    body = (ESL_CORPUS / "cgrates__CHANNEL_HANGUP_COMPLETE_2015.txt").read_bytes()
    h = parse_plain(body)
    assert h["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"
    assert h["Hangup-Cause"] == "NORMAL_CLEARING"
    assert h["Channel-Name"] == "sofia/cgrtest/1001@127.0.0.1"
    assert h["Caller-Callee-ID-Name"] == "Outbound Call"
    assert h["variable_sip_hangup_disposition"] == "recv_bye"
    assert h["Other-Leg-Unique-ID"] == "0a30dd7c-c222-482f-a322-b1218a15f8cd"
    framed = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)
    (frame,) = frames_of(framed + command_reply("+OK"), [len(framed) // 2])[:1]
    assert event_headers(frame) == h


def test_real_genesis_payloads_decode() -> None:
    s = sections(ESL_CORPUS / "genesis__payloads_extracted.txt", "payload")
    create = parse_plain(s["channel_create"])
    assert create["Event-Name"] == "CHANNEL_CREATE"
    assert create["Call-Direction"] == "inbound"
    assert create["Caller-Caller-ID-Name"] == "edev - 100"
    (job,) = frames_of(s["background_job"], [100])
    assert event_headers(job)["Job-Command-Arg"] == "sofia/default/1005 '&park'"
    # This copy says `Content-Length: 40` inside: the body is read to exactly that length.
    assert event_headers(job)["_body"] == "+OK 7f4de4bc-17d7-11dd-b7a0-db4edd065621"
