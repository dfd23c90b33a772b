"""What every PBX event source (HEP, AMI, ESL, MQTT) shares: its status for /api/sources
and the resync window. The command port (redirect) is the domain's, in callcenter.signals."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from callcenter.clock import iso_z
from callcenter.signals import SourceEvent

State = Literal["starting", "connecting", "connected", "backoff", "auth_failed", "listening"]
OnEvent = Callable[[SourceEvent], None]

_RATE_WINDOW = 10.0  # seconds over which events/s is averaged


@dataclass
class SourceStatus:
    """Health of one source, as shown at /api/sources and on the live page. Never holds a
    credential: it is rendered as is."""

    id: str
    kind: str
    address: str
    state: State = "starting"
    connected_since: datetime | None = None
    last_event_at: datetime | None = None
    events: int = 0
    errors: int = 0
    last_error: str | None = None
    reconnects: int = 0
    # When `state` last changed (monotonic): how long a source has been down, for health.
    state_since: float = field(default_factory=time.monotonic, repr=False)
    _recent: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def __setattr__(self, name: str, value: object) -> None:
        if name == "state" and getattr(self, "state", None) != value:
            object.__setattr__(self, "state_since", time.monotonic())
        object.__setattr__(self, name, value)

    def down_for(self) -> float:
        """Seconds the source has not been connected (0 while it is)."""
        if self.state in ("connected", "listening"):
            return 0.0
        return time.monotonic() - self.state_since

    def count_events(self, n: int = 1) -> None:
        """Count `n` events handed to the core (call it per read, not per event, if hot)."""
        self.events += n
        self.last_event_at = datetime.now(UTC)
        now = time.monotonic()
        recent = self._recent
        if recent and now - recent[-1][0] < 0.5:
            t, c = recent.pop()
            recent.append((t, c + n))
        else:
            recent.append((now, n))
        while recent and now - recent[0][0] > _RATE_WINDOW:
            recent.popleft()

    def events_per_second(self) -> float:
        now = time.monotonic()
        total = sum(c for t, c in self._recent if now - t <= _RATE_WINDOW)
        return round(total / _RATE_WINDOW, 2)

    def error(self, message: str) -> None:
        """Record a problem (bad input, lost connection); `message` must hold no secret."""
        self.errors += 1
        self.last_error = message[:300]

    def connected(self) -> None:
        self.state = "connected"
        self.connected_since = datetime.now(UTC)

    def disconnected(self, state: State = "backoff") -> None:
        self.state = state
        self.connected_since = None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "address": self.address,
            "state": self.state,
            "connected_since": iso_z(self.connected_since),
            "last_event_at": iso_z(self.last_event_at),
            "events": self.events,
            "events_per_second": self.events_per_second(),
            "errors": self.errors,
            "last_error": self.last_error,
            "reconnects": self.reconnects,
        }


class ResyncWindow:
    """Ids named by events that arrive between a resync request and its answer. Those events
    are newer than the PBX's snapshot: the snapshot must not end or close what they touched.
    Every adapter whose resync is a snapshot (AMI, ESL) keeps one."""

    def __init__(self) -> None:
        self._ids: set[str] | None = None

    def begin(self) -> None:
        """Call just before asking the PBX for its live calls."""
        self._ids = set()

    def note(self, *ids: str | None) -> None:
        if self._ids is not None:
            self._ids.update(i for i in ids if i)

    def finish(self) -> frozenset[str]:
        """The ids touched since `begin` (none if no resync was begun); the window closes."""
        ids, self._ids = self._ids, None
        return frozenset(ids or ())

    def cancel(self) -> None:
        """The PBX did not answer the resync: stop noting."""
        self._ids = None


class PbxSource(Protocol):
    """An adapter: runs forever (connect, read, reconnect with backoff), reports status."""

    status: SourceStatus

    async def run(self) -> None: ...
