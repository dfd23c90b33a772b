"""[speech]: transcribing recordings (issue 16), the optional extra `callcenter[speech]`.

    [speech]
    enabled = "auto"        # "auto": on when the extra is installed; "off"; true: required
    workers = 1             # worker processes transcribing at once (each ~350 MB)
    nice = 10               # their CPU priority below call handling (os.nice, 0-19)
    idle = true             # and Linux's SCHED_IDLE class: only CPU nothing else wants
    chunk_seconds = 60.0    # long recordings are transcribed this many seconds at a time
    pinyin_tolerance = 0.2  # phrase spotting: share of toneless syllables that may differ

Whether the extra is installed is known only at start-up (app/resources.py): "required"
without it stops the service there, naming speech.enabled.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from callcenter.errors import ConfigError

Enabled = Literal["auto", "off", "required"]


@dataclass(frozen=True, slots=True)
class SpeechSettings:
    enabled: Enabled = "auto"
    workers: int = 1
    nice: int = 10
    # Measured (bench_hep --transcribe): with nice 10 alone, other work on the service's core
    # plus the worker made the service drop datagrams in a ringing storm (600 legs never seen
    # ringing); a SCHED_IDLE process runs only when no other process wants the core.
    idle: bool = True
    chunk_seconds: float = 60.0
    pinyin_tolerance: float = 0.2


def _enabled(key: str, value: Any) -> Enabled:
    # TOML's true reads as "required" (start-up fails without the extra); false as "off".
    if value is True:
        return "required"
    if value is False or value == "off":
        return "off"
    if value == "auto":
        return "auto"
    raise ConfigError(key, f'must be "auto", "off" or true, got {value!r}')


def _int(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(key, f"must be a whole number {low}-{high}, got {value!r}")
    return value


def _number(key: str, value: Any, low: float, high: float, *, below_high: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and (low <= value < high if below_high else low <= value <= high):
        return float(value)
    upper = f"below {high}" if below_high else f"at most {high}"
    raise ConfigError(key, f"must be a number from {low}, {upper}, got {value!r}")


def parse_speech(raw: Any) -> SpeechSettings:
    if not isinstance(raw, dict):
        raise ConfigError("speech", "must be a table")
    known = {f.name for f in fields(SpeechSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"speech.{name}"
        if name not in known:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(known))})")
        if name == "enabled":
            values[name] = _enabled(key, value)
        elif name == "workers":
            values[name] = _int(key, value, 1, 64)
        elif name == "nice":
            # os.nice only lowers a process's priority: 0 is call handling's own.
            values[name] = _int(key, value, 0, 19)
        elif name == "idle":
            if not isinstance(value, bool):
                raise ConfigError(key, f"must be true or false, got {value!r}")
            values[name] = value
        elif name == "chunk_seconds":
            # Whisper hears 30 s at a time; an hour at once is already ~115 MB of samples.
            values[name] = _number(key, value, 30.0, 3600.0)
        else:
            values[name] = _number(key, value, 0.0, 1.0, below_high=True)
    return SpeechSettings(**values)
