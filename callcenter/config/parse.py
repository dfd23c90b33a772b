"""Reading the TOML into Settings: each section's keys checked for name and type, the
tables of [[pbx]], [[rings.actions]], [[auth.shifts]] and the desk's holidays built, then
the whole validated (validate.py). Every error names its key."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from callcenter.auth.model import ALL_ROLES
from callcenter.auth.shifts import DAYS, Shift, minute_of_day
from callcenter.config.settings import (
    PBX_KINDS,
    AuthSettings,
    DatabaseSettings,
    DeskSettings,
    HealthSettings,
    Holiday,
    HostPort,
    MqttSettings,
    PbxSettings,
    PrivacySettings,
    RecordingsSettings,
    RingAction,
    RingSettings,
    Settings,
    SipSettings,
    TicketsSettings,
    WebSettings,
)
from callcenter.config.validate import check_on_ring_limit, validate
from callcenter.errors import ConfigError
from callcenter.ha.settings import parse_ha
from callcenter.incidents.settings import parse_incidents
from callcenter.metrics.settings import parse_metrics
from callcenter.ops.settings import parse_log
from callcenter.orders.settings import parse_orders
from callcenter.priority.settings import parse_priority
from callcenter.probe.settings import parse_probe
from callcenter.qa.settings import parse_qa
from callcenter.reports.settings import parse_reports
from callcenter.speech.settings import parse_speech
from callcenter.timeline.settings import parse_timeline

_DEFAULT_PORTS = {"ami": 5038, "esl": 8021, "hep": 9060, "mqtt": 0}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


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


def _values(name: str, cls: type, raw: Any, defaults: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(name, "must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{name}.{key}"
        if key not in known:
            raise ConfigError(dotted, f"unknown key (known: {', '.join(sorted(known))})")
        current = defaults.get(key) if isinstance(defaults, dict) else getattr(defaults, key)
        if isinstance(current, HostPort):
            values[key] = _host_port(dotted, value)
        elif key == "actions" and cls is RingSettings:
            values[key] = _ring_actions(dotted, value)
        elif key == "shifts" and cls is AuthSettings:
            values[key] = _shifts(dotted, value)
        elif key == "holidays" and cls is DeskSettings:
            values[key] = _holidays(dotted, value)
        elif key == "secure_cookies" and cls is WebSettings:
            values[key] = _check_type(dotted, value, bool)
        elif isinstance(current, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(dotted, f"must be an array of strings, got {value!r}")
            values[key] = tuple(value)
        elif current is None:
            values[key] = _check_type(dotted, value, str)
        else:
            values[key] = _check_type(dotted, value, type(current))
    return values


def _section(name: str, cls: type, raw: Any) -> Any:
    defaults = cls()
    return replace(defaults, **_values(name, cls, raw, defaults))


def _ring_actions(key: str, raw: Any) -> tuple[RingAction, ...]:
    if not isinstance(raw, list):
        raise ConfigError(key, "must be an array of tables ([[rings.actions]])")
    out = []
    for i, item in enumerate(raw):
        dotted = f"{key}[{i}]"
        action = RingAction(**_values(dotted, RingAction, item, RingAction()))
        check_on_ring_limit(f"{dotted}.on_ring_limit", action.on_ring_limit)
        if (action.queue is None) == (action.extension is None):
            raise ConfigError(dotted, "give exactly one of queue or extension")
        if action.on_ring_limit == "overflow" and not action.target:
            raise ConfigError(
                f"{dotted}.target", "overflow needs a target (exten or exten@context)"
            )
        out.append(action)
    return tuple(out)


_PBX_DEFAULTS: dict[str, Any] = {
    "id": "",
    "kind": "",
    "host": "127.0.0.1",
    "port": 0,
    "username": "",
    "secret": "",
    "password": "",
    "context": "default",
}


def _pbx(raw: Any) -> tuple[PbxSettings, ...]:
    if not isinstance(raw, list):
        raise ConfigError("pbx", "must be an array of tables ([[pbx]])")
    out: list[PbxSettings] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        values = _values(f"pbx[{i}]", PbxSettings, item, _PBX_DEFAULTS)
        key = f"pbx[{i}]"
        ident = values.get("id", "")
        if not _ID_RE.match(ident):
            raise ConfigError(f"{key}.id", "required: 1-32 of a-z 0-9 _ - (starting a-z or 0-9)")
        if ident in seen:
            raise ConfigError(f"{key}.id", f"{ident!r} is used twice")
        seen.add(ident)
        key = f"pbx.{ident}"
        kind = values.get("kind", "")
        if kind not in PBX_KINDS:
            raise ConfigError(f"{key}.kind", f"must be one of {', '.join(PBX_KINDS)}")
        values.setdefault("port", _DEFAULT_PORTS[kind])
        if values["port"] == 0 and kind != "mqtt":
            values["port"] = _DEFAULT_PORTS[kind]
        if not 0 < values["port"] <= 65535 and kind != "mqtt":
            raise ConfigError(f"{key}.port", f"must be 1-65535, got {values['port']}")
        if kind == "ami" and not (values.get("username") and values.get("secret")):
            raise ConfigError(f"{key}.secret", "an AMI source needs username and secret")
        if kind == "esl" and not values.get("password"):
            raise ConfigError(f"{key}.password", "an ESL source needs password")
        out.append(PbxSettings(**values))
    return tuple(out)


def _shifts(key: str, raw: Any) -> tuple[Shift, ...]:
    if not isinstance(raw, list):
        raise ConfigError(key, "must be an array of tables ([[auth.shifts]])")
    out = []
    for i, item in enumerate(raw):
        dotted = f"{key}[{i}]"
        shift = Shift(**_values(dotted, Shift, item, Shift()))
        if (shift.user is None) == (shift.role is None):
            raise ConfigError(dotted, "give exactly one of user or role")
        if shift.role is not None and shift.role not in ALL_ROLES:
            roles = ", ".join(sorted(ALL_ROLES))
            raise ConfigError(f"{dotted}.role", f"unknown role {shift.role!r} (roles: {roles})")
        bad = [d for d in shift.days if d not in DAYS]
        if bad or not shift.days:
            raise ConfigError(f"{dotted}.days", f"must be some of {', '.join(DAYS)}")
        start, end = minute_of_day(shift.start), minute_of_day(shift.end)
        if start is None or start == 24 * 60:
            raise ConfigError(
                f"{dotted}.start", f'required: "HH:MM" local time, got {shift.start!r}'
            )
        if end is None:
            raise ConfigError(f"{dotted}.end", f'required: "HH:MM" local time, got {shift.end!r}')
        if start == end % (24 * 60):
            raise ConfigError(f"{dotted}.end", "must differ from start")
        out.append(shift)
    return tuple(out)


def _day(key: str, value: Any) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(key, f'must be a date "YYYY-MM-DD", got {value!r}')


def _holidays(key: str, raw: Any) -> tuple[Holiday, ...]:
    if not isinstance(raw, list):
        raise ConfigError(key, 'must be an array of {from = "YYYY-MM-DD", to = …, opening = …}')
    out: list[Holiday] = []
    for i, item in enumerate(raw):
        dotted = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(dotted, "must be a table {from, to, opening}")
        unknown = sorted(set(item) - {"from", "to", "opening"})
        if unknown:
            raise ConfigError(f"{dotted}.{unknown[0]}", "unknown key (known: from, opening, to)")
        for name in ("from", "to", "opening"):
            if name not in item:
                raise ConfigError(f"{dotted}.{name}", "required")
        start, end = _day(f"{dotted}.from", item["from"]), _day(f"{dotted}.to", item["to"])
        if end < start:
            raise ConfigError(f"{dotted}.to", f"must not be before from ({start})")
        opening = item["opening"]
        if not isinstance(opening, str) or not opening.strip() or len(opening) > 20:
            raise ConfigError(
                f"{dotted}.opening",
                f"must be a greeting such as 新年好 (1-20 characters), got {opening!r}",
            )
        for j, other in enumerate(out):
            if start <= other.end and other.start <= end:
                raise ConfigError(
                    f"{dotted}.from", f"overlaps {key}[{j}] ({other.start} to {other.end})"
                )
        out.append(Holiday(start, end, opening.strip()))
    return tuple(out)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: reached over the network


_SECTIONS: dict[str, type] = {
    "auth": AuthSettings,
    "web": WebSettings,
    "database": DatabaseSettings,
    "recordings": RecordingsSettings,
    "mqtt": MqttSettings,
    "sip": SipSettings,
    "rings": RingSettings,
    "privacy": PrivacySettings,
    "health": HealthSettings,
    "tickets": TicketsSettings,
    "desk": DeskSettings,
}


def parse_settings(raw: dict[str, Any], base_dir: Path | None = None) -> Settings:
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "pbx":
            sections["pbx"] = _pbx(value)
            continue
        if name == "orders":
            sections["orders"] = parse_orders(value)
            continue
        if name == "qa":
            sections["qa"] = parse_qa(value)
            continue
        if name == "reports":
            sections["reports"] = parse_reports(value)
            continue
        if name == "metrics":
            sections["metrics"] = parse_metrics(value)
            continue
        if name == "speech":
            sections["speech"] = parse_speech(value)
            continue
        if name == "probe":
            sections["probe"] = parse_probe(value)
            continue
        if name == "ha":
            sections["ha"] = parse_ha(value)
            continue
        if name == "log":
            sections["log"] = parse_log(value)
            continue
        if name == "incidents":
            sections["incidents"] = parse_incidents(value)
            continue
        if name == "priority":
            sections["priority"] = parse_priority(value)
            continue
        if name == "timeline":
            sections["timeline"] = parse_timeline(value)
            continue
        if name not in _SECTIONS:
            own = [
                "ha",
                "incidents",
                "log",
                "metrics",
                "orders",
                "pbx",
                "priority",
                "probe",
                "qa",
                "reports",
                "speech",
                "timeline",
            ]
            known = ", ".join(sorted([*_SECTIONS, *own]))
            raise ConfigError(name, f"unknown section (known: {known})")
        sections[name] = _section(name, _SECTIONS[name], value)
    settings = Settings(**sections, base_dir=base_dir or Path.cwd())
    if settings.web.secure_cookies is None:
        # Anything but loopback is reached over a network: the cookie needs HTTPS.
        secure = not _loopback(settings.web.listen.host)
        settings = replace(settings, web=replace(settings.web, secure_cookies=secure))
    validate(settings)
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
