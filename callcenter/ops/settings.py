"""[log]: how the service writes its log (standard error): `format` "text" (one readable
line) or "json" (one JSON object per line), and `level` (debug, info, warning, error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from callcenter.errors import ConfigError

Format = Literal["text", "json"]
LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class LogSettings:
    format: Format = "text"
    level: str = "info"


def parse_log(raw: Any) -> LogSettings:
    if not isinstance(raw, dict):
        raise ConfigError("log", "must be a table")
    unknown = sorted(set(raw) - {"format", "level"})
    if unknown:
        raise ConfigError(f"log.{unknown[0]}", "unknown key (known: format, level)")
    fmt = raw.get("format", "text")
    if fmt not in ("text", "json"):
        raise ConfigError("log.format", f'must be "text" or "json", got {fmt!r}')
    level = raw.get("level", "info")
    if level not in LEVELS:
        raise ConfigError("log.level", f"must be one of {', '.join(LEVELS)}, got {level!r}")
    return LogSettings(fmt, level)
