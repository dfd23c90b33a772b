"""What the tracker accepts from any source, pure: bounded field lengths, times near our
clock, and a bounded memory of calls that closed (so a late INVITE does not start them again).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from callcenter import signals as t

# The stored columns' widths (calls/store.py); a longer value is cut to fit, keeping it
# unique with a short hash of the whole (two 300-character Call-IDs stay two calls).
FIELD_WIDTHS = {
    "call_id": 255,
    "call_tag": 128,
    "leg_id": 128,
    "caller": 64,
    "dialed": 64,
    "extension": 64,
    "queue": 64,
    "cause": 128,
}


@dataclass(frozen=True, slots=True)
class Limits:
    max_field_length: int = 255
    max_clock_skew: timedelta = timedelta(days=1)


def clamp(value: str, width: int) -> str:
    if len(value) <= width:
        return value
    digest = hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return value[: width - 9] + "~" + digest


def sanitize(
    event: t.TelephonyEvent, now: datetime, limits: Limits
) -> tuple[t.TelephonyEvent, list[str]]:
    """The event with over-long fields cut and a time far from `now` replaced by `now`;
    and what was changed ("field_truncated", "clock_skew"), for the counters."""
    changes: dict[str, Any] = {}
    fixed: list[str] = []
    for name, width in FIELD_WIDTHS.items():
        value = getattr(event, name, None)
        limit = min(width, limits.max_field_length)
        if isinstance(value, str) and len(value) > limit:
            changes[name] = clamp(value, limit)
    if changes:
        fixed.append("field_truncated")
    if abs(event.at - now) > limits.max_clock_skew:
        changes["at"] = now
        fixed.append("clock_skew")
    if not changes:
        return event, fixed
    return replace(event, **changes), fixed


class ClosedCalls:
    """Keys of calls that closed and left memory, the newest `size` of them: a message for
    one of them (a late retransmission, a replayed mirror) must not open the call again."""

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._keys: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def add(self, key: tuple[str, str, str]) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
