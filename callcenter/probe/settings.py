"""[probe]: the line probe (拨测), a SIP phone that calls the hotline on a schedule.

[probe]
enabled = false              # run the probe inside `callcenter serve`
registrar = "10.0.0.5:5060"  # the PBX the probe registers to and calls through
username = "8999"            # the probe's extension (also its caller number)
password = ""                # or the environment: CALLCENTER_PROBE_PASSWORD
number = "96069"             # the hotline number it calls
listen = "10.0.0.9:5062"     # where the PBX reaches the probe (its Contact); port 0: any
rtp_ports = "30000-30019"    # the probe's media ports
interval_seconds = 300.0
ring_limit_seconds = 10.0    # no 180/183 (or answer) by then: no ring, the call is cancelled
answer_limit_seconds = 30.0  # no 200 by then: no answer, the call is cancelled
hold_seconds = 2.0           # how long the answered call is held before the probe hangs up
down_after = 1               # failed probes in a row that raise line_down
callers = []                 # caller numbers of the probe's calls as the PBX events show
                             # them (default: [username]); never counted as hotline calls
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from callcenter.errors import ConfigError

PASSWORD_ENV = "CALLCENTER_PROBE_PASSWORD"
_NUMBER_CHARS = frozenset("0123456789*#+")


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    enabled: bool = False
    registrar: tuple[str, int] | None = None
    username: str = ""
    password: str = field(default="", repr=False)  # never in a repr, a log or the API
    number: str = ""
    listen: tuple[str, int] = ("127.0.0.1", 0)
    rtp_ports: tuple[int, int] = (30000, 30019)
    interval_seconds: float = 300.0
    ring_limit_seconds: float = 10.0
    answer_limit_seconds: float = 30.0
    hold_seconds: float = 2.0
    down_after: int = 1
    callers: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        """Enough to place a call: a registrar, an extension and a number."""
        return self.registrar is not None and bool(self.username) and bool(self.number)

    @property
    def caller_numbers(self) -> frozenset[str]:
        """The numbers the probe's calls come from, as the HEP/AMI/ESL events name the caller."""
        if self.callers:
            return frozenset(self.callers)
        return frozenset({self.username}) if self.username else frozenset()


def _host_port(key: str, value: Any, *, port_zero: bool) -> tuple[str, int]:
    if not isinstance(value, str):
        raise ConfigError(key, f'must be "host:port", got {type(value).__name__}')
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    low = 0 if port_zero else 1
    if not sep or not host or not port.isdigit() or not low <= int(port) <= 65535:
        raise ConfigError(key, f'must be "host:port" with a port {low}-65535, got {value!r}')
    if host in ("0.0.0.0", "::"):
        # pyVoIP writes this address into its Via, Contact and SDP: the PBX must reach it.
        raise ConfigError(key, "must be the address the PBX reaches the probe at, not 0.0.0.0")
    return host, int(port)


def _ports(value: Any) -> tuple[int, int]:
    text = value if isinstance(value, str) else ""
    low, sep, high = text.partition("-")
    if not sep or not low.isdigit() or not high.isdigit():
        raise ConfigError("probe.rtp_ports", f'must be "LOW-HIGH", got {value!r}')
    a, b = int(low), int(high)
    if not 1024 <= a <= b <= 65535:
        raise ConfigError("probe.rtp_ports", f"must be 1024-65535, low <= high, got {value!r}")
    return a, b


def _seconds(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(key, f"must be a number of seconds {low:g}-{high:g}, got {value!r}")
    return float(value)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"must be a string, got {type(value).__name__}")
    return value


def _number(key: str, value: Any) -> str:
    text = _text(key, value)
    if text and (len(text) > 32 or not set(text) <= _NUMBER_CHARS):
        raise ConfigError(key, f"must be a dialable number (digits, * # +), got {text!r}")
    return text


def parse_probe(raw: Any, environ: dict[str, str] | None = None) -> ProbeSettings:
    """[probe] from TOML; the password may come from CALLCENTER_PROBE_PASSWORD instead (it
    wins over the file, so a container's secret needs no file edit)."""
    if not isinstance(raw, dict):
        raise ConfigError("probe", "must be a table")
    known = set(ProbeSettings.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"probe.{unknown[0]}", f"unknown key (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    if "enabled" in raw:
        if not isinstance(raw["enabled"], bool):
            raise ConfigError("probe.enabled", f"must be true or false, got {raw['enabled']!r}")
        values["enabled"] = raw["enabled"]
    if raw.get("registrar", "") != "":
        values["registrar"] = _host_port("probe.registrar", raw["registrar"], port_zero=False)
    if "listen" in raw:
        values["listen"] = _host_port("probe.listen", raw["listen"], port_zero=True)
    if "rtp_ports" in raw:
        values["rtp_ports"] = _ports(raw["rtp_ports"])
    if "username" in raw:
        values["username"] = _number("probe.username", raw["username"])
    if "number" in raw:
        values["number"] = _number("probe.number", raw["number"])
    if "password" in raw:
        # The value itself is never echoed: a typo in it would put the secret in a log.
        if not isinstance(raw["password"], str):
            raise ConfigError("probe.password", "must be a string")
        values["password"] = raw["password"]
    env = os.environ if environ is None else environ
    if env.get(PASSWORD_ENV):
        values["password"] = env[PASSWORD_ENV]
    for key, low, high in (
        ("interval_seconds", 1.0, 86_400.0),
        ("ring_limit_seconds", 0.5, 300.0),
        ("answer_limit_seconds", 0.5, 600.0),
        ("hold_seconds", 0.0, 60.0),
    ):
        if key in raw:
            values[key] = _seconds(f"probe.{key}", raw[key], low, high)
    if "down_after" in raw:
        n = raw["down_after"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 100:
            raise ConfigError("probe.down_after", f"must be a whole number 1-100, got {n!r}")
        values["down_after"] = n
    if "callers" in raw:
        callers = raw["callers"]
        if not isinstance(callers, list) or not all(isinstance(c, str) and c for c in callers):
            raise ConfigError("probe.callers", f"must be an array of numbers, got {callers!r}")
        values["callers"] = tuple(callers)
    settings = ProbeSettings(**values)
    _validate(settings)
    return settings


def _validate(s: ProbeSettings) -> None:
    if s.answer_limit_seconds < s.ring_limit_seconds:
        raise ConfigError(
            "probe.answer_limit_seconds",
            f"must be >= probe.ring_limit_seconds ({s.ring_limit_seconds:g})",
        )
    busy = s.answer_limit_seconds + s.hold_seconds
    if s.interval_seconds <= busy:
        raise ConfigError(
            "probe.interval_seconds",
            f"must be longer than a probe call can last (answer limit + hold = {busy:g} s)",
        )
    if s.enabled:
        for key, value in (
            ("registrar", s.registrar),
            ("username", s.username),
            ("number", s.number),
        ):
            if not value:
                raise ConfigError(f"probe.{key}", "required when probe.enabled is true")
