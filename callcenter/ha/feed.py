"""The standby's feed: the call signals it hears (HEP mirrored to both instances) kept for
`ha.backlog_seconds`, then handed to the call tracker at takeover, in order.

The active saves call state up to ~100 ms behind (calls/writer.py) and a takeover leaves a
gap of its own: what the active never saved and what was said during the gap is in here.
Replaying it over the state restored from the database is safe, because applying a signal
twice changes nothing (calls/model.py ignores a ring, answer or end it already has).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from callcenter.signals import SourceEvent

Handle = Callable[[SourceEvent], None]
CatchUp = Callable[[list[SourceEvent]], None]

# At 20,000 SIP messages/s a 15 s backlog is ~150,000 signals; past this the oldest go.
MAX_EVENTS = 500_000


class Feed:
    def __init__(
        self,
        keep_seconds: float,
        max_events: int = MAX_EVENTS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keep_seconds = keep_seconds
        self.max_events = max_events
        self._monotonic = monotonic
        self._kept: deque[tuple[float, SourceEvent]] = deque()
        self._to: Handle | None = None
        self.dropped = 0

    def handle(self, event: SourceEvent) -> None:
        """The sources' `on_event`: kept while standby, passed on once active."""
        if self._to is not None:
            self._to(event)
            return
        now = self._monotonic()
        kept = self._kept
        kept.append((now, event))
        while kept and (now - kept[0][0] > self.keep_seconds or len(kept) > self.max_events):
            kept.popleft()
            self.dropped += 1

    def hand_over(self, catch_up: CatchUp, handle: Handle) -> int:
        """Give what was kept to `catch_up`, then every later signal to `handle` (no signal
        can come between: the event loop runs this in one step). Returns how many."""
        now = self._monotonic()
        events = [e for at, e in self._kept if now - at <= self.keep_seconds]
        self._kept.clear()
        catch_up(events)
        self._to = handle
        return len(events)

    @property
    def kept(self) -> int:
        return len(self._kept)
