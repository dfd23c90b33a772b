"""AMI events → normalized telephony events: each transcript gives each event once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter import signals as t
from callcenter.telephony.ami import translate as tr
from callcenter.telephony.ami.protocol import Message
from callcenter.telephony.ami.translate import AmiTranslator, extension_of
from tests.fakes.ami_server import messages, transcript
from tests.pcap import corpus_dir

T0 = datetime.fromtimestamp(1763859600, UTC)  # the fixtures' clock
READ_AT = datetime(2030, 1, 1, tzinfo=UTC)  # when "now" is used instead of Timestamp:


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(*names: str, translator: AmiTranslator | None = None) -> list[t.SourceEvent]:
    translator = translator or AmiTranslator("pbx1")
    out: list[t.SourceEvent] = []
    for name in names:
        for m in messages(transcript(name)):
            out += translator.translate(m, READ_AT)
    return out


def ev(*lines: str) -> Message:
    fields = [tuple(x.strip() for x in line.split(":", 1)) for line in lines]
    return Message([(k, v) for k, v in fields])


def chan(event: str, channel: str, uid: str, lid: str, *more: str) -> Message:
    return ev(
        f"Event: {event}", f"Channel: {channel}", f"Uniqueid: {uid}", f"Linkedid: {lid}", *more
    )


def dest(event: str, caller_uid: str, channel: str, uid: str, *more: str) -> Message:
    return ev(
        f"Event: {event}",
        f"Uniqueid: {caller_uid}",
        f"Linkedid: {caller_uid}",
        f"DestChannel: {channel}",
        f"DestUniqueid: {uid}",
        f"DestLinkedid: {caller_uid}",
        *more,
    )


def feed(translator: AmiTranslator, *events: Message) -> list[t.SourceEvent]:
    out: list[t.SourceEvent] = []
    for m in events:
        out += translator.translate(m, READ_AT)
    return out


S = "pbx1"
A = "1763859600.101"  # queue_answered
B = "1763859600.111"  # caller_abandons
C = "1763859600.121"  # ring_no_answer_next_agent
D = "1763859600.131"  # agent_hangs_up_first
E = "1763859600.141"  # queue_timeout

EXPECTED: dict[str, list[t.SourceEvent]] = {
    "queue_answered.txt": [
        t.CallOffered(S, A, "", at(0), "13800138001", "96000"),
        t.LegRinging(S, A, "", "1763859600.102", "2001", at(0.061), "repair"),
        t.LegAnswered(S, A, "", "1763859600.102", "2001", at(7.25)),
        t.CallEnded(S, A, "", at(95.002), "caller"),
    ],
    "caller_abandons.txt": [
        t.CallOffered(S, B, "", at(0), "13900139002", "96000"),
        t.LegRinging(S, B, "", "1763859600.112", "2001", at(0.061), "repair"),
        t.CallAbandoned(S, B, "", at(6.51)),
    ],
    "ring_no_answer_next_agent.txt": [
        t.CallOffered(S, C, "", at(0), "13700137003", "96000"),
        t.LegRinging(S, C, "", "1763859600.122", "2001", at(0.061), "repair"),
        t.LegUnanswered(S, C, "", "1763859600.122", "2001", at(15.061), "no answer after 15 s"),
        t.LegRinging(S, C, "", "1763859600.123", "2002", at(20.101), "repair"),
        t.LegAnswered(S, C, "", "1763859600.123", "2002", at(23.4)),
        t.CallEnded(S, C, "", at(80.002), "caller"),
    ],
    "agent_hangs_up_first.txt": [
        t.CallOffered(S, D, "", at(0), "13600136004", "96000"),
        t.LegRinging(S, D, "", "1763859600.132", "2002", at(0.061), "repair"),
        t.LegAnswered(S, D, "", "1763859600.132", "2002", at(4.3)),
        t.CallEnded(S, D, "", at(60.002), "agent"),
    ],
    "queue_timeout.txt": [
        t.CallOffered(S, E, "", at(0), "13500135005", "96000"),
        t.LegRinging(S, E, "", "1763859600.142", "2001", at(0.061), "repair"),
        t.LegUnanswered(S, E, "", "1763859600.142", "2001", at(15.061), "no answer after 15 s"),
        t.CallUnanswered(S, E, "", at(20.07), "queue timeout"),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_transcript_gives_its_events_once(name: str) -> None:
    assert run(name) == EXPECTED[name]


def test_all_transcripts_interleaved_on_one_connection_keep_calls_apart() -> None:
    translator = AmiTranslator(S)
    streams = [messages(transcript(name)) for name in sorted(EXPECTED)]
    out: list[t.SourceEvent] = []
    for i in range(max(len(s) for s in streams)):
        for stream in streams:
            if i < len(stream):
                out += translator.translate(stream[i], READ_AT)
    for name, expected in EXPECTED.items():
        call_id = expected[0].call_id  # type: ignore[union-attr]
        assert [e for e in out if getattr(e, "call_id", None) == call_id] == expected, name
    assert translator.calls == {} and translator._channels == {}  # nothing left behind


def test_without_timestamps_events_are_stamped_when_read() -> None:
    translator = AmiTranslator(S)
    out = []
    for m in messages(transcript("queue_answered.txt", timestamps=False)):
        out += translator.translate(m, READ_AT)
    assert [e.at for e in out] == [READ_AT] * 4


def test_a_bad_timestamp_falls_back_to_the_read_time() -> None:
    translator = AmiTranslator(S)
    (offered,) = feed(translator, chan("Newchannel", "PJSIP/t-1", "9.1", "9.1", "Timestamp: x"))
    assert offered.at == READ_AT


# -- QueueCallerAbandon: an abandon or the queue letting go (see translate.py) ----------------
def ringing_call(translator: AmiTranslator, uid: str = "9.1") -> None:
    feed(
        translator,
        chan("Newchannel", "PJSIP/trunk-1", uid, uid, "CallerIDNum: 13800000000", "Exten: 96000"),
        chan("QueueCallerJoin", "PJSIP/trunk-1", uid, uid, "Queue: repair"),
        dest(
            "AgentCalled",
            uid,
            "PJSIP/2001-00000001",
            f"{uid}0",
            "Queue: repair",
            "Interface: PJSIP/2001",
        ),
    )


def test_queue_caller_abandon_after_the_callers_hangup_request_is_an_abandon() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator)
    out = feed(
        translator,
        chan("HangupRequest", "PJSIP/trunk-1", "9.1", "9.1", "Cause: 16"),
        dest("DialEnd", "9.1", "PJSIP/2001-00000001", "9.10", "DialStatus: CANCEL"),
        chan("Hangup", "PJSIP/2001-00000001", "9.10", "9.1", "Cause: 0"),
        chan("QueueCallerAbandon", "PJSIP/trunk-1", "9.1", "9.1", "Queue: repair"),
        chan("Hangup", "PJSIP/trunk-1", "9.1", "9.1", "Cause: 16"),
    )
    assert out == [t.CallAbandoned(S, "9.1", "", READ_AT)]  # no LegUnanswered: no blame


def test_queue_caller_abandon_without_hangup_request_is_the_queue_timing_out() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator)
    gone = feed(
        translator,
        dest("AgentRingNoAnswer", "9.1", "PJSIP/2001-00000001", "9.10", "RingTime: 20000"),
        ev("Event: QueueCallerAbandon", "Uniqueid: 9.1", "Timestamp: 1763859620.5"),
        chan("HangupRequest", "PJSIP/trunk-1", "9.1", "9.1"),  # during the "call again" message
        chan("Hangup", "PJSIP/trunk-1", "9.1", "9.1", "Cause: 16"),
    )
    assert gone == [
        t.LegUnanswered(S, "9.1", "", "9.10", "2001", READ_AT, "no answer after 20 s"),
        t.CallUnanswered(S, "9.1", "", at(20.5), "queue timeout"),
    ]


def test_a_call_that_rings_again_after_leaving_the_queue_did_not_time_out() -> None:
    # A Redirect out of the queue (our ring-limit overflow, say) to another agent.
    translator = AmiTranslator(S)
    ringing_call(translator)
    out = feed(
        translator,
        dest("DialEnd", "9.1", "PJSIP/2001-00000001", "9.10", "DialStatus: CANCEL"),
        chan("QueueCallerAbandon", "PJSIP/trunk-1", "9.1", "9.1"),
        chan("Hangup", "PJSIP/2001-00000001", "9.10", "9.1", "Cause: 16"),
        dest("DialBegin", "9.1", "PJSIP/8000-00000002", "9.11", "DialString: 8000"),
        chan("Newstate", "PJSIP/8000-00000002", "9.11", "9.1", "ChannelState: 6"),
        chan("HangupRequest", "PJSIP/trunk-1", "9.1", "9.1"),
        chan("Hangup", "PJSIP/trunk-1", "9.1", "9.1"),
    )
    assert out == [
        t.LegUnanswered(S, "9.1", "", "9.10", "2001", READ_AT, "cancelled"),
        t.LegRinging(S, "9.1", "", "9.11", "8000", READ_AT, None),
        t.LegAnswered(S, "9.1", "", "9.11", "8000", READ_AT),
        t.CallEnded(S, "9.1", "", READ_AT, "caller"),
    ]


# -- legs --------------------------------------------------------------------------------------
def test_an_agent_phone_that_hangs_up_while_ringing_is_unanswered() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator)
    out = feed(
        translator,
        chan(
            "Hangup", "PJSIP/2001-00000001", "9.10", "9.1", "Cause: 21", "Cause-txt: Call Rejected"
        ),
    )
    assert out == [t.LegUnanswered(S, "9.1", "", "9.10", "2001", READ_AT, "Call Rejected")]


def test_ringing_then_answer_are_told_once_whatever_repeats_them() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator)
    leg = ("PJSIP/2001-00000001", "9.10")
    out = feed(
        translator,
        dest("DialBegin", "9.1", *leg, "DialString: PJSIP/2001"),
        chan("Newstate", leg[0], leg[1], "9.1", "ChannelState: 5"),
        dest("DialState", "9.1", *leg, "DialStatus: RINGING"),
        chan("Newstate", leg[0], leg[1], "9.1", "ChannelState: 6"),
        dest("DialEnd", "9.1", *leg, "DialStatus: ANSWER"),
        dest("AgentConnect", "9.1", *leg, "RingTime: 3"),
        chan("Newstate", "PJSIP/trunk-1", "9.1", "9.1", "ChannelState: 6"),  # the caller's
    )
    assert out == [t.LegAnswered(S, "9.1", "", "9.10", "2001", READ_AT)]


def test_ringall_answer_ends_the_other_legs_without_telling_them_unanswered() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator)
    out = feed(
        translator,
        dest("AgentCalled", "9.1", "PJSIP/2002-00000002", "9.11", "Interface: PJSIP/2002"),
        dest("DialEnd", "9.1", "PJSIP/2002-00000002", "9.11", "DialStatus: ANSWER"),
        dest("DialEnd", "9.1", "PJSIP/2001-00000001", "9.10", "DialStatus: CANCEL"),
        chan("Hangup", "PJSIP/2001-00000001", "9.10", "9.1", "Cause: 26"),
    )
    assert [type(e).__name__ for e in out] == ["LegRinging", "LegAnswered"]


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        ("BUSY", "busy"),
        ("NOANSWER", "no answer"),
        ("CHANUNAVAIL", "unavailable"),
        ("CONGESTION", "congestion"),
    ],
)
def test_dial_end_failures_are_unanswered_legs(status: str, cause: str) -> None:
    translator = AmiTranslator(S)
    feed(translator, chan("Newchannel", "PJSIP/trunk-1", "9.1", "9.1", "CallerIDNum: 139"))
    out = feed(
        translator,
        dest("DialBegin", "9.1", "PJSIP/2001-00000001", "9.10", "DialString: 2001"),
        dest("DialEnd", "9.1", "PJSIP/2001-00000001", "9.10", f"DialStatus: {status}"),
    )
    assert out[1] == t.LegUnanswered(S, "9.1", "", "9.10", "2001", READ_AT, cause)


def test_a_plain_dial_the_pbx_gives_up_is_unanswered_not_abandoned() -> None:
    translator = AmiTranslator(S)
    out = feed(
        translator,
        chan("Newchannel", "PJSIP/trunk-1", "9.1", "9.1", "CallerIDNum: 139", "Exten: 96000"),
        dest("DialBegin", "9.1", "PJSIP/2001-00000001", "9.10", "DialString: 2001"),
        dest("DialEnd", "9.1", "PJSIP/2001-00000001", "9.10", "DialStatus: NOANSWER"),
        chan("Hangup", "PJSIP/trunk-1", "9.1", "9.1", "Cause: 19", "Cause-txt: No answer"),
    )
    assert out[-1] == t.CallUnanswered(S, "9.1", "", READ_AT, "No answer")


def test_a_member_behind_a_local_channel_is_one_leg() -> None:
    translator = AmiTranslator(S)
    local1, local2 = "Local/2001@from-queue-0000000a;1", "Local/2001@from-queue-0000000a;2"
    out = feed(
        translator,
        chan("Newchannel", "PJSIP/trunk-1", "9.1", "9.1", "CallerIDNum: 139"),
        dest("AgentCalled", "9.1", local1, "9.2", "Interface: Local/2001@from-queue/n"),
        dest("DialBegin", "9.1", local1, "9.2", "DialString: 2001@from-queue/n"),
        ev(
            "Event: DialBegin",
            f"Channel: {local2}",
            "Uniqueid: 9.3",
            "Linkedid: 9.1",
            "DestChannel: PJSIP/2001-00000005",
            "DestUniqueid: 9.4",
            "DialString: 2001",
        ),
        chan("Newstate", "PJSIP/2001-00000005", "9.4", "9.1", "ChannelState: 6"),
        chan("Newstate", local1, "9.2", "9.1", "ChannelState: 6"),
        chan("HangupRequest", "PJSIP/2001-00000005", "9.4", "9.1"),
        chan("Hangup", "PJSIP/2001-00000005", "9.4", "9.1"),
    )
    assert out == [
        t.CallOffered(S, "9.1", "", READ_AT, "139", ""),
        t.LegRinging(S, "9.1", "", "9.2", "2001", READ_AT, None),
        t.LegAnswered(S, "9.1", "", "9.2", "2001", READ_AT),
        t.CallEnded(S, "9.1", "", READ_AT, "agent"),
    ]


def test_without_hangup_requests_the_first_channel_to_hang_up_is_who_ended_it() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator)
    out = feed(
        translator,
        chan("Newstate", "PJSIP/2001-00000001", "9.10", "9.1", "ChannelState: 6"),
        chan("Hangup", "PJSIP/2001-00000001", "9.10", "9.1"),
        chan("Hangup", "PJSIP/trunk-1", "9.1", "9.1"),
    )
    assert out[-1] == t.CallEnded(S, "9.1", "", READ_AT, "agent")


def test_agent_complete_transfer_blames_nobody() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator)
    out = feed(
        translator,
        dest("AgentConnect", "9.1", "PJSIP/2001-00000001", "9.10"),
        dest("AgentComplete", "9.1", "PJSIP/2001-00000001", "9.10", "Reason: transfer"),
        chan("Hangup", "PJSIP/trunk-1", "9.1", "9.1"),
    )
    assert out[-1] == t.CallEnded(S, "9.1", "", READ_AT, None)


def test_unknown_and_pre_12_events_are_ignored() -> None:
    translator = AmiTranslator(S)
    for m in messages(transcript("core_show_channels.txt")):
        assert translator.translate(m, READ_AT) == []
    assert feed(translator, ev("Event: VarSet", "Uniqueid: 1.1"), ev("Response: Success")) == []
    # Real pasted events (PAMI #104, #19; asterisk#393 minus its truncated last line): pre-12
    # AgentCalled has no DestUniqueid, the 1.8 AgentConnect no Linkedid, the 16/20
    # AgentComplete excerpt no caller snapshot: none can be placed in a call.
    text = (corpus_dir() / "ami" / "github_issue_excerpts.txt").read_text(encoding="utf-8")
    body = "\n".join(x for x in text.splitlines() if not x.startswith("#") and x != "HoldTime")
    real = messages(body.encode() + b"\n\n")
    assert [m.event for m in real] == ["AgentCalled", "AgentConnect", "AgentComplete"]
    assert feed(translator, *real) == []
    complete = real[2]
    assert extension_of(complete["Interface"]) == "300001"  # Local/300001@dialer
    assert extension_of(complete["DestChannel"]) == "1"  # the PJSIP endpoint is named "1"
    assert "Reason" not in complete  # the excerpt stops before Reason


@pytest.mark.parametrize(
    ("value", "extension"),
    [
        ("PJSIP/2001-00000012", "2001"),
        ("PJSIP/2001", "2001"),
        ("SIP/203-0000bf40", "203"),
        ("Local/2001@from-queue-0000000a;1", "2001"),
        ("2001@from-queue/n", "2001"),
        ("PJSIP/2001/sip:2001@10.0.0.5:5060", "2001"),
        ("2001", "2001"),
        ("", ""),
    ],
)
def test_extension_of_channels_and_dial_strings(value: str, extension: str) -> None:
    assert extension_of(value) == extension


# -- resync ------------------------------------------------------------------------------------
def listed(name: str, event: str) -> list[Message]:
    return [m for m in messages(transcript(name)) if m.event == event]


def test_resync_offers_live_calls_with_their_legs_then_lists_them() -> None:
    translator = AmiTranslator(S)
    now = datetime(2025, 11, 23, 1, 2, tzinfo=UTC)
    out = translator.resync(
        listed("core_show_channels.txt", "CoreShowChannel"),
        listed("queue_status.txt", "QueueEntry"),
        now,
    )
    ringing, answered = "1763859700.201", "1763859650.211"
    assert out == [
        t.CallOffered(S, ringing, "", now - timedelta(seconds=9), "13800138005", "s"),
        t.LegRinging(
            S, ringing, "", "1763859701.202", "2001", now - timedelta(seconds=8), "repair"
        ),
        t.CallOffered(S, answered, "", now - timedelta(seconds=70), "13900139006", "s"),
        t.LegAnswered(S, answered, "", "1763859651.212", "2003", now - timedelta(seconds=65)),
        t.CallsResynced(S, frozenset({ringing, answered}), now),
    ]
    assert translator.caller_channel(ringing) == "PJSIP/trunk-00000061"
    # Events after the resync continue those calls, without repeating anything.
    later = feed(
        translator,
        chan("Newstate", "PJSIP/2001-00000062", "1763859701.202", ringing, "ChannelState: 6"),
        dest("AgentConnect", ringing, "PJSIP/2001-00000062", "1763859701.202"),
    )
    assert later == [t.LegAnswered(S, ringing, "", "1763859701.202", "2001", READ_AT)]


def test_resync_forgets_calls_that_ended_while_away_and_settles_lost_legs() -> None:
    translator = AmiTranslator(S)
    ringing_call(translator, "9.1")  # ended during the gap
    ringing_call(translator, "8.1")  # still up, but its agent stopped ringing
    now = READ_AT
    caller = ev("Uniqueid: 8.1", "Linkedid: 8.1", "Channel: PJSIP/trunk-1", "Duration: 00:00:30")
    out = translator.resync([caller], [], now)
    assert out == [
        t.CallOffered(S, "8.1", "", now - timedelta(seconds=30), "", ""),
        t.LegUnanswered(S, "8.1", "", "8.10", "2001", now, "ended while disconnected"),
        t.CallsResynced(S, frozenset({"8.1"}), now),
    ]
    assert set(translator.calls) == {"8.1"} and translator.caller_channel("9.1") is None


def test_calls_that_start_while_the_resync_is_answered_are_kept() -> None:
    # The PBX took its snapshot before this call rang: the snapshot lists the caller only,
    # but the events that came in since are newer and win.
    translator = AmiTranslator(S)
    translator.resync_window.begin()
    ringing_call(translator, "7.1")
    caller = ev("Uniqueid: 7.1", "Linkedid: 7.1", "Channel: PJSIP/trunk-1", "Duration: 00:00:01")
    out = translator.resync([caller], [], READ_AT)
    assert out == [t.CallsResynced(S, frozenset({"7.1"}), READ_AT)]
    late_snapshot = translator.resync([], [], READ_AT)  # a later resync works as before
    assert late_snapshot == [t.CallsResynced(S, frozenset(), READ_AT)]


def test_a_call_that_ended_just_before_the_resync_answer_is_not_revived() -> None:
    translator = AmiTranslator(S)
    run("caller_abandons.txt", translator=translator)
    caller = ev(f"Uniqueid: {B}", f"Linkedid: {B}", "Channel: PJSIP/trunk-00000021")
    out = translator.resync([caller], [], READ_AT)
    assert out == [t.CallsResynced(S, frozenset(), READ_AT)]


def test_memory_stays_bounded_when_ends_are_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tr, "MAX_CALLS", 100)
    translator = AmiTranslator(S)
    for i in range(1000):
        ringing_call(translator, f"{i}.1")
    assert len(translator.calls) <= 100 and len(translator._channels) <= 200
