"""Settings: parsed once from TOML into frozen dataclasses; every error names its key.

The commented defaults live in config/callcenter.toml; the same defaults are embedded
here so the service starts with no file at all.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """A bad configuration: `key` is the dotted key at fault."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class WebSettings:
    listen: HostPort = HostPort("127.0.0.1", 8080)
    # Sets the Secure flag on the session cookie; turn on behind HTTPS.
    secure_cookies: bool = False
    session_hours: float = 12.0
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///var/callcenter.sqlite3"


@dataclass(frozen=True, slots=True)
class RecordingsSettings:
    root: str = "recordings"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    url: str = ""
    embedded_listen: HostPort = HostPort("127.0.0.1", 1883)
    topic_prefix: str = "callcenter"

    @property
    def embedded(self) -> bool:
        return self.url == ""

    @property
    def broker(self) -> HostPort:
        if self.embedded:
            return self.embedded_listen
        parts = urlsplit(self.url)
        return HostPort(parts.hostname or "127.0.0.1", parts.port or 1883)

    @property
    def username(self) -> str | None:
        return urlsplit(self.url).username if self.url else None

    @property
    def password(self) -> str | None:
        return urlsplit(self.url).password if self.url else None


@dataclass(frozen=True, slots=True)
class SipSettings:
    hep_listen: HostPort = HostPort("127.0.0.1", 9060)
    # Empty accepts any sender; otherwise HEP packets must carry this auth key (chunk 0x000e).
    hep_password: str = ""
    # A leg rung longer than this without any further message is closed as lost.
    max_ring_seconds: float = 600.0
    # An answered call with no BYE for this long is closed (a BYE lost in transit).
    max_call_seconds: float = 14_400.0


@dataclass(frozen=True, slots=True)
class RingSettings:
    cycle_seconds: float = 5.0
    limit: int = 3

    @property
    def deadline_seconds(self) -> float:
        return self.cycle_seconds * self.limit


@dataclass(frozen=True, slots=True)
class Settings:
    web: WebSettings = field(default_factory=WebSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    recordings: RecordingsSettings = field(default_factory=RecordingsSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    rings: RingSettings = field(default_factory=RingSettings)
    # Relative paths (SQLite file, recordings) are resolved against this directory.
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute against base_dir."""
        url = self.database.url
        prefix = "sqlite+aiosqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.base_dir / url[len(prefix) :])
        return url

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.web.timezone)


def _host_port(key: str, value: Any) -> HostPort:
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(key, f'must be "host:port", got {value!r}')
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError(key, f'must be "host:port" with a port 0-65535, got {value!r}')
    return HostPort(host, int(port_text))


def _check_type(key: str, value: Any, expected: type) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):
        raise ConfigError(key, f"must be an integer, got {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(key, f"must be {expected.__name__}, got {value!r}")
    return value


def _section(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(name, "must be a table")
    defaults = cls()
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{name}.{key}"
        if key not in known:
            raise ConfigError(dotted, f"unknown key (known: {', '.join(sorted(known))})")
        current = getattr(defaults, key)
        if isinstance(current, HostPort):
            values[key] = _host_port(dotted, value)
        else:
            values[key] = _check_type(dotted, value, type(current))
    return replace(defaults, **values)


_SECTIONS: dict[str, type] = {
    "web": WebSettings,
    "database": DatabaseSettings,
    "recordings": RecordingsSettings,
    "mqtt": MqttSettings,
    "sip": SipSettings,
    "rings": RingSettings,
}


def _validate(s: Settings) -> None:
    if s.rings.cycle_seconds <= 0:
        raise ConfigError("rings.cycle_seconds", f"must be > 0, got {s.rings.cycle_seconds}")
    if s.rings.limit < 1:
        raise ConfigError("rings.limit", f"must be >= 1, got {s.rings.limit}")
    if not s.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "database.url",
            f"must start with sqlite+aiosqlite:// or postgresql+asyncpg://, got {s.database.url!r}",
        )
    if s.mqtt.url and urlsplit(s.mqtt.url).scheme not in ("mqtt", "tcp"):
        raise ConfigError("mqtt.url", 'must be empty or "mqtt://host:port"')
    if not s.recordings.root:
        raise ConfigError("recordings.root", "must not be empty")
    if s.web.session_hours <= 0:
        raise ConfigError("web.session_hours", "must be > 0")
    for key, value in (
        ("sip.max_ring_seconds", s.sip.max_ring_seconds),
        ("sip.max_call_seconds", s.sip.max_call_seconds),
    ):
        if value <= s.rings.deadline_seconds:
            raise ConfigError(key, "must be longer than rings.limit × rings.cycle_seconds")
    try:
        ZoneInfo(s.web.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("web.timezone", f"unknown time zone {s.web.timezone!r}") from exc


def parse_settings(raw: dict[str, Any], base_dir: Path | None = None) -> Settings:
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(name, f"unknown section (known: {', '.join(sorted(_SECTIONS))})")
        sections[name] = _section(name, _SECTIONS[name], value)
    settings = Settings(**sections, base_dir=base_dir or Path.cwd())
    _validate(settings)
    return settings


def load_settings(path: Path | None) -> Settings:
    """Read a TOML file (None: the embedded defaults, relative to the working directory)."""
    if path is None:
        return parse_settings({})
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError("--config", f"no such file: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from exc
    return parse_settings(raw, base_dir=Path.cwd())
