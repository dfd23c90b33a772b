"""[timeline]: the one clock's own deadline, the hotline's dispatch.

    [timeline]
    dispatch_minutes = 15   # a repair ticket goes to its station within this of being taken

The other steps' deadlines are their owners': the ring limit ([rings]), the station's
acceptance, contact and repair ([orders]), the callback (3 days, 002 第3篇).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

from callcenter.errors import ConfigError


@dataclass(frozen=True, slots=True)
class TimelineSettings:
    # The desk sends a repair on while the resident is still on the line or just after; a
    # quarter of an hour leaves room for a lead's check of a doubtful address.
    dispatch_minutes: float = 15.0

    @property
    def dispatch_within(self) -> timedelta:
        return timedelta(minutes=self.dispatch_minutes)


def parse_timeline(raw: Any) -> TimelineSettings:
    if not isinstance(raw, dict):
        raise ConfigError("timeline", "must be a table")
    known = {f.name for f in fields(TimelineSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"timeline.{name}"
        if name not in known:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(known))})")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be a number, got {value!r}")
        if value <= 0:
            raise ConfigError(key, f"must be > 0, got {value!r}")
        values[name] = float(value)
    return TimelineSettings(**values)
