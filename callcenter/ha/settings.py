"""[ha]: an active/standby pair on one PostgreSQL database (docs/failover.md).

    [ha]
    enabled = false          # true on both instances of a pair (PostgreSQL only)
    instance = ""            # this instance's name; empty: the host name
    takeover_seconds = 3.0   # the standby is active within this after the active dies
    backlog_seconds = 15.0   # call signals the standby keeps to catch up at takeover

Off (the default), the one instance is always active, as before. With SQLite there is no
pair: one process owns the file.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, fields, replace
from typing import Any

from callcenter.errors import ConfigError


@dataclass(frozen=True, slots=True)
class HaSettings:
    enabled: bool = False
    instance: str = ""
    takeover_seconds: float = 3.0
    backlog_seconds: float = 15.0

    @property
    def name(self) -> str:
        """How /api/health, the logs and the alert log name this instance."""
        return self.instance or socket.gethostname()

    @property
    def poll_seconds(self) -> float:
        """How often the standby asks for the lock: a tenth of the takeover time."""
        return self.takeover_seconds / 10

    @property
    def heartbeat_seconds(self) -> float:
        return self.takeover_seconds / 6

    @property
    def silence_seconds(self) -> float:
        """How long PostgreSQL lets the active's lock session stay silent before it ends it
        (idle_session_timeout): what is left of the takeover time after two polls."""
        return max(1.0, self.takeover_seconds - 2 * self.poll_seconds)


def parse_ha(raw: Any) -> HaSettings:
    if not isinstance(raw, dict):
        raise ConfigError("ha", "must be a table")
    known = {f.name: f for f in fields(HaSettings)}
    defaults = HaSettings()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"ha.{key}"
        if key not in known:
            raise ConfigError(dotted, f"unknown key (known: {', '.join(sorted(known))})")
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(dotted, f"must be {expected.__name__}, got {value!r}")
        values[key] = value
    ha = replace(defaults, **values)
    if not 1.0 <= ha.takeover_seconds <= 300:
        raise ConfigError("ha.takeover_seconds", f"must be 1-300, got {ha.takeover_seconds}")
    if not 1.0 <= ha.backlog_seconds <= 600:
        raise ConfigError("ha.backlog_seconds", f"must be 1-600, got {ha.backlog_seconds}")
    if len(ha.instance) > 48 or any(not (c.isalnum() or c in "-_.") for c in ha.instance):
        raise ConfigError(
            "ha.instance", f"must be up to 48 letters, digits, '-', '_' or '.', got {ha.instance!r}"
        )
    return ha


def check_database(ha: HaSettings, database_url: str) -> None:
    """A pair shares one PostgreSQL database; SQLite belongs to one process."""
    if ha.enabled and not database_url.startswith("postgresql"):
        raise ConfigError(
            "ha.enabled",
            "an active/standby pair needs PostgreSQL (database.url); "
            "with SQLite the one instance is always active",
        )
