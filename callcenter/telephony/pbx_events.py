"""PBX events as JSON, schema v1: what a PBX bridge publishes, validated and translated into
normalized telephony events. Pure: bytes in, an event or an EventRejected out.

The integrator's reference is docs/pbx-events.md with docs/pbx-events-v1.schema.json; a unit
test checks every documented example against both, so the three cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from callcenter import signals as t

VERSION = 1
MAX_PAYLOAD = 64 * 1024  # bytes
MAX_LIVE_CALLS = 10_000

# Stable reason codes: integrators match on them (docs/pbx-events.md, "Rejects").
TOO_LARGE = "too-large"
BAD_JSON = "bad-json"
NOT_AN_OBJECT = "not-an-object"
MISSING_FIELD = "missing-field"
UNSUPPORTED_VERSION = "unsupported-version"
UNKNOWN_TYPE = "unknown-type"
BAD_FIELD = "bad-field"
REASONS = (
    TOO_LARGE, BAD_JSON, NOT_AN_OBJECT, MISSING_FIELD, UNSUPPORTED_VERSION, UNKNOWN_TYPE,
    BAD_FIELD,
)  # fmt: skip

# Longest value per string field, in characters; sized to the database columns.
MAX_LENGTH = {
    "event_id": 128,
    "call_id": 255,
    "leg_id": 128,
    "extension": 64,
    "queue": 64,
    "caller": 64,
    "dialed": 64,
    "cause": 128,
}
HUNG_UP_BY = ("agent", "caller")
_HUNG_UP: dict[str | None, t.HungUpBy | None] = {"agent": "agent", "caller": "caller", None: None}

# No control characters (they break logs and terminals) and no lone surrogates (not Unicode
# text: they cannot be stored or sent on as UTF-8).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# RFC 3339 date-time with a mandatory offset; ASCII digits only (\d would take any script's).
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


class EventRejected(Exception):
    """An event the service will not apply. `reason` is a stable code (REASONS), `field` the
    offending field (None when the payload as a whole is bad), `event_id` the message's id when
    it could be read, so a reject can be matched to what was sent."""

    def __init__(
        self, reason: str, field: str | None, message: str = "", *, event_id: str | None = None
    ) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.field = field
        self.message = message or reason
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class PbxMessage:
    """One valid message: the event and the id the PBX gave it (for idempotency)."""

    event_id: str
    type: str
    event: t.SourceEvent


def parse_event(source_id: str, payload: bytes) -> t.SourceEvent:
    """Validate one v1 message and translate it; raise EventRejected, never anything else."""
    return parse_message(source_id, payload).event


def parse_message(source_id: str, payload: bytes) -> PbxMessage:
    """Like parse_event, also returning the message's event_id and type."""
    if len(payload) > MAX_PAYLOAD:
        raise EventRejected(
            TOO_LARGE, None, f"payload is {len(payload)} bytes, at most {MAX_PAYLOAD} allowed"
        )
    data = _load_json(payload)
    if not isinstance(data, dict):
        raise EventRejected(NOT_AN_OBJECT, None, "the payload must be a JSON object")
    _check_version(data)
    fields = _Fields(data)
    event_id = fields.text("event_id")
    fields.event_id = event_id
    kind = data.get("type")
    if kind is None:
        raise fields.rejected(MISSING_FIELD, "type", "type is required")
    if not isinstance(kind, str):
        raise fields.rejected(BAD_FIELD, "type", "type must be a string")
    build = _BUILDERS.get(kind)
    if build is None:
        known = ", ".join(_BUILDERS)
        raise fields.rejected(UNKNOWN_TYPE, "type", f"type must be one of {known}")
    at = fields.timestamp("at")
    return PbxMessage(event_id, kind, build(fields, source_id, at))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Which of two values wins differs between parsers: refuse to guess.
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _load_json(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventRejected(BAD_JSON, None, f"not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise EventRejected(BAD_JSON, None, "nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, duplicate keys, NaN, over-long integers
        raise EventRejected(BAD_JSON, None, f"not JSON: {str(exc)[:120]}") from None


def _check_version(data: dict[str, Any]) -> None:
    if "v" not in data:
        raise EventRejected(MISSING_FIELD, "v", "v (the schema version) is required")
    v = data["v"]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise EventRejected(BAD_FIELD, "v", "v must be a number")
    if v != VERSION:
        raise EventRejected(
            UNSUPPORTED_VERSION, "v", f"this service reads version {VERSION}, got {v!r}"[:200]
        )


class _Fields:
    """Typed reads of one message's fields; every failure names the field."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.event_id: str | None = None

    def rejected(self, reason: str, field: str, message: str) -> EventRejected:
        return EventRejected(reason, field, message, event_id=self.event_id)

    def _value(self, name: str) -> Any:
        if name not in self.data:
            raise self.rejected(MISSING_FIELD, name, f"{name} is required")
        return self.data[name]

    def _check_text(self, name: str, value: Any, min_length: int, kind: str = "") -> str:
        limit = MAX_LENGTH[kind or name]
        if not isinstance(value, str):
            raise self.rejected(BAD_FIELD, name, f"{name} must be a string")
        if not min_length <= len(value) <= limit:
            what = "empty" if not value else f"{len(value)} characters long"
            raise self.rejected(
                BAD_FIELD, name, f"{name} must be {min_length}-{limit} characters, it is {what}"
            )
        if _FORBIDDEN.search(value):
            raise self.rejected(BAD_FIELD, name, f"{name} must not hold control characters")
        return value

    def text(self, name: str, min_length: int = 1) -> str:
        return self._check_text(name, self._value(name), min_length)

    def optional_text(self, name: str) -> str | None:
        value = self.data.get(name)
        return None if value is None else self._check_text(name, value, 1)

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        """A required field that is one of `allowed` or null."""
        value = self._value(name)
        if value is not None and value not in allowed:
            options = ", ".join(f'"{a}"' for a in allowed)
            raise self.rejected(BAD_FIELD, name, f"{name} must be {options} or null")
        return value  # type: ignore[no-any-return]

    def timestamp(self, name: str) -> datetime:
        value = self._value(name)
        match = _TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise self.rejected(
                BAD_FIELD, name, f"{name} must be an ISO 8601 time like 2026-11-23T09:15:02.250Z"
            )
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        if offset is None:
            # A time without offset means a different instant in every time zone.
            raise self.rejected(
                BAD_FIELD, name, f"{name} must carry a UTC offset (Z or +08:00), got a local time"
            )
        try:
            tz = UTC if offset == "Z" else _offset(offset)
            micros = int((fraction or "0")[:6].ljust(6, "0"))
            local = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz
            )
            return local.astimezone(UTC)
        except (ValueError, OverflowError):
            raise self.rejected(BAD_FIELD, name, f"{name} is not a valid time") from None

    def id_list(self, name: str) -> frozenset[str]:
        value = self._value(name)
        if not isinstance(value, list):
            raise self.rejected(BAD_FIELD, name, f"{name} must be an array of call ids")
        if len(value) > MAX_LIVE_CALLS:
            raise self.rejected(BAD_FIELD, name, f"{name} may hold at most {MAX_LIVE_CALLS} ids")
        return frozenset(
            self._check_text(f"{name}[{i}]", item, 1, "call_id") for i, item in enumerate(value)
        )


def _offset(text: str) -> timezone:
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


# Normalized events carry a call_tag for SIP, where one Call-ID may name several calls; a
# PBX's own call_id is unique on that PBX, so MQTT events leave it empty.
_NO_TAG = ""


def _call_offered(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    # caller may be "" for a withheld number.
    return t.CallOffered(
        source, f.text("call_id"), _NO_TAG, at, f.text("caller", min_length=0), f.text("dialed")
    )


def _leg_ringing(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    return t.LegRinging(
        source,
        f.text("call_id"),
        _NO_TAG,
        f.text("leg_id"),
        f.text("extension"),
        at,
        f.optional_text("queue"),
    )


def _leg_answered(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    return t.LegAnswered(
        source, f.text("call_id"), _NO_TAG, f.text("leg_id"), f.text("extension"), at
    )


def _leg_unanswered(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    return t.LegUnanswered(
        source,
        f.text("call_id"),
        _NO_TAG,
        f.text("leg_id"),
        f.text("extension"),
        at,
        f.text("cause"),
    )


def _call_abandoned(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    return t.CallAbandoned(source, f.text("call_id"), _NO_TAG, at)


def _call_unanswered(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    return t.CallUnanswered(source, f.text("call_id"), _NO_TAG, at, f.text("cause"))


def _call_ended(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    call_id = f.text("call_id")
    return t.CallEnded(source, call_id, _NO_TAG, at, _HUNG_UP[f.choice("hung_up_by", HUNG_UP_BY)])


def _calls_resynced(f: _Fields, source: str, at: datetime) -> t.SourceEvent:
    return t.CallsResynced(source, f.id_list("live_call_ids"), at)


_BUILDERS: dict[str, Callable[[_Fields, str, datetime], t.SourceEvent]] = {
    "call_offered": _call_offered,
    "leg_ringing": _leg_ringing,
    "leg_answered": _leg_answered,
    "leg_unanswered": _leg_unanswered,
    "call_abandoned": _call_abandoned,
    "call_unanswered": _call_unanswered,
    "call_ended": _call_ended,
    "calls_resynced": _calls_resynced,
}
TYPES = tuple(_BUILDERS)
