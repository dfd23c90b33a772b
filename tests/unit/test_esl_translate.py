"""FreeSWITCH channel events → normalized telephony events: the transcripts in
tests/fixtures/esl (written from the FreeSWITCH docs) and the real events in the corpus."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter import signals as t
from callcenter.telephony.esl.protocol import Headers, parse_plain
from callcenter.telephony.esl.translate import (
    EslOutput,
    EslTranslator,
    RecordingReady,
    event_time,
    parse_channels,
    user_part,
)
from tests.pcap import corpus_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl"
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # only used when an event carries no time


def transcript(name: str) -> list[Headers]:
    events: list[Headers] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["events"]
    return events


def run(events: list[Headers], tr: EslTranslator | None = None) -> list[EslOutput]:
    tr = tr or EslTranslator("fs1")
    return [out for h in events for out in tr.translate(h, NOW)]


def summary(outs: list[EslOutput]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for o in outs:
        if isinstance(o, t.CallOffered):
            rows.append(("offered", o.caller, o.dialed))
        elif isinstance(o, t.LegRinging):
            rows.append(("ringing", o.extension, o.queue))
        elif isinstance(o, t.LegAnswered):
            rows.append(("answered", o.extension))
        elif isinstance(o, t.LegUnanswered):
            rows.append(("unanswered", o.extension, o.cause))
        elif isinstance(o, t.CallAbandoned):
            rows.append(("abandoned",))
        elif isinstance(o, t.CallUnanswered):
            rows.append(("call unanswered", o.cause))
        elif isinstance(o, t.CallEnded):
            rows.append(("ended", o.hung_up_by))
        elif isinstance(o, RecordingReady):
            rows.append(("recording", o.path))
        elif isinstance(o, t.CallsResynced):
            rows.append(("resynced", sorted(o.live_call_ids)))
    return rows


def seconds(outs: list[EslOutput], kind: type) -> float:
    t0 = next(o for o in outs if isinstance(o, t.CallOffered)).at
    at = next(o for o in outs if isinstance(o, kind)).at
    return (at - t0).total_seconds()


# -- the transcripts ---------------------------------------------------------------------------
def test_queue_call_answered_then_caller_hangs_up() -> None:
    outs = run(transcript("queue_call_answered.json"))
    assert summary(outs) == [
        ("offered", "13800138000", "96069"),
        ("ringing", "2001", "repair@default"),
        ("answered", "2001"),
        ("ended", "caller"),
    ]
    offered = outs[0]
    assert isinstance(offered, t.CallOffered)
    assert offered.call_id == "3f1d2a40-7c1e-4b8a-9f00-1a2b3c4d5e01"  # the caller's channel
    assert offered.call_tag == "" and offered.source == "fs1"
    assert offered.at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    ringing = outs[1]
    assert isinstance(ringing, t.LegRinging)
    assert ringing.call_id == offered.call_id  # tied by variable_cc_member_session_uuid
    assert ringing.leg_id == "8a0c5e12-44d1-4f7e-b7a2-9e8d7c6b5a02"  # the agent's Unique-ID
    assert seconds(outs, t.LegAnswered) - seconds(outs, t.LegRinging) == pytest.approx(8.0)


def test_caller_abandons_while_the_agent_rings() -> None:
    outs = run(transcript("caller_abandons_while_ringing.json"))
    # The agent leg's ORIGINATOR_CANCEL came first; it waits for the caller's hangup, so the
    # call is abandoned before the leg stops (no "rang out" blamed on the agent).
    assert summary(outs) == [
        ("offered", "13912345678", "96069"),
        ("ringing", "2002", None),
        ("abandoned",),
        ("unanswered", "2002", "ORIGINATOR_CANCEL"),
    ]


def test_agent_rings_out_and_the_next_agent_answers() -> None:
    outs = run(transcript("agent_rings_out_next_agent_answers.json"))
    assert summary(outs) == [
        ("offered", "13700001111", "96069"),
        ("ringing", "2001", "repair@default"),
        ("unanswered", "2001", "NO_ANSWER"),
        ("ringing", "2002", "repair@default"),  # 183: CHANNEL_PROGRESS_MEDIA
        ("answered", "2002"),
        ("ended", "caller"),
    ]


def test_agent_hangs_up_first() -> None:
    outs = run(transcript("agent_hangs_up_first.json"))
    assert summary(outs)[-1] == ("ended", "agent")


def test_record_stop_gives_the_recording_path() -> None:
    outs = run(transcript("recording_stopped.json"))
    rec = outs[-1]
    assert isinstance(rec, RecordingReady)
    assert rec.path == (
        "/var/lib/freeswitch/recordings/2026-11-23/feedface-1a2b-4c3d-8e4f-5a6b7c8d9e51.wav"
    )
    assert rec.call_id == "feedface-1a2b-4c3d-8e4f-5a6b7c8d9e51"
    assert rec.leg_id == "feedface-6b7c-4d8e-9f0a-1b2c3d4e5f52"  # the agent who answered
    assert rec.at == datetime(2026, 11, 23, 2, 2, 10, 410000, tzinfo=UTC)


def test_a_record_stop_after_the_call_is_forgotten_still_names_call_and_agent() -> None:
    events = transcript("recording_stopped.json")
    record_stop = events[-2]
    assert record_stop["Event-Name"] == "RECORD_STOP"
    tr = EslTranslator("fs1")
    run(events[:-2] + events[-1:], tr)  # the call ended and was forgotten
    assert tr.calls == {}
    (rec,) = run([record_stop], tr)
    assert isinstance(rec, RecordingReady)
    assert rec.call_id == events[0]["Unique-ID"] and rec.leg_id == events[3]["Unique-ID"]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_event_fires_once_when_events_repeat(name: str) -> None:
    events = transcript(name)
    twice = [h for h in events for _ in range(2)]
    assert summary(run(twice)) == summary(run(events))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_a_finished_call_leaves_no_state(name: str) -> None:
    tr = EslTranslator("fs1")
    run(transcript(name), tr)
    assert tr.calls == {} and tr.legs == {}


# -- who hung up -------------------------------------------------------------------------------
def answered_call() -> tuple[EslTranslator, Headers, Headers]:
    events = transcript("agent_hangs_up_first.json")
    tr = EslTranslator("fs1")
    run(events[:-2], tr)
    agent_bye, caller_bye = events[-2], events[-1]
    assert agent_bye["Call-Direction"] == "outbound"
    return tr, agent_bye, caller_bye


def with_disposition(h: Headers, value: str | None) -> Headers:
    h = dict(h)
    if value is None:
        h.pop("variable_sip_hangup_disposition")
    else:
        h["variable_sip_hangup_disposition"] = value
    return h


@pytest.mark.parametrize(
    ("first", "disposition", "by"),
    [
        ("agent", "recv_bye", "agent"),  # the agent's phone sent BYE
        ("agent", "send_bye", "caller"),  # FreeSWITCH sent BYE to the agent: caller left
        ("caller", "send_bye", "agent"),  # FreeSWITCH sent BYE to the caller: agent left
        ("caller", "recv_bye", "caller"),
        ("agent", None, "agent"),  # no SIP disposition: the first channel to hang up
        ("caller", None, "caller"),
    ],
)
def test_the_first_hangup_and_its_disposition_tell_who_hung_up(
    first: str, disposition: str | None, by: str
) -> None:
    tr, agent_bye, caller_bye = answered_call()
    h, other = (agent_bye, caller_bye) if first == "agent" else (caller_bye, agent_bye)
    outs = run([with_disposition(h, disposition), other], tr)
    assert summary(outs) == [("ended", by)]


def test_real_hangup_complete_of_the_caller_leg_says_the_caller_hung_up() -> None:
    # CGRateS' real CHANNEL_HANGUP_COMPLETE (2015): the a-leg, recv_bye, no Call-Direction
    # header; we make up the call it ended from its own Unique-ID and Other-Leg-Unique-ID.
    real = parse_plain(
        (corpus_dir() / "esl" / "cgrates__CHANNEL_HANGUP_COMPLETE_2015.txt").read_bytes()
    )
    a_leg, b_leg = real["Unique-ID"], real["Other-Leg-Unique-ID"]
    assert "Call-Direction" not in real
    tr = EslTranslator("fs1")
    base = {"Event-Date-Timestamp": "1436280728471153", "Channel-Call-UUID": a_leg}
    caller = {**base, "Unique-ID": a_leg, "Call-Direction": "inbound"}
    agent = {**base, "Unique-ID": b_leg, "Call-Direction": "outbound"}
    number = {"Caller-Caller-ID-Number": "1001", "Caller-Destination-Number": "1003"}
    created = {"Event-Name": "CHANNEL_CREATE", **number}
    answered = {"Event-Name": "CHANNEL_ANSWER", **number}
    run([{**caller, **created}, {**agent, **created}, {**agent, **answered}], tr)
    (ended,) = run([real], tr)
    assert isinstance(ended, t.CallEnded)
    assert ended.hung_up_by == "caller" and ended.call_id == a_leg
    assert ended.at == datetime(2015, 7, 7, 14, 53, 14, 30635, tzinfo=UTC)


# -- calls that end unanswered ---------------------------------------------------------------
def queue_call_ringing() -> tuple[EslTranslator, list[Headers]]:
    events = transcript("queue_call_answered.json")
    tr = EslTranslator("fs1")
    run(events[:5], tr)  # offered, queued, agent 2001 ringing
    return tr, events


def caller_hangup(events: list[Headers], cause: str, disposition: str) -> Headers:
    h = dict(events[-2])
    assert h["Call-Direction"] == "inbound"
    return {**h, "Hangup-Cause": cause, "variable_sip_hangup_disposition": disposition}


def agent_hangup(events: list[Headers], cause: str) -> Headers:
    h = dict(events[-1])
    assert h["Call-Direction"] == "outbound"
    return {**h, "Hangup-Cause": cause, "variable_sip_hangup_disposition": "send_cancel"}


def test_a_queued_caller_who_hangs_up_abandons_even_though_the_queue_answered_him() -> None:
    tr, events = queue_call_ringing()
    outs = run([caller_hangup(events, "NORMAL_CLEARING", "recv_bye")], tr)
    assert summary(outs) == [("abandoned",)]


def test_a_caller_the_switch_hangs_up_on_is_unanswered() -> None:
    tr, events = queue_call_ringing()
    outs = run([caller_hangup(events, "NO_ANSWER", "send_bye")], tr)
    assert summary(outs) == [("call unanswered", "NO_ANSWER")]


def test_a_queue_giving_up_makes_the_call_unanswered_at_once() -> None:
    tr, events = queue_call_ringing()
    cc = dict(events[5])  # a callcenter::info event of this call
    cc.update(
        {"CC-Action": "member-queue-end", "CC-Cause": "Cancel", "CC-Cancel-Reason": "TIMEOUT"}
    )
    outs = run([agent_hangup(events, "ORIGINATOR_CANCEL"), cc], tr)
    assert summary(outs) == [
        ("call unanswered", "queue TIMEOUT"),
        ("unanswered", "2001", "ORIGINATOR_CANCEL"),
    ]


def test_a_switch_cancel_nothing_explains_is_released_after_two_ticks() -> None:
    tr, events = queue_call_ringing()
    assert run([agent_hangup(events, "ORIGINATOR_CANCEL")], tr) == []
    assert tr.tick() == []
    assert summary(tr.tick()) == [("unanswered", "2001", "ORIGINATOR_CANCEL")]


def test_a_phone_losing_the_race_after_an_answer_stops_at_once() -> None:
    tr, events = queue_call_ringing()
    run([events[6]], tr)  # agent 2001 answers
    loser = {
        **agent_hangup(events, "ORIGINATOR_CANCEL"),
        "Unique-ID": "11111111-2222-4333-8444-555566667777",
    }
    loser["variable_dialed_user"] = "2002"
    assert summary(run([{**loser, "Event-Name": "CHANNEL_CREATE"}, loser], tr)) == [
        ("unanswered", "2002", "ORIGINATOR_CANCEL")
    ]


def test_a_busy_agent_rings_out() -> None:
    tr, events = queue_call_ringing()
    outs = run([agent_hangup(events, "USER_BUSY")], tr)
    assert summary(outs) == [("unanswered", "2001", "USER_BUSY")]


# -- real CHANNEL_CREATE events --------------------------------------------------------------
def test_real_inbound_channel_create_offers_a_call() -> None:
    text = (corpus_dir() / "esl" / "genesis__payloads_extracted.txt").read_bytes()
    body = re.split(rb"\n?##### payload: channel_create\n", text)[1].split(b"\n##### ")[0]
    (offered,) = run([parse_plain(body)])
    assert isinstance(offered, t.CallOffered)
    assert (offered.call_id, offered.caller, offered.dialed) == (
        "d0b1da34-a727-11e4-9728-6f83a2e5e50a", "100", "101",
    )  # fmt: skip
    assert offered.at == datetime(2015, 1, 28, 18, 0, 44, 671081, tzinfo=UTC)


def test_real_documented_channel_create_offers_a_call() -> None:
    rst = (corpus_dir() / "esl" / "webitel__events-list.rst").read_text(encoding="utf-8")
    block = rst.split("CHANNEL_CREATE\n++++++++++++++", 1)[1].split("**Example**::\n\n", 1)[1]
    lines = []
    for line in block.split("\n"):
        if not line.startswith("        "):
            break
        lines.append(line[8:])
    (offered,) = run([parse_plain("\n".join(lines).encode())])
    assert isinstance(offered, t.CallOffered)
    assert offered.caller == "9999" and offered.call_id == "61c4a5a3-ce44-4e65-b390-943dccdfe77f"


# -- resync after a reconnect ----------------------------------------------------------------
def row(uuid: str, direction: str, callstate: str, call_uuid: str, **more: str) -> Headers:
    return {
        "uuid": uuid, "direction": direction, "callstate": callstate, "call_uuid": call_uuid,
        "created_epoch": "1795399300", "cid_num": more.get("cid_num", ""),
        "dest": more.get("dest", ""), "name": more.get("name", ""),
    }  # fmt: skip


def test_resync_forgets_calls_that_ended_and_keeps_live_ones() -> None:
    tr = EslTranslator("fs1")
    gone = transcript("caller_abandons_while_ringing.json")
    live = transcript("queue_call_answered.json")
    run(gone[:3] + live[:5], tr)  # both ringing when the connection dropped
    caller, agent = live[0]["Unique-ID"], live[3]["Unique-ID"]
    rows = [
        row(caller, "inbound", "ACTIVE", caller),
        row(agent, "outbound", "RINGING", agent),  # mod_callcenter: its own call_uuid
    ]
    outs = tr.resync(rows, NOW)
    assert summary(outs) == [("resynced", [caller])]
    assert gone[0]["Unique-ID"] not in tr.calls
    # The live call goes on as if nothing happened.
    assert summary(run(live[6:], tr)) == [("answered", "2001"), ("ended", "caller")]


def test_a_call_that_starts_while_the_resync_is_answered_is_kept() -> None:
    # FreeSWITCH took its snapshot before this call arrived: it lists no channel of it,
    # but the events that came in since are newer and win.
    tr = EslTranslator("fs1")
    tr.resync_window.begin()
    events = transcript("queue_call_answered.json")
    run(events[:5], tr)  # offered, queued, agent ringing
    caller = events[0]["Unique-ID"]
    assert summary(tr.resync([], NOW)) == [("resynced", [caller])]
    assert summary(run(events[5:], tr))[-1] == ("ended", "caller")


def test_resync_offers_calls_it_never_saw() -> None:
    tr = EslTranslator("fs1")
    a, b, c = "aaaa0000-0000-4000-8000-000000000001", "bbbb", "cccc"
    rows = [
        row(b, "outbound", "RINGING", a, dest="2001", name="sofia/internal/2001@10.0.0.1"),
        row(a, "inbound", "ACTIVE", a, cid_num="13800000009", dest="96069"),
        row(c, "outbound", "ACTIVE", c),  # cannot be tied to a call: left alone
    ]
    outs = tr.resync(rows, NOW)
    assert summary(outs) == [
        ("offered", "13800000009", "96069"),
        ("ringing", "2001", None),
        ("resynced", [a]),
    ]
    assert outs[0].at == datetime(2026, 11, 23, 2, 1, 40, tzinfo=UTC)


def test_resync_answers_a_leg_answered_while_away_and_ends_one_that_vanished() -> None:
    tr = EslTranslator("fs1")
    events = transcript("agent_rings_out_next_agent_answers.json")
    run(events[:5], tr)  # 2001 ringing
    caller, a1 = events[0]["Unique-ID"], events[3]["Unique-ID"]
    a2 = "7e57ab1e-9999-4c33-8d44-e55f66a77b39"
    rows = [row(caller, "inbound", "ACTIVE", caller), row(a2, "outbound", "ACTIVE", caller)]
    outs = tr.resync(rows, NOW)
    assert summary(outs) == [
        ("answered", ""),
        ("unanswered", "2001", "ended while disconnected"),
        ("resynced", [caller]),
    ]
    assert outs[0].at == datetime(2026, 11, 23, 2, 1, 40, tzinfo=UTC)  # unseen: its creation
    assert a1 in tr.legs and tr.legs[a1].ended


def test_show_channels_with_no_rows() -> None:
    assert parse_channels('{"row_count":0}') == []
    assert parse_channels('{"row_count":1,"rows":[{"uuid":"u","created_epoch":5}]}') == [
        {"uuid": "u", "created_epoch": "5"}
    ]
    with pytest.raises(ValueError):
        parse_channels("-ERR no reply\n")


# -- small pieces ------------------------------------------------------------------------------
def test_event_time_reads_both_spellings_and_falls_back() -> None:
    assert event_time({"Event-Date-Timestamp": "1209685023894968"}, NOW) == datetime(
        2008, 5, 1, 23, 37, 3, 894968, tzinfo=UTC
    )
    assert event_time({"Event-Date-timestamp": "1197865998931097"}, NOW).year == 2007
    assert event_time({}, NOW) == NOW


@pytest.mark.parametrize(
    ("value", "ext"),
    [
        ("2001", "2001"),
        ("sofia/internal/2001@10.20.1.21:5060", "2001"),
        ("sofia/internal/sip:2002@10.0.0.9;transport=tcp", "2002"),
        ("user/2003@default", "2003"),
    ],
)
def test_user_part(value: str, ext: str) -> None:
    assert user_part(value) == ext


def test_other_events_are_ignored() -> None:
    tr = EslTranslator("fs1")
    assert tr.translate({"Event-Name": "HEARTBEAT"}, NOW) == []
    assert tr.translate({"Event-Name": "CHANNEL_ANSWER", "Unique-ID": "nobody"}, NOW) == []
    assert tr.ignored == 1
