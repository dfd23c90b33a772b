"""The outdoor temperature now, from the configured source, and each repair's priority with it.

The feeds (callcenter/mqtt/temperature.py, priority/poll.py) only hand payloads and failures
to `OutdoorTemperature`; what counts as a reading, and when it stops counting, is the model's.
A payload that is not a plausible temperature is logged, counted and shown (the API, health),
and the temperature is unknown until a good one comes: never a wrong priority in silence.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from callcenter.clock import Clock
from callcenter.orders.model import Deadlines
from callcenter.priority import model
from callcenter.priority.model import BadReading, Priority, Reading, TemperatureNow
from callcenter.priority.settings import PrioritySettings
from callcenter.tickets.model import Ticket

log = logging.getLogger(__name__)


def public_url(url: str) -> str:
    """scheme://host[:port]/path of a URL: no user, password or query (an API key's place)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True, slots=True)
class SourceError:
    """The last thing that went wrong with the source: `invalid` (it sent nonsense) or
    `down` (it could not be reached, or answered with an error)."""

    at: datetime
    kind: Literal["invalid", "down"]
    code: str
    reason: str


class OutdoorTemperature:
    """What the source has said: the last good reading, the nonsense since (if any), whether
    it is down; and the counts /api/health shows."""

    def __init__(self, settings: PrioritySettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._good: Reading | None = None
        self._invalid: str | None = None
        self._down: str | None = None
        self.last_error: SourceError | None = None
        self.readings = 0
        self.invalid: Counter[str] = Counter()
        self.failures = 0

    @property
    def source(self) -> str:
        return self.settings.temperature_source

    @property
    def where(self) -> str | None:
        """Where the readings come from, safe to show (no credentials, no query)."""
        s = self.settings
        if s.temperature_source == "mqtt":
            return s.mqtt_topic
        if s.temperature_source == "http":
            return public_url(s.http_url)
        return None

    def now(self) -> TemperatureNow:
        s = self.settings
        if s.temperature_source == "config":
            if s.temperature_celsius is None:
                why = "priority.temperature_celsius is not set"
                return TemperatureNow("unknown", None, why, None)
            # A fixed value is what the operator says it is today: it never goes stale.
            at = self.clock.now()
            return TemperatureNow(
                "ok", s.temperature_celsius, None, Reading(s.temperature_celsius, at, at)
            )
        return model.temperature_now(
            self._good, self._invalid, self._down, self.clock.now(), s.stale_after
        )

    # -- what the feeds report --------------------------------------------------------------
    def offer(self, payload: bytes) -> bool:
        """A payload from the source: a reading when it is one (True), else refused."""
        now = self.clock.now()
        s = self.settings
        try:
            reading = model.parse_reading(payload, now, s.plausible, s.json_field)
            if self._good is not None and reading.at < self._good.at:
                # Delivered out of order (a buffered sensor, a replayed retained message):
                # the newer reading stands, and the source is not the worse for it.
                self.invalid["out-of-order"] += 1
                log.debug("outdoor temperature older than the last one, ignored at=%s", reading.at)
                return False
        except BadReading as bad:
            self._refuse(bad, now)
            return False
        except Exception as exc:  # one payload must never stop the feed
            log.exception("outdoor temperature payload not understood")
            self._refuse(BadReading("unreadable", f"{type(exc).__name__}: {exc}"[:200]), now)
            return False
        if self._invalid is not None or self._down is not None:
            log.info(
                "outdoor temperature back source=%s where=%s celsius=%.1f",
                self.source, self.where, reading.celsius,
            )  # fmt: skip
        self._good = reading
        self._invalid = None
        self._down = None
        self.readings += 1
        return True

    def _refuse(self, bad: BadReading, now: datetime) -> None:
        self.invalid[bad.code] += 1
        # Once per streak (a broken sensor may send every second); the rest are counted.
        first = self._invalid is None or self.last_error is None or self.last_error.code != bad.code
        self._invalid = f"{bad.code}: {bad.message}"
        self.last_error = SourceError(now, "invalid", bad.code, bad.message)
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "outdoor temperature refused source=%s where=%s reason=%s message=%s: the "
            "temperature is unknown until a plausible reading comes",
            self.source, self.where, bad.code, bad.message,
        )  # fmt: skip

    def failed(self, code: str, reason: str) -> None:
        """The source could not be read (connection refused, HTTP 500, a timeout, the
        broker away): the last good reading still counts until it is stale."""
        now = self.clock.now()
        self.failures += 1
        first = self._down != reason
        self._down = reason
        self.last_error = SourceError(now, "down", code, reason)
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "outdoor temperature source unavailable source=%s where=%s reason=%s",
            self.source, self.where, reason,
        )  # fmt: skip

    def status(self) -> dict[str, object]:
        """For /api/health's components (the API's own view is schemas.temperature_json)."""
        now = self.now()
        return {
            "source": self.source,
            "where": self.where,
            "state": now.state,
            "celsius": now.celsius,
            "reason": now.reason,
            "readings": self.readings,
            "invalid": dict(self.invalid),
            "failures": self.failures,
        }


class Prioritizer:
    """Each repair's priority now: its ticket, the outdoor temperature now, the clock."""

    def __init__(self, settings: PrioritySettings, temperature: OutdoorTemperature) -> None:
        self.settings = settings
        self.temperature = temperature

    def of(self, ticket: Ticket, outdoor: model.Outdoor | None = None) -> Priority:
        """The ticket's priority whatever its status (an order being dispatched)."""
        if outdoor is None:
            outdoor = self.temperature.now().outdoor
        waited = self.temperature.clock.now() - ticket.created_at
        return model.priority(
            ticket.category, ticket.vulnerability, waited, outdoor, self.settings.weights
        )

    def of_waiting(self, ticket: Ticket) -> Priority | None:
        """A repair still waiting (open, or at its station); None for anything else, whose
        place in a queue no longer matters."""
        if ticket.kind != "repair" or not model.waits(ticket.status):
            return None
        return self.of(ticket)

    def deadlines(self, ticket: Ticket, base: Deadlines) -> tuple[Deadlines, Priority]:
        """The station's deadlines for this order, shortened as its band says (at dispatch)."""
        p = self.of(ticket)
        return model.scaled(base, self.settings.factors(p.band)), p
