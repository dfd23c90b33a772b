"""AMI framing: our own transcripts and the real Asterisk sessions in tests/corpus/ami."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.telephony.ami.protocol import (
    MAX_MESSAGE,
    ActionIds,
    Message,
    Parser,
    ProtocolError,
    action,
    encode,
)
from tests.fakes.ami_server import FIXTURES, transcript
from tests.pcap import corpus_dir

BANNER = b"Asterisk Call Manager/5.0.1\r\n"
AMI_CORPUS = corpus_dir() / "ami"
OUR_TRANSCRIPTS = sorted(p.name for p in FIXTURES.glob("*.txt"))
# Named, not globbed: a transcript missing from tests/corpus fails its test instead of
# leaving the parametrization shorter (or empty, which would skip).
REAL_SESSIONS = [
    "agent_loggued_in.yaml",
    "agent_not_in_pause.yaml",
    "asyncagi_channel_does_not_exist.yaml",
    "asyncagi_get_var.yaml",
    "command_core_show_version.yaml",
    "login_failed.yaml",
    "login_md5.yaml",
    "login_ok.yaml",
    "logoff.yaml",
    "originate_sync.yaml",
    "originate_with_events.yaml",
    "ping.yaml",
    "pjsip_show_endpoint.yaml",
    "queue_add.yaml",
    "queue_status.yaml",
    "rasterisk_command.yaml",
    "sip_notify.yaml",
]


def parse_all(data: bytes, *, banner: bool = False, strict: bool = True) -> list[Message]:
    return Parser(expect_banner=banner, strict=strict).feed(data)


def parse_pieces(pieces: list[bytes], *, banner: bool = False) -> list[Message]:
    parser = Parser(expect_banner=banner)
    out: list[Message] = []
    for piece in pieces:
        out += parser.feed(piece)
    return out


def real_session(name: str) -> bytes:
    """A corpus transcript as it was on the wire: CRLF, and a blank line after the last
    message (some files stop right after it)."""
    raw = (AMI_CORPUS / "panoramisk" / name).read_bytes().rstrip(b"\n")
    return raw.replace(b"\n", b"\r\n") + b"\r\n\r\n"


# -- framing ---------------------------------------------------------------------------------
def test_banner_is_read_before_the_first_message() -> None:
    parser = Parser()
    assert parser.feed(BANNER[:10]) == []
    got = parser.feed(BANNER[10:] + b"Response: Success\r\nPing: Pong\r\n\r\n")
    assert parser.banner == "Asterisk Call Manager/5.0.1"
    assert [m.get("Ping") for m in got] == ["Pong"]


def test_a_server_that_is_not_ami_is_refused_at_the_banner() -> None:
    with pytest.raises(ProtocolError, match="not an AMI server"):
        Parser().feed(b"SSH-2.0-OpenSSH_9.6\r\n")


def test_a_banner_line_that_never_ends_is_refused() -> None:
    with pytest.raises(ProtocolError, match="no AMI banner"):
        Parser().feed(b"A" * 2000)


def test_bare_lf_and_crlf_frame_alike() -> None:
    crlf = b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\nEvent: Hangup\r\nUniqueid: 1.2\r\n\r\n"
    assert parse_all(crlf) == parse_all(crlf.replace(b"\r\n", b"\n"))
    mixed = b"Event: Hangup\nUniqueid: 1.1\r\n\nEvent: Hangup\r\nUniqueid: 1.2\n\r\n"
    assert [m["Uniqueid"] for m in parse_all(mixed)] == ["1.1", "1.2"]


def test_a_crlf_split_between_two_reads_is_one_line_ending() -> None:
    got = parse_pieces([b"Event: Hangup\r", b"\nUniqueid: 1.1\r\n\r", b"\n"])
    assert [(m.event, m["Uniqueid"]) for m in got] == [("Hangup", "1.1")]


def test_extra_blank_lines_between_messages_are_skipped() -> None:
    got = parse_all(b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n")
    assert [m.event for m in got] == ["A", "B"]


def test_keys_are_case_insensitive_and_repeated_keys_kept_in_order() -> None:
    (m,) = parse_all(b"event: Newstate\r\nUNIQUEID: 1.5\r\nVariable: a=1\r\nVariable: b=2\r\n\r\n")
    assert m.event == "Newstate" and m.get("Uniqueid") == m["uniqueid"] == "1.5"
    assert m.get_all("variable") == ["a=1", "b=2"] and m.get("Variable") == "a=1"
    assert "UniqueID" in m and m.get("Missing") is None and m.get("Missing", "") == ""


def test_a_utf8_character_split_across_reads_survives() -> None:
    data = b"Event: Newchannel\r\nCallerIDName: \xe5\xbc\xa0\xe4\xbc\x9f\r\n\r\n"  # 张伟
    inside = data.index(b"\xbc\xa0")  # between the first and second byte of 张
    (m,) = parse_pieces([data[:inside], data[inside:]])
    assert m["CallerIDName"] == "张伟"


def test_every_single_cut_of_a_message_gives_the_same_message() -> None:
    data = transcript("caller_abandons.txt")
    first = data[: data.index(b"\r\n\r\n") + 4] * 2  # two Newchannel events, with 李娜
    whole = parse_all(first)
    for cut in range(len(first) + 1):
        assert parse_pieces([first[:cut], first[cut:]]) == whole, cut


@pytest.mark.parametrize("name", OUR_TRANSCRIPTS)
def test_our_transcripts_fed_byte_by_byte_give_the_same_messages(name: str) -> None:
    data = BANNER + transcript(name)
    whole = parse_all(data, banner=True)
    assert whole and all(m.event or m.response for m in whole)
    assert parse_pieces([data[i : i + 1] for i in range(len(data))], banner=True) == whole


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(OUR_TRANSCRIPTS),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=40),
)
def test_any_cuts_of_a_transcript_give_the_same_messages(name: str, cuts: list[int]) -> None:
    data = BANNER + transcript(name)
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert parse_pieces(pieces, banner=True) == parse_all(data, banner=True)


def test_command_output_before_asterisk_14_keeps_blank_lines_until_end_command() -> None:
    data = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 7\r\n"
        b"line one\r\n\r\nline: three\r\n--END COMMAND--\r\n\r\nEvent: Next\r\n\r\n"
    )
    follows, nxt = parse_all(data)
    assert follows.response == "Follows" and follows.action_id == "7"
    assert follows.command_output == ["line one", "", "line: three"]
    assert nxt.event == "Next"
    cut = data.index(b"--END") + 3
    assert parse_pieces([data[:cut], data[cut:]]) == [follows, nxt]


def test_command_output_from_asterisk_14_is_output_fields() -> None:
    (m,) = parse_all(
        b"Response: Success\r\nMessage: Command output follows\r\n"
        b"Output: Name/username   Host\r\nOutput: 2001/2001 10.0.0.5\r\n\r\n"
    )
    assert m.command_output == ["Name/username   Host", "2001/2001 10.0.0.5"]


def test_a_message_that_never_ends_is_refused() -> None:
    parser = Parser(expect_banner=False)
    parser.feed(b"Event: Flood\r\n")
    with pytest.raises(ProtocolError, match="no end of message"):
        for _ in range(MAX_MESSAGE // 1000 + 2):
            parser.feed(b"Value: " + b"x" * 1000 + b"\r\n")


def test_binary_junk_is_malformed() -> None:
    junk = bytes(range(256)) * 4 + b"\r\n\r\n"
    with pytest.raises(ProtocolError, match="malformed"):
        parse_all(junk)
    tolerant = Parser(expect_banner=False, strict=False)
    assert tolerant.feed(junk) == [] and tolerant.malformed == 1


def test_actions_carry_their_action_id_and_refuse_line_breaks() -> None:
    assert action("Ping", "ab-1") == b"Action: Ping\r\nActionID: ab-1\r\n\r\n"
    built = action("Redirect", "ab-2", [("Channel", "PJSIP/trunk-1"), ("Exten", "8000")])
    (m,) = parse_all(built)
    assert (m.action, m.action_id, m["Exten"]) == ("Redirect", "ab-2", "8000")
    with pytest.raises(ValueError):
        action("Redirect", "ab-3", {"Exten": "8000\r\nAction: Hangup"})
    with pytest.raises(ValueError):
        encode([("Bad: key", "x")])
    ids = ActionIds("c0ffee")
    assert [ids.next(), ids.next()] == ["c0ffee-1", "c0ffee-2"]


def test_a_login_message_never_shows_its_secret() -> None:
    (m,) = parse_all(action("Login", "1", [("Username", "hotline"), ("Secret", "hunter2")]))
    (md5,) = parse_all(action("Login", "2", [("AuthType", "MD5"), ("Key", "0123abcd")]))
    assert "hunter2" not in repr(m) and "0123abcd" not in repr(md5) and "hotline" in repr(m)


# -- the real Asterisk 11 sessions (pre-12 event model) ---------------------------------------
@pytest.mark.parametrize("name", REAL_SESSIONS)
def test_real_sessions_frame_whole_and_byte_by_byte_alike(name: str) -> None:
    data = real_session(name)
    banner = data.startswith(b"Asterisk Call Manager")
    whole = Parser(expect_banner=banner, strict=False)
    messages = whole.feed(data)
    assert messages and whole.pending == 0
    # Every frame is one action, response or event; only the two gaps the capture tool marks
    # ("[N bytes missing in capture file]") in agent_loggued_in.yaml are not.
    assert whole.malformed == (2 if name == "agent_loggued_in.yaml" else 0)
    assert all(m.action or m.response or m.event for m in messages)
    bytewise = Parser(expect_banner=banner, strict=False)
    pieces: list[Message] = []
    for i in range(len(data)):
        pieces += bytewise.feed(data[i : i + 1])
    assert pieces == messages


def test_real_originate_session_has_every_event_of_the_call() -> None:
    messages = parse_all(real_session("originate_with_events.yaml"))
    events = [m for m in messages if m.event]
    assert len(events) == 748
    names = [m.event for m in events]
    assert names.count("Newchannel") == 4 and names.count("Hangup") == 4
    assert names.count("Dial") == 4 and names.count("Bridge") == 6
    hangups = [m for m in events if m.event == "Hangup"]
    assert {(m["Cause"], m["Cause-txt"]) for m in hangups} == {("16", "Normal Clearing")}
    assert [m["SubEvent"] for m in events if m.event == "Dial"] == ["Begin", "End"] * 2
    first = events[0]
    assert (
        first["Channel"] == "Local/259@default-00000000;1" and first["Uniqueid"] == "1414510600.0"
    )
    assert first["CallerIDNum"] == ""  # an empty value ("CallerIDNum: ") stays a field


def test_real_queue_status_and_command_responses() -> None:
    messages = parse_all(real_session("queue_status.yaml"))
    names = [m.event or m.response for m in messages]
    assert names[:9] == ["Success", "QueueParams"] + ["QueueMember"] * 6 + ["QueueStatusComplete"]
    members = [m for m in messages if m.event == "QueueMember"]
    assert [m["Name"] for m in members][:2] == ["Agent/220", "Agent/213"]
    assert {m["ActionID"] for m in messages[:9]} == {"action/transaction_uid/1/1"}
    assert [m["Status"] for m in members] == ["1"] * 5 + ["5"]
    (version,) = [
        m for m in parse_all(real_session("command_core_show_version.yaml")) if m.response
    ]
    assert version.command_output[0].startswith("Asterisk 11.11.0+xivo.14.15")
    (channels,) = [m for m in parse_all(real_session("rasterisk_command.yaml")) if m.response]
    assert channels.command_output[-3:] == [
        "0 active channels",
        "0 active calls",
        "2 calls processed",
    ]


def test_real_login_answers() -> None:
    ok = parse_all(real_session("login_ok.yaml"), banner=True)
    assert [m.action or m.response or m.event for m in ok] == ["login", "Success", "FullyBooted"]
    assert ok[1]["Message"] == "Authentication accepted"
    failed = parse_all(real_session("login_failed.yaml"), banner=True)
    assert (failed[1].response, failed[1]["Message"]) == ("Error", "Authentication failed")
    md5 = Parser()
    challenge = md5.feed(real_session("login_md5.yaml"))
    assert md5.banner == "Asterisk Call Manager/7.0.3"
    assert challenge[1]["Challenge"] == "145769581"
    (pong,) = parse_all(real_session("ping.yaml"))
    assert (pong["Ping"], pong["Timestamp"]) == ("Pong", "1409169929.412068")
    bye = parse_all(real_session("logoff.yaml"))
    assert bye[1].response == "Goodbye"


def issue_excerpts() -> tuple[list[Message], Parser]:
    """The AMI blocks users pasted into GitHub issues (LF, `#` lines are the file's notes)."""
    text = (AMI_CORPUS / "github_issue_excerpts.txt").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    parser = Parser(expect_banner=False, strict=False)
    return parser.feed(body.encode() + b"\n\n"), parser


def test_real_issue_excerpts_parse_and_the_truncated_one_is_flagged() -> None:
    messages, parser = issue_excerpts()
    called, connect = messages
    # PAMI #104, pre-Asterisk-12 AgentCalled: no Dest* snapshot, DestinationChannel instead.
    assert called.event == "AgentCalled" and called["DestinationChannel"] == "SIP/203-0000bf40"
    assert "DestUniqueid" not in called
    # PAMI #19, Asterisk 1.6/1.8: lower-case keys as pasted; lookups ignore case.
    assert connect.event == "AgentConnect" and connect["Queue"] == "5001"
    assert connect["BridgedChannel"] == "1301942099.1324732" and connect["RingTime"] == "3"
    # asterisk#393 (Asterisk 16.30 / 20.5) is cut after "HoldTime": not a whole message.
    assert parser.malformed == 1 and parser.last_malformed is not None
    assert parser.last_malformed.startswith("Event: AgentComplete")
