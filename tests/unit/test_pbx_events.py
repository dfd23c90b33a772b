"""PBX events schema v1: every type translates to its normalized event, every bad input gets
its stable reason, and the guide, the JSON Schema and the parser agree on every example."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from callcenter import signals as t
from callcenter.telephony.pbx_events import (
    MAX_LENGTH,
    MAX_LIVE_CALLS,
    MAX_PAYLOAD,
    REASONS,
    TYPES,
    EventRejected,
    parse_event,
    parse_message,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDE = DOCS / "pbx-events.md"
SCHEMA = json.loads((DOCS / "pbx-events-v1.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
AT = "2026-11-23T09:15:02.250+08:00"
AT_UTC = datetime(2026, 11, 23, 1, 15, 2, 250000, tzinfo=UTC)

BASE: dict[str, dict[str, Any]] = {
    "call_offered": {"call_id": "c1", "caller": "13800000001", "dialed": "96069"},
    "leg_ringing": {"call_id": "c1", "leg_id": "l1", "extension": "2001", "queue": "repairs"},
    "leg_answered": {"call_id": "c1", "leg_id": "l1", "extension": "2001"},
    "leg_unanswered": {"call_id": "c1", "leg_id": "l1", "extension": "2001", "cause": "busy"},
    "call_abandoned": {"call_id": "c1"},
    "call_unanswered": {"call_id": "c1", "cause": "queue timeout"},
    "call_ended": {"call_id": "c1", "hung_up_by": "agent"},
    "calls_resynced": {"live_call_ids": ["c1", "c2"]},
}


def message(kind: str = "leg_ringing", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"v": 1, "event_id": "e1", "type": kind, "at": AT, **BASE[kind]}
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


_DROP = object()


def encode(body: object) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def rejected(payload: bytes) -> EventRejected:
    with pytest.raises(EventRejected) as info:
        parse_event("bridge1", payload)
    return info.value


# -- every type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("call_offered", t.CallOffered("bridge1", "c1", "", AT_UTC, "13800000001", "96069")),
        ("leg_ringing", t.LegRinging("bridge1", "c1", "", "l1", "2001", AT_UTC, "repairs")),
        ("leg_answered", t.LegAnswered("bridge1", "c1", "", "l1", "2001", AT_UTC)),
        ("leg_unanswered", t.LegUnanswered("bridge1", "c1", "", "l1", "2001", AT_UTC, "busy")),
        ("call_abandoned", t.CallAbandoned("bridge1", "c1", "", AT_UTC)),
        ("call_unanswered", t.CallUnanswered("bridge1", "c1", "", AT_UTC, "queue timeout")),
        ("call_ended", t.CallEnded("bridge1", "c1", "", AT_UTC, "agent")),
        ("calls_resynced", t.CallsResynced("bridge1", frozenset({"c1", "c2"}), AT_UTC)),
    ],
)
def test_each_type_becomes_its_normalized_event(kind: str, expected: t.SourceEvent) -> None:
    assert parse_event("bridge1", encode(message(kind))) == expected


def test_the_message_keeps_its_event_id_and_type() -> None:
    parsed = parse_message("bridge1", encode(message("call_abandoned", event_id="abc-1")))
    assert (parsed.event_id, parsed.type) == ("abc-1", "call_abandoned")


def test_queue_is_optional_and_may_be_null() -> None:
    for body in (message(queue=_DROP), message(queue=None)):
        event = parse_event("bridge1", encode(body))
        assert isinstance(event, t.LegRinging) and event.queue is None


def test_hung_up_by_null_means_unknown() -> None:
    event = parse_event("bridge1", encode(message("call_ended", hung_up_by=None)))
    assert isinstance(event, t.CallEnded) and event.hung_up_by is None


def test_withheld_caller_is_an_empty_string() -> None:
    event = parse_event("bridge1", encode(message("call_offered", caller="")))
    assert isinstance(event, t.CallOffered) and event.caller == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T01:15:02Z", datetime(2026, 11, 23, 1, 15, 2, tzinfo=UTC)),
        ("2026-11-23T09:15:02.5+08:00", datetime(2026, 11, 23, 1, 15, 2, 500000, tzinfo=UTC)),
        ("2026-11-22T20:15:02.123456789-05:00", datetime(2026, 11, 23, 1, 15, 2, 123456, UTC)),
    ],
)
def test_times_with_an_offset_become_utc(text: str, expected: datetime) -> None:
    event = parse_event("bridge1", encode(message("call_abandoned", at=text)))
    assert event.at == expected and event.at.tzinfo is UTC


def test_unknown_extra_fields_are_ignored() -> None:
    body = message("call_abandoned", pbx_channel="PJSIP/2001", cause=5, leg_id=None)
    assert isinstance(parse_event("bridge1", encode(body)), t.CallAbandoned)


# -- every reject reason ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (b"x" * (MAX_PAYLOAD + 1), "too-large", None),
        (b"\xff\xfe{}", "bad-json", None),
        (b'{"v": 1,', "bad-json", None),
        (b'{"v": 1, "v": 1}', "bad-json", None),
        (b'{"v": NaN}', "bad-json", None),
        (b"[" * 30_000 + b"]" * 30_000, "bad-json", None),
        (b"[1, 2]", "not-an-object", None),
        (b'"text"', "not-an-object", None),
        (encode(message(v=_DROP)), "missing-field", "v"),
        (encode(message(v="1")), "bad-field", "v"),
        (encode(message(v=True)), "bad-field", "v"),
        (encode(message(v=2)), "unsupported-version", "v"),
        (encode(message(event_id=_DROP)), "missing-field", "event_id"),
        (encode(message(event_id="")), "bad-field", "event_id"),
        (encode(message(event_id=7)), "bad-field", "event_id"),
        (encode(message(type=_DROP)), "missing-field", "type"),
        (encode(message(type=["leg_ringing"])), "bad-field", "type"),
        (encode(message(type="leg_ringed")), "unknown-type", "type"),
        (encode(message(at=_DROP)), "missing-field", "at"),
        (encode(message(at="2026-11-23T09:15:02")), "bad-field", "at"),
        (encode(message(at="2026-11-23 09:15:02Z")), "bad-field", "at"),
        (encode(message(at="2026-02-30T09:15:02Z")), "bad-field", "at"),
        (encode(message(at="2026-11-23T09:15:02+24:00")), "bad-field", "at"),
        (encode(message(at=1764120900)), "bad-field", "at"),
        (encode(message(extension=_DROP)), "missing-field", "extension"),
        (encode(message(extension=2001)), "bad-field", "extension"),
        (encode(message(extension="2001\n")), "bad-field", "extension"),
        (encode(message(call_id="c" * 256)), "bad-field", "call_id"),
        (encode(message(queue="")), "bad-field", "queue"),
        (encode(message("leg_unanswered", cause=_DROP)), "missing-field", "cause"),
        (encode(message("call_offered", dialed="")), "bad-field", "dialed"),
        (encode(message("call_ended", hung_up_by=_DROP)), "missing-field", "hung_up_by"),
        (encode(message("call_ended", hung_up_by="system")), "bad-field", "hung_up_by"),
        (encode(message("calls_resynced", live_call_ids="c1")), "bad-field", "live_call_ids"),
        (encode(message("calls_resynced", live_call_ids=["c1", 2])), "bad-field",
         "live_call_ids[1]"),
        (encode(message("calls_resynced", live_call_ids=["c"] * (MAX_LIVE_CALLS + 1))),
         "bad-field", "live_call_ids"),
    ],
)  # fmt: skip
def test_each_bad_input_is_rejected_with_its_reason_and_field(
    payload: bytes, reason: str, field: str | None
) -> None:
    error = rejected(payload)
    assert (error.reason, error.field) == (reason, field)
    assert error.reason in REASONS and error.message


def test_a_lone_surrogate_is_rejected() -> None:
    error = rejected(b'{"v": 1, "event_id": "e\\ud800", "type": "call_abandoned"}')
    assert (error.reason, error.field) == ("bad-field", "event_id")


def test_the_reject_carries_the_event_id_once_it_was_read() -> None:
    assert rejected(encode(message(extension=_DROP))).event_id == "e1"
    assert rejected(encode(message(v=2))).event_id is None
    assert rejected(b"{").event_id is None


def test_the_version_is_checked_before_anything_else() -> None:
    error = rejected(encode({"v": 2, "kind": "something else entirely"}))
    assert error.reason == "unsupported-version"


# -- nothing but EventRejected, whatever arrives ----------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _parses_or_rejects(payload: bytes) -> None:
    try:
        parse_event("bridge1", payload)
    except EventRejected as error:
        assert error.reason in REASONS


@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_event_rejected(payload: bytes) -> None:
    _parses_or_rejects(payload)


@given(_json)
def test_random_json_never_raises_anything_but_event_rejected(value: object) -> None:
    _parses_or_rejects(encode(value))


@given(
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from([*MAX_LENGTH, "v", "type", "at", "hung_up_by"]), _json),
)
def test_valid_messages_with_random_fields_never_raise_anything_else(
    kind: str, changes: dict[str, Any]
) -> None:
    _parses_or_rejects(encode({**message(kind), **changes}))


# -- the guide, the schema and the parser agree -----------------------------------------------

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks(info: str) -> list[Any]:
    text = GUIDE.read_text(encoding="utf-8")
    return [json.loads(body) for kind, body in _FENCE.findall(text) if kind.strip() == info]


def test_the_schema_is_valid_json_schema_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_guide_has_an_example_of_every_type() -> None:
    assert {example["type"] for example in _blocks("json")} == set(TYPES)


@pytest.mark.parametrize("example", _blocks("json"), ids=lambda e: str(e.get("event_id")))
def test_every_example_in_the_guide_is_valid_for_the_schema_and_the_parser(
    example: dict[str, Any],
) -> None:
    VALIDATOR.validate(example)
    parsed = parse_message("bridge1", encode(example))
    assert parsed.type == example["type"] and parsed.event_id == example["event_id"]


def test_the_reject_example_has_the_fields_the_service_publishes() -> None:
    (reject,) = _blocks("json reject")
    assert set(reject) == {"reason", "field", "message", "event_id", "received_at"}


def test_the_guide_lists_every_reason_code() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", text, re.MULTILINE))
    assert listed >= set(REASONS) | {"event-id-reused"}


def test_the_schema_and_the_parser_know_the_same_types_and_limits() -> None:
    assert SCHEMA["properties"]["type"]["enum"] == list(TYPES)
    defs = SCHEMA["$defs"]
    for name, limit in MAX_LENGTH.items():
        if name in defs:
            assert defs[name]["maxLength"] == limit, name
    assert SCHEMA["properties"]["event_id"]["maxLength"] == MAX_LENGTH["event_id"]
    queue = SCHEMA["allOf"][TYPES.index("leg_ringing")]["then"]["properties"]["queue"]
    assert queue["anyOf"][0]["maxLength"] == MAX_LENGTH["queue"]


# Values each field may take in the property below, valid and invalid alike. Dates are all
# real ones: without an RFC 3339 format checker installed the schema does not check them.
_POOL: dict[str, list[Any]] = {
    "v": [1, 2, "1", True, None, 1.0],
    "event_id": ["e1", "", "x" * 128, "x" * 129, 5, "tab\there"],
    "type": [*TYPES, "leg_ringed", 3],
    "at": [AT, "2026-11-23T01:15:02Z", "2026-11-23T09:15:02", "yesterday", "2026-11-23", 0],
    "call_id": ["c1", "", "c" * 255, "c" * 256, None, ["c1"]],
    "leg_id": ["l1", "", "l" * 129, 1],
    "extension": ["2001", "", "2" * 65, 2001, "20\x0001"],
    "queue": ["repairs", None, "", "q" * 65, 1],
    "caller": ["13800000001", "", "1" * 65, None],
    "dialed": ["96069", "", 96069],
    "cause": ["busy", "", "c" * 129, None],
    "hung_up_by": ["agent", "caller", None, "system", ""],
    "live_call_ids": [["c1"], [], "c1", ["c1", ""], ["c1", 2], None],
}


@settings(max_examples=500)
@given(
    st.sampled_from(TYPES),
    st.fixed_dictionaries({}, optional={k: st.sampled_from([*v, _DROP]) for k, v in _POOL.items()}),
)
def test_the_schema_accepts_exactly_what_the_parser_accepts(
    kind: str, changes: dict[str, Any]
) -> None:
    body = message(kind, **changes)
    try:
        parse_event("bridge1", encode(body))
        parsed = True
    except EventRejected:
        parsed = False
    event(f"valid={parsed}")
    assert VALIDATOR.is_valid(body) == parsed, body
