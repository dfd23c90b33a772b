"""Priority by the cold (按室外温度排序), pure: a repair's score and band from its fault, the
outdoor temperature, the household's vulnerability and how long it has waited; and the rules
that tell a real outdoor temperature from a broken sensor's.

Points are added per factor, and each factor is given back as a reason with its points, so
the order a station works in can always be explained: 冰凉 (no heat at all) before 不热 (not
warm enough) before 要求测温 (the resident asks for a measurement); the colder outside, the
sooner; an elderly, infant or medically dependent household sooner; the longer the wait,
the sooner. An outdoor temperature that is unknown (no reading, a stale one, nonsense) adds
nothing and says so: the priority carries `temperature: unknown`, never a guess.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from callcenter.orders.model import Deadlines
from callcenter.tickets.model import Category, Status, Vulnerability

Band = Literal["critical", "high", "normal", "low"]
BANDS: tuple[Band, ...] = ("critical", "high", "normal", "low")
# ok: a fresh plausible reading. stale: the last good one is older than stale_after (the
# source is down or silent). unknown: no reading yet. invalid: the source's latest word was
# nonsense (−80 °C, text, JSON without a number).
TemperatureState = Literal["ok", "stale", "unknown", "invalid"]
TEMPERATURE_STATES: tuple[TemperatureState, ...] = ("ok", "stale", "unknown", "invalid")
Factor = Literal["category", "outdoor", "vulnerability", "waiting"]
# A ticket still waits for its repair in these: its priority orders the work.
WAITING_STATUSES: tuple[Status, ...] = ("open", "dispatched")


def _default_categories() -> dict[str, float]:
    # leak (漏水): damage in progress but the flat still heats: as 不热. other: unknown fault.
    return {"ice_cold": 40.0, "not_hot": 25.0, "leak": 25.0, "temperature_check": 10.0,
            "other": 5.0}  # fmt: skip


def _default_vulnerability() -> dict[str, float]:
    return {"elderly": 25.0, "infant": 25.0, "medical": 25.0}


@dataclass(frozen=True, slots=True)
class Weights:
    """How many points each factor adds ([priority] in the configuration)."""

    category: Mapping[str, float] = field(default_factory=_default_categories)
    # Below this outdoor temperature each degree colder adds points_per_degree, up to a cap.
    cold_below_celsius: float = 5.0
    points_per_degree: float = 1.5
    cold_points_max: float = 45.0
    vulnerability: Mapping[str, float] = field(default_factory=_default_vulnerability)
    points_per_hour_waiting: float = 2.0
    waiting_points_max: float = 48.0
    # The lowest score of each band but the last (low).
    critical_from: float = 80.0
    high_from: float = 55.0
    normal_from: float = 30.0

    def band(self, score: float) -> Band:
        if score >= self.critical_from:
            return "critical"
        if score >= self.high_from:
            return "high"
        if score >= self.normal_from:
            return "normal"
        return "low"


@dataclass(frozen=True, slots=True)
class Outdoor:
    """The outdoor temperature as a priority may use it: `celsius` only when `state` is ok."""

    state: TemperatureState
    celsius: float | None = None

    @property
    def known(self) -> bool:
        return self.state == "ok" and self.celsius is not None


@dataclass(frozen=True, slots=True)
class Reason:
    """One factor, what it was (a category, °C, a flag, hours waited; None: unknown) and the
    points it added."""

    factor: Factor
    value: str | float | None
    points: float


@dataclass(frozen=True, slots=True)
class Priority:
    score: float
    band: Band
    reasons: tuple[Reason, ...]
    outdoor: Outdoor


def cold_points(celsius: float, w: Weights) -> float:
    return min(max(0.0, (w.cold_below_celsius - celsius) * w.points_per_degree), w.cold_points_max)


def waiting_points(waited: timedelta, w: Weights) -> float:
    hours = max(0.0, waited.total_seconds() / 3600)
    return min(w.points_per_hour_waiting * hours, w.waiting_points_max)


def priority(
    category: Category | None,
    vulnerability: Vulnerability | None,
    waited: timedelta,
    outdoor: Outdoor,
    weights: Weights,
) -> Priority:
    """The score (points added per factor, rounded to 0.1), its band and the reasons."""
    points = weights.category.get(category, 0.0) if category is not None else 0.0
    reasons = [Reason("category", category, points)]
    if outdoor.known:
        assert outdoor.celsius is not None
        reasons.append(Reason("outdoor", outdoor.celsius, cold_points(outdoor.celsius, weights)))
    else:
        reasons.append(Reason("outdoor", None, 0.0))
    if vulnerability is not None:
        reasons.append(
            Reason("vulnerability", vulnerability, weights.vulnerability.get(vulnerability, 0.0))
        )
    hours = round(max(0.0, waited.total_seconds()) / 3600, 2)
    reasons.append(Reason("waiting", hours, waiting_points(waited, weights)))
    rounded = tuple(Reason(r.factor, r.value, round(r.points, 1)) for r in reasons)
    score = round(sum(r.points for r in reasons), 1)
    return Priority(score, weights.band(score), rounded, outdoor)


def waits(status: Status) -> bool:
    """Whether a ticket in `status` still waits for its repair (its priority matters)."""
    return status in WAITING_STATUSES


# -- dispatch deadlines by band ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineFactors:
    """How a band shortens a station's deadlines: each in (0, 1], 1 leaves it as it is."""

    accept: float = 1.0
    contact: float = 1.0
    repair: float = 1.0


def scaled(deadlines: Deadlines, f: DeadlineFactors) -> Deadlines:
    return Deadlines(
        accept=deadlines.accept * f.accept,
        contact=deadlines.contact * f.contact,
        repair=deadlines.repair * f.repair,
    )


# -- outdoor temperature readings -------------------------------------------------------------

# A reading claiming to come from further ahead than this is a clock or a sensor at fault.
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_PAYLOAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class Plausible:
    """The outdoor temperatures that can be real here ([priority] min/max_celsius)."""

    min_celsius: float = -50.0
    max_celsius: float = 45.0


@dataclass(frozen=True, slots=True)
class Reading:
    celsius: float
    at: datetime  # when it was measured (the payload's `at`), else when it was received
    received_at: datetime


class BadReading(Exception):
    """A reading that is not a plausible outdoor temperature; `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _reject_constant(name: str) -> Any:
    raise BadReading("not-finite", f"{name} is not a temperature")


def _number_at(data: Any, path: str) -> tuple[Any, Any]:
    """The value at the dotted `path` of a JSON object, and the `at` beside it."""
    node, parent = data, data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise BadReading("not-a-number", f"no number at {path!r}")
        parent, node = node, node[part]
    return node, parent.get("at") if isinstance(parent, dict) else None


def _when(value: Any, received_at: datetime) -> datetime:
    if value is None:
        return received_at
    if not isinstance(value, str):
        raise BadReading("bad-time", "at must be an ISO 8601 time with its offset")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadReading("bad-time", f"at is not an ISO 8601 time: {value[:40]!r}") from None
    if at.tzinfo is None:
        raise BadReading("bad-time", "at has no offset (add Z or +08:00)")
    try:
        at = at.astimezone(UTC)
    except OverflowError:  # year 1 at +14:00 is before the first instant a datetime holds
        raise BadReading("bad-time", f"at is out of range: {value[:40]!r}") from None
    if at - received_at > FUTURE_TOLERANCE:
        raise BadReading("future", f"at {value[:40]} is ahead of this service's clock")
    return at


def parse_reading(
    payload: bytes, received_at: datetime, plausible: Plausible, path: str = "celsius"
) -> Reading:
    """A payload as a reading: a bare number (`-12.5`), or JSON whose `path` is a number
    (`{"celsius": -12.5, "at": "2026-12-01T06:00:00+08:00"}`). Anything else, and numbers
    outside the plausible range, are refused with a reason: never read as a temperature."""
    if len(payload) > MAX_PAYLOAD:
        raise BadReading("too-large", f"{len(payload)} bytes is no temperature reading")
    try:
        text = payload.decode("utf-8").strip().replace("\u2212", "-")  # U+2212 minus sign
    except UnicodeDecodeError:
        raise BadReading("not-text", "the payload is not UTF-8 text") from None
    if not text:
        raise BadReading("not-a-number", "the payload is empty")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
        raise BadReading("not-a-number", f"not a number or JSON: {text[:40]!r}") from None
    at_value = None
    if isinstance(data, dict):
        data, at_value = _number_at(data, path)
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise BadReading("not-a-number", f"{path} is not a number: {str(data)[:40]!r}")
    try:
        celsius = float(data)
    except OverflowError:  # an integer of hundreds of digits
        raise BadReading("not-finite", "the value is not finite") from None
    if not math.isfinite(celsius):
        raise BadReading("not-finite", "the value is not finite")
    if not plausible.min_celsius <= celsius <= plausible.max_celsius:
        raise BadReading(
            "implausible",
            f"{celsius:g} °C is outside {plausible.min_celsius:g}…{plausible.max_celsius:g} °C",
        )
    return Reading(round(celsius, 2), _when(at_value, received_at), received_at)


@dataclass(frozen=True, slots=True)
class TemperatureNow:
    """The outdoor temperature now, as the API shows it; `celsius` only when ok."""

    state: TemperatureState
    celsius: float | None
    reason: str | None
    last_good: Reading | None

    @property
    def outdoor(self) -> Outdoor:
        return Outdoor(self.state, self.celsius if self.state == "ok" else None)


def temperature_now(
    last_good: Reading | None,
    invalid: str | None,
    down: str | None,
    now: datetime,
    stale_after: timedelta,
) -> TemperatureNow:
    """The newest word from the source decides: nonsense since the last good reading makes
    it invalid; a source that is down keeps the last good reading until it is stale."""
    if invalid is not None:
        return TemperatureNow("invalid", None, invalid, last_good)
    if last_good is None:
        return TemperatureNow("unknown", None, down or "no reading yet", None)
    age = now - last_good.at
    if age > stale_after:
        minutes = int(age.total_seconds() // 60)
        why = f"the last reading is {minutes} min old"
        return TemperatureNow("stale", None, f"{why}; {down}" if down else why, last_good)
    return TemperatureNow("ok", last_good.celsius, None, last_good)
