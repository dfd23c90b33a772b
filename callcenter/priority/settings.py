"""[priority]: where the outdoor temperature comes from, how it counts, and how much each
factor of a repair's priority weighs.

[priority]
temperature_source = "config"   # "config" | "mqtt" | "http"
temperature_celsius = -12.0     # "config": a fixed value; unset: the temperature is unknown
mqtt_topic = "weather/outdoor"  # "mqtt": a topic on the service's broker ([mqtt])
http_url = "https://…"          # "http": a JSON endpoint, read every http_interval_seconds
json_field = "celsius"          # where the number is in a JSON payload (dotted path)
stale_after_minutes = 60        # a reading older than this no longer counts
min_celsius = -50               # readings outside min…max are a sensor at fault, refused
max_celsius = 45

[priority.deadlines.critical]   # optional: shorter station deadlines for a band
repair_factor = 0.5
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from itertools import pairwise
from typing import Any, Literal
from urllib.parse import urlsplit

from callcenter.errors import ConfigError
from callcenter.priority.model import (
    BANDS,
    Band,
    DeadlineFactors,
    Plausible,
    Weights,
)
from callcenter.tickets.model import CATEGORIES, VULNERABILITIES

Source = Literal["config", "mqtt", "http"]
SOURCES: tuple[Source, ...] = ("config", "mqtt", "http")
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# The order (冰凉 before 不热 before 要求测温): a configuration may not reverse it.
_CATEGORY_ORDER = ("ice_cold", "not_hot", "temperature_check")


@dataclass(frozen=True, slots=True)
class PrioritySettings:
    temperature_source: Source = "config"
    temperature_celsius: float | None = None
    mqtt_topic: str = ""
    # May carry an API key in its query: shown and logged as scheme://host/path only.
    http_url: str = field(default="", repr=False)
    http_interval_seconds: float = 300.0
    http_timeout_seconds: float = 10.0
    json_field: str = "celsius"
    stale_after_minutes: float = 60.0
    plausible: Plausible = field(default_factory=Plausible)
    weights: Weights = field(default_factory=Weights)
    deadlines: dict[Band, DeadlineFactors] = field(default_factory=dict)

    @property
    def stale_after(self) -> timedelta:
        return timedelta(minutes=self.stale_after_minutes)

    def factors(self, band: Band) -> DeadlineFactors:
        return self.deadlines.get(band, DeadlineFactors())


def _number(key: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        where = f"{low:g}…{high:g}" if low is not None and high is not None else f">= {low:g}"
        raise ConfigError(key, f"must be {where}, got {value!r}")
    return float(value)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string, got {type(value).__name__}")
    return value.strip()


def _table(key: str, raw: Any, known: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(key, "must be a table")
    for name in raw:
        if name not in known:
            raise ConfigError(f"{key}.{name}", f"unknown key (known: {', '.join(known)})")
    return raw


def _points(key: str, raw: Any, names: tuple[str, ...], default: Any) -> dict[str, float]:
    values = dict(default)
    for name, value in _table(key, raw, names).items():
        values[name] = _number(f"{key}.{name}", value, 0.0, 1000.0)
    return values


def _categories(raw: Any, default: Any) -> dict[str, float]:
    points = _points("priority.category_points", raw, CATEGORIES, default)
    for higher, lower in pairwise(_CATEGORY_ORDER):
        if points[higher] < points[lower]:
            raise ConfigError(
                f"priority.category_points.{higher}",
                f"must be >= {lower} ({points[lower]:g}), got {points[higher]:g}: "
                "冰凉 (ice_cold) before 不热 (not_hot) before 要求测温 (temperature_check)",
            )
    return points


def _bands(raw: Any, w: Weights) -> dict[str, float]:
    table = _table("priority.bands", raw, ("critical", "high", "normal"))
    bands = {"critical": w.critical_from, "high": w.high_from, "normal": w.normal_from}
    for name, value in table.items():
        bands[name] = _number(f"priority.bands.{name}", value, 0.0, 10_000.0)
    if not bands["critical"] > bands["high"] > bands["normal"]:
        raise ConfigError("priority.bands", f"must rise: normal < high < critical, got {bands}")
    return bands


def _deadlines(raw: Any) -> dict[Band, DeadlineFactors]:
    out: dict[Band, DeadlineFactors] = {}
    for band, table in _table("priority.deadlines", raw, BANDS).items():
        key = f"priority.deadlines.{band}"
        names = ("accept_factor", "contact_factor", "repair_factor")
        values = {
            # 004's 4 hours is the hotline's own limit: a band may shorten it, never lengthen.
            name.removesuffix("_factor"): _factor(f"{key}.{name}", value)
            for name, value in _table(key, table, names).items()
        }
        out[next(b for b in BANDS if b == band)] = DeadlineFactors(**values)
    return out


def _factor(key: str, value: Any) -> float:
    number = _number(key, value)
    if not 0 < number <= 1:
        raise ConfigError(key, f"must be more than 0 and at most 1 (shorter, never longer), "
                               f"got {value!r}")  # fmt: skip
    return number


_SCALARS = (
    "temperature_source", "temperature_celsius", "mqtt_topic", "http_url",
    "http_interval_seconds", "http_timeout_seconds", "json_field", "stale_after_minutes",
    "min_celsius", "max_celsius", "cold_below_celsius", "points_per_degree", "cold_points_max",
    "points_per_hour_waiting", "waiting_points_max",
)  # fmt: skip
_TABLES = ("category_points", "vulnerability_points", "bands", "deadlines")


def _source(raw: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "temperature_source" in raw:
        source = raw["temperature_source"]
        if source not in SOURCES:
            raise ConfigError(
                "priority.temperature_source",
                f"must be one of {', '.join(SOURCES)}, got {source!r}",
            )
        values["temperature_source"] = source
    for name in ("mqtt_topic", "http_url", "json_field"):
        if name in raw:
            values[name] = _text(f"priority.{name}", raw[name])
    for name, low, high in (
        ("http_interval_seconds", 0.1, 86_400.0),
        ("http_timeout_seconds", 0.1, 120.0),
        ("stale_after_minutes", 0.1, 7 * 24 * 60.0),
    ):
        if name in raw:
            values[name] = _number(f"priority.{name}", raw[name], low, high)
    return values


def _check_source(s: PrioritySettings) -> None:
    if not _FIELD_RE.match(s.json_field):
        raise ConfigError(
            "priority.json_field", f"must be a dotted name such as current.temperature_2m, "
                                   f"got {s.json_field!r}"
        )  # fmt: skip
    if s.temperature_source == "mqtt":
        if not s.mqtt_topic:
            raise ConfigError("priority.mqtt_topic", 'required with temperature_source = "mqtt"')
        if any(c in s.mqtt_topic for c in "+#") or len(s.mqtt_topic) > 256:
            raise ConfigError("priority.mqtt_topic", "must be one topic (no + or # wildcards)")
    if s.temperature_source == "http":
        parts = urlsplit(s.http_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # Never echo the URL: its query may hold an API key.
            raise ConfigError("priority.http_url", "must be an http:// or https:// URL")
    if s.temperature_celsius is not None and not (
        s.plausible.min_celsius <= s.temperature_celsius <= s.plausible.max_celsius
    ):
        raise ConfigError(
            "priority.temperature_celsius",
            f"must be within min_celsius…max_celsius ({s.plausible.min_celsius:g}…"
            f"{s.plausible.max_celsius:g}), got {s.temperature_celsius:g}",
        )


def parse_priority(raw: Any) -> PrioritySettings:
    if not isinstance(raw, dict):
        raise ConfigError("priority", "must be a table")
    known = (*_SCALARS, *_TABLES)
    for name in raw:
        if name not in known:
            raise ConfigError(
                f"priority.{name}", f"unknown key (known: {', '.join(sorted(known))})"
            )
    values = _source(raw)
    if "temperature_celsius" in raw:
        values["temperature_celsius"] = _number(
            "priority.temperature_celsius", raw["temperature_celsius"]
        )
    plausible = Plausible()
    for name in ("min_celsius", "max_celsius"):
        if name in raw:
            plausible = replace(plausible, **{name: _number(f"priority.{name}", raw[name],
                                                            -100.0, 100.0)})  # fmt: skip
    if plausible.min_celsius >= plausible.max_celsius:
        raise ConfigError("priority.max_celsius", "must be above min_celsius")
    w = Weights()
    numbers: dict[str, Any] = {}
    for name in ("cold_below_celsius",):
        if name in raw:
            numbers[name] = _number(f"priority.{name}", raw[name], -100.0, 100.0)
    for name in ("points_per_degree", "cold_points_max", "points_per_hour_waiting",
                 "waiting_points_max"):  # fmt: skip
        if name in raw:
            numbers[name] = _number(f"priority.{name}", raw[name], 0.0, 1000.0)
    bands = _bands(raw.get("bands", {}), w)
    w = replace(
        w,
        **numbers,
        category=_categories(raw.get("category_points", {}), w.category),
        vulnerability=_points(
            "priority.vulnerability_points",
            raw.get("vulnerability_points", {}),
            VULNERABILITIES,
            w.vulnerability,
        ),
        critical_from=bands["critical"],
        high_from=bands["high"],
        normal_from=bands["normal"],
    )
    settings = PrioritySettings(
        **values,
        plausible=plausible,
        weights=w,
        deadlines=_deadlines(raw.get("deadlines", {})),
    )
    _check_source(settings)
    return settings
