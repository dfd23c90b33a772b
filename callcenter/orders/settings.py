"""[orders]: how long a station has for each step, and how orders reach the stations.

[orders]
accept_minutes = 30        # 异常事件 1: the station has not taken the order
contact_minutes = 60       # 异常事件 2: nobody has called the resident
repair_hours = 4           # 异常事件 3: not repaired within 4 hours (004)
report_within_minutes = 30 # an agent reports a late step to the department head by then
resend_seconds = 60        # an order its station has not acknowledged is sent again

[orders.stations.hongcheng]   # one station's own terms and its webhook, all optional
accept_minutes = 20
webhook_url = "https://station.example/orders"
webhook_secret = "…"          # HMAC-SHA256 key; never logged or shown
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from callcenter.errors import ConfigError
from callcenter.orders.model import Deadlines

_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class StationTerms:
    """One station's own deadlines (None: the global one) and optional webhook."""

    accept_minutes: float | None = None
    contact_minutes: float | None = None
    repair_hours: float | None = None
    # False: a station working on the portal only (no MQTT client to acknowledge orders).
    mqtt: bool = True
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class OrdersSettings:
    accept_minutes: float = 30.0
    contact_minutes: float = 60.0
    repair_hours: float = 4.0
    report_within_minutes: float = 30.0
    resend_seconds: float = 60.0
    # A webhook still failing after this long is parked (shown on health), not retried.
    webhook_retry_hours: float = 24.0
    stations: dict[str, StationTerms] = field(default_factory=dict)

    def deadlines(self, station: str) -> Deadlines:
        own = self.stations.get(station, StationTerms())
        return Deadlines(
            accept=timedelta(minutes=_or(own.accept_minutes, self.accept_minutes)),
            contact=timedelta(minutes=_or(own.contact_minutes, self.contact_minutes)),
            repair=timedelta(hours=_or(own.repair_hours, self.repair_hours)),
        )

    @property
    def report_within(self) -> timedelta:
        return timedelta(minutes=self.report_within_minutes)


def _or(own: float | None, default: float) -> float:
    return default if own is None else own


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if value <= 0:
        raise ConfigError(key, f"must be > 0, got {value!r}")
    return float(value)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string, got {value!r}")
    return value


def _station(code: str, raw: Any) -> StationTerms:
    key = f"orders.stations.{code}"
    if not _CODE_RE.match(code):
        raise ConfigError(key, "a station code is 1-32 of a-z 0-9 _ - (as in stations.toml)")
    if not isinstance(raw, dict):
        raise ConfigError(key, "must be a table")
    known = {f.name for f in fields(StationTerms)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in known:
            raise ConfigError(f"{key}.{name}", f"unknown key (known: {', '.join(sorted(known))})")
        if name.startswith("webhook_"):
            values[name] = _text(f"{key}.{name}", value)
        elif name == "mqtt":
            if not isinstance(value, bool):
                raise ConfigError(f"{key}.mqtt", f"must be true or false, got {value!r}")
            values[name] = value
        else:
            values[name] = _number(f"{key}.{name}", value)
    terms = StationTerms(**values)
    if terms.webhook_url:
        if urlsplit(terms.webhook_url).scheme not in ("http", "https"):
            raise ConfigError(f"{key}.webhook_url", "must be an http:// or https:// URL")
        if len(terms.webhook_secret) < 16:
            raise ConfigError(
                f"{key}.webhook_secret", "a webhook needs a secret of at least 16 characters"
            )
    elif terms.webhook_secret:
        raise ConfigError(f"{key}.webhook_url", "webhook_secret is set without webhook_url")
    return terms


def parse_orders(raw: Any) -> OrdersSettings:
    if not isinstance(raw, dict):
        raise ConfigError("orders", "must be a table")
    known = {f.name for f in fields(OrdersSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"orders.{name}"
        if name not in known:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(known))})")
        if name == "stations":
            if not isinstance(value, dict):
                raise ConfigError(key, "must be a table of [orders.stations.<code>] tables")
            values[name] = {code: _station(code, terms) for code, terms in value.items()}
        else:
            values[name] = _number(key, value)
    return OrdersSettings(**values)
