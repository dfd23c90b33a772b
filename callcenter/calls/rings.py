"""Ring counting (响铃): ring n of a leg starts at (n-1) × cycle after its first ring.

Arithmetic is done in whole microseconds so the boundary (exactly limit × cycle) is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_US = 1_000_000


def _us(seconds: float) -> int:
    return round(seconds * _US)


@dataclass(frozen=True, slots=True)
class RingRule:
    """The hotline's answer rule: answer before ring `limit` + 1 starts.

    limit = 3 reads 004's rule as "within three rings"; limit = 2 as "before the third ring".
    """

    cycle_seconds: float
    limit: int

    @property
    def cycle_us(self) -> int:
        return _us(self.cycle_seconds)

    @property
    def deadline(self) -> timedelta:
        """How long a leg may ring: the instant ring limit + 1 would start."""
        return timedelta(microseconds=self.cycle_us * self.limit)

    def rings(self, ring_seconds: float) -> int:
        """⌊ringing seconds / cycle⌋ + 1 (a leg that rang at all has rung once)."""
        return max(0, _us(ring_seconds)) // self.cycle_us + 1

    def rings_between(self, started: datetime, stopped: datetime) -> int:
        elapsed_us = max(0, (stopped - started) // timedelta(microseconds=1))
        return elapsed_us // self.cycle_us + 1

    def within_limit(self, started: datetime, stopped: datetime) -> bool:
        return self.rings_between(started, stopped) <= self.limit
