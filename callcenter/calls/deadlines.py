"""The ring-limit timers of the legs ringing: armed on the clock, one per leg.

While a backlog of signals is caught up (a standby taking over, calls/service.py) the timers
are also fired by hand, in deadline order, before each signal later than their deadline:
a phone answered after its deadline fell then gets its ring-limit alert, as it would have
live, instead of a late answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from callcenter.clock import Clock, Timer

# Called with `late`: the deadline fell while nobody was watching it.
Fire = Callable[[bool], None]


@dataclass(slots=True)
class _Armed:
    timer: Timer
    fire_at: datetime
    fire: Fire
    late: bool


class RingTimers:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._armed: dict[str, _Armed] = {}

    def __len__(self) -> int:
        return len(self._armed)

    def __contains__(self, leg_pk: object) -> bool:
        return leg_pk in self._armed

    def arm(self, leg_pk: str, fire_at: datetime, fire: Fire, late: bool = False) -> None:
        self.cancel(leg_pk)

        def due() -> None:
            armed = self._armed.pop(leg_pk, None)
            if armed is not None:
                armed.fire(armed.late)

        self._armed[leg_pk] = _Armed(self.clock.call_at(fire_at, due), fire_at, fire, late)

    def cancel(self, leg_pk: str) -> None:
        armed = self._armed.pop(leg_pk, None)
        if armed is not None:
            armed.timer.cancel()

    def fire_due(self, upto: datetime) -> int:
        """Fire now, marked late, every timer due by `upto`, earliest first."""
        due = sorted((a.fire_at, pk) for pk, a in self._armed.items() if a.fire_at <= upto)
        for _, leg_pk in due:
            armed = self._armed.pop(leg_pk, None)
            if armed is not None:
                armed.timer.cancel()
                armed.fire(True)
        return len(due)

    def close(self) -> None:
        for armed in self._armed.values():
            armed.timer.cancel()
        self._armed.clear()
