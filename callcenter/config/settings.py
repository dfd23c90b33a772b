"""Settings: parsed once from TOML into frozen dataclasses; every error names its key.

The commented defaults live in config/callcenter.toml; the same defaults are embedded
here so the service starts with no file at all.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.auth.model import ALL_ROLES
from callcenter.auth.shifts import DAYS, Shift, minute_of_day
from callcenter.errors import ConfigError as ConfigError  # its home is errors.py
from callcenter.ha.settings import HaSettings as HaSettings
from callcenter.ha.settings import check_database, parse_ha
from callcenter.incidents.settings import IncidentsSettings as IncidentsSettings
from callcenter.incidents.settings import parse_incidents
from callcenter.metrics.settings import MetricsSettings as MetricsSettings
from callcenter.metrics.settings import parse_metrics
from callcenter.ops.settings import LogSettings as LogSettings
from callcenter.ops.settings import parse_log
from callcenter.orders.settings import OrdersSettings as OrdersSettings
from callcenter.orders.settings import parse_orders
from callcenter.priority.settings import PrioritySettings as PrioritySettings
from callcenter.priority.settings import parse_priority
from callcenter.privacy import DEFAULT_FULL_NUMBER_ROLES
from callcenter.probe.settings import ProbeSettings as ProbeSettings
from callcenter.probe.settings import parse_probe
from callcenter.qa.settings import QaSettings as QaSettings
from callcenter.qa.settings import parse_qa
from callcenter.reports.settings import ReportsSettings as ReportsSettings
from callcenter.reports.settings import parse_reports
from callcenter.speech.settings import SpeechSettings as SpeechSettings
from callcenter.speech.settings import parse_speech
from callcenter.timeline.settings import TimelineSettings as TimelineSettings
from callcenter.timeline.settings import parse_timeline


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class WebSettings:
    listen: HostPort = HostPort("127.0.0.1", 8080)
    # The Secure flag on the session cookie. Unset: on unless `listen` is a loopback address
    # (parse_settings decides); true or false in the file wins.
    secure_cookies: bool | None = None
    session_hours: float = 12.0
    timezone: str = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    # Roles that see residents' numbers in full (agents: on their own calls only).
    full_number_roles: tuple[str, ...] = DEFAULT_FULL_NUMBER_ROLES


@dataclass(frozen=True, slots=True)
class AuthSettings:
    # Wrong passwords in a row for one user name before it is locked for lockout_minutes.
    max_failures: int = 5
    lockout_minutes: float = 15.0
    # Failed logins a minute from one client address before it gets 429 for the rest of it.
    throttle_per_address_per_minute: int = 20
    # Take the client address from X-Forwarded-For (the entry the proxy in front appended).
    trust_forwarded_for: bool = False
    # A login this close to a shift's start or end still counts as on shift.
    shift_grace_minutes: float = 30.0
    shifts: tuple[Shift, ...] = ()


@dataclass(frozen=True, slots=True)
class HealthSettings:
    # /api/health says "degraded" (HTTP 503) when saving is this far behind or failing,
    writer_lag_seconds: float = 10.0
    # when a PBX source has been down this long,
    source_down_seconds: float = 30.0
    # or when this many MQTT messages wait to be published (or the broker is away that long).
    mqtt_backlog: int = 1000


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///var/callcenter.sqlite3"
    # At shutdown, how long to keep retrying the last save before writing it to a spill file.
    shutdown_flush_seconds: float = 10.0
    # Calls that could not be saved at shutdown (replayed at the next start), and calls the
    # database refused (parked.jsonl, with the reason).
    spill_dir: str = "var/spill"


@dataclass(frozen=True, slots=True)
class RecordingsSettings:
    root: str = "recordings"
    # A recording is flagged empty when no stretch of min_sound_ms rises above silence_dbfs.
    silence_dbfs: float = -50.0
    min_sound_ms: int = 300
    # POST /api/recordings answers 413 past this size.
    max_upload_mb: int = 200
    # A watched spool directory (empty: off); spool_pattern maps a file name to a call id
    # with its named group `call`; a file is taken once unchanged for spool_settle_seconds.
    spool_dir: str = ""
    spool_pattern: str = r"^(?P<call>[^.]+)\.(wav|mp3)$"
    spool_settle_seconds: float = 2.0
    # Directories a PBX's recordings may be read from (ESL RECORD_STOP paths and
    # `callcenter recording add` files), and "PBX-PATH=LOCAL-PATH" prefixes rewriting a
    # path as the PBX names it to where its recordings are mounted here.
    import_dirs: tuple[str, ...] = ()
    path_map: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TicketsSettings:
    # A ticket taken while the agent is on no call is linked to their last call that ended at
    # most this long ago (the report is often typed up just after hanging up).
    link_window_minutes: float = 10.0
    # The address book: the repair stations and the rules that route addresses to them.
    stations_file: str = "config/stations.toml"


@dataclass(frozen=True, slots=True)
class Holiday:
    """An announced holiday: from `start` to `end` (both included, in web.timezone) the
    intake script opens with `opening` (新年好, 劳动节快乐, 中秋节快乐, 国庆节快乐) for 您好."""

    start: date
    end: date
    opening: str


@dataclass(frozen=True, slots=True)
class DeskSettings:
    # [[desk.holidays]] or holidays = [{from = "2027-02-10", to = "2027-02-17", opening = "新年好"}]
    holidays: tuple[Holiday, ...] = ()


@dataclass(frozen=True, slots=True)
class MqttSettings:
    url: str = field(default="", repr=False)  # may hold a password
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
    hep_password: str = field(default="", repr=False)
    # A leg rung longer than this without any further message is closed as lost.
    max_ring_seconds: float = 180.0
    # An answered call with no BYE for this long is closed (a BYE lost in transit).
    max_call_seconds: float = 14_400.0
    # Calls held in memory at most; past it the idlest open call is closed as lost.
    max_open_calls: int = 50_000
    # Phones one call may ring; further legs (a runaway fork) are ignored and counted.
    max_legs_per_call: int = 32
    # Longest SIP value stored (Call-ID, tags, numbers); longer ones are cut, kept unique.
    max_field_length: int = 255
    # A capture time further than this from our clock is replaced by the time received.
    max_clock_skew_seconds: float = 86_400.0


@dataclass(frozen=True, slots=True)
class RingAction:
    """What to do when a phone of `queue` (or `extension`) rings past the limit."""

    on_ring_limit: str = "alert"  # "alert" | "overflow"
    queue: str | None = None
    extension: str | None = None
    target: str = ""  # "exten@context" (or "exten": the PBX's default context)


@dataclass(frozen=True, slots=True)
class RingSettings:
    cycle_seconds: float = 5.0
    limit: int = 3
    on_ring_limit: str = "alert"
    overflow_target: str = ""
    actions: tuple[RingAction, ...] = ()

    @property
    def deadline_seconds(self) -> float:
        return self.cycle_seconds * self.limit

    def action_for(self, queue: str | None, extension: str) -> RingAction:
        """The most specific rule: the extension's, then the queue's, then the default."""
        for action in self.actions:
            if action.extension is not None and action.extension == extension:
                return action
        for action in self.actions:
            if action.queue is not None and queue is not None and action.queue == queue:
                return action
        return RingAction(self.on_ring_limit, target=self.overflow_target)


PBX_KINDS = ("ami", "esl", "mqtt", "hep")
_DEFAULT_PORTS = {"ami": 5038, "esl": 8021, "hep": 9060, "mqtt": 0}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class PbxSettings:
    """One PBX event source ([[pbx]] table). Secrets never appear in a repr or a log."""

    id: str
    kind: str
    host: str = "127.0.0.1"
    port: int = 0
    username: str = ""
    secret: str = field(default="", repr=False)  # AMI
    password: str = field(default="", repr=False)  # ESL; HEP auth key
    context: str = "default"  # where an overflow "exten" without "@context" is sent

    @property
    def address(self) -> str:
        return "mqtt broker" if self.kind == "mqtt" else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Settings:
    web: WebSettings = field(default_factory=WebSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    recordings: RecordingsSettings = field(default_factory=RecordingsSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    rings: RingSettings = field(default_factory=RingSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    tickets: TicketsSettings = field(default_factory=TicketsSettings)
    desk: DeskSettings = field(default_factory=DeskSettings)
    orders: OrdersSettings = field(default_factory=OrdersSettings)
    qa: QaSettings = field(default_factory=QaSettings)
    reports: ReportsSettings = field(default_factory=ReportsSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    log: LogSettings = field(default_factory=LogSettings)
    incidents: IncidentsSettings = field(default_factory=IncidentsSettings)
    ha: HaSettings = field(default_factory=HaSettings)
    priority: PrioritySettings = field(default_factory=PrioritySettings)
    timeline: TimelineSettings = field(default_factory=TimelineSettings)
    # No [[pbx]] tables: one HEP source on sip.hep_listen.
    pbx: tuple[PbxSettings, ...] = ()
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

    @property
    def spill_dir(self) -> Path:
        return self.base_dir / self.database.spill_dir

    @property
    def stations_path(self) -> Path:
        return self.base_dir / self.tickets.stations_file

    @property
    def checklists_dir(self) -> Path:
        return self.base_dir / self.qa.checklists_dir

    @property
    def recordings_root(self) -> Path:
        return self.base_dir / self.recordings.root

    @property
    def spool_dir(self) -> Path | None:
        spool = self.recordings.spool_dir
        return self.base_dir / spool if spool else None


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


def _on_ring_limit(key: str, value: str) -> None:
    if value not in ("alert", "overflow"):
        raise ConfigError(key, f'must be "alert" or "overflow", got {value!r}')


def _ring_actions(key: str, raw: Any) -> tuple[RingAction, ...]:
    if not isinstance(raw, list):
        raise ConfigError(key, "must be an array of tables ([[rings.actions]])")
    out = []
    for i, item in enumerate(raw):
        dotted = f"{key}[{i}]"
        action = RingAction(**_values(dotted, RingAction, item, RingAction()))
        _on_ring_limit(f"{dotted}.on_ring_limit", action.on_ring_limit)
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


def _validate_auth(a: AuthSettings) -> None:
    for key, number, least in (
        ("auth.max_failures", a.max_failures, 1),
        ("auth.throttle_per_address_per_minute", a.throttle_per_address_per_minute, 1),
    ):
        if number < least:
            raise ConfigError(key, f"must be >= {least}, got {number}")
    if a.lockout_minutes <= 0:
        raise ConfigError("auth.lockout_minutes", f"must be > 0, got {a.lockout_minutes}")
    if a.shift_grace_minutes < 0:
        raise ConfigError("auth.shift_grace_minutes", f"must be >= 0, got {a.shift_grace_minutes}")


def _validate_recordings(r: RecordingsSettings) -> None:
    if not r.root:
        raise ConfigError("recordings.root", "must not be empty")
    if not -120.0 <= r.silence_dbfs < 0:
        raise ConfigError(
            "recordings.silence_dbfs", f"must be -120 to 0 (dBFS), got {r.silence_dbfs}"
        )
    if r.min_sound_ms < 1:
        raise ConfigError("recordings.min_sound_ms", f"must be >= 1, got {r.min_sound_ms}")
    if r.max_upload_mb < 1:
        raise ConfigError("recordings.max_upload_mb", f"must be >= 1, got {r.max_upload_mb}")
    if r.spool_settle_seconds <= 0:
        raise ConfigError(
            "recordings.spool_settle_seconds", f"must be > 0, got {r.spool_settle_seconds}"
        )
    try:
        pattern = re.compile(r.spool_pattern)
    except re.error as exc:
        raise ConfigError("recordings.spool_pattern", f"not a regular expression: {exc}") from None
    if "call" not in pattern.groupindex:
        raise ConfigError("recordings.spool_pattern", "needs a named group (?P<call>...)")
    for i, item in enumerate(r.path_map):
        pbx, sep, local = item.partition("=")
        if not sep or not pbx.startswith("/") or not local.startswith("/"):
            raise ConfigError(
                f"recordings.path_map[{i}]", f'must be "/pbx/path=/local/path", got {item!r}'
            )


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


def _validate(s: Settings) -> None:
    _validate_auth(s.auth)
    if s.rings.cycle_seconds <= 0:
        raise ConfigError("rings.cycle_seconds", f"must be > 0, got {s.rings.cycle_seconds}")
    _on_ring_limit("rings.on_ring_limit", s.rings.on_ring_limit)
    if s.rings.on_ring_limit == "overflow" and not s.rings.overflow_target:
        raise ConfigError(
            "rings.overflow_target", "overflow needs a target (exten or exten@context)"
        )
    if s.rings.limit < 1:
        raise ConfigError("rings.limit", f"must be >= 1, got {s.rings.limit}")
    if not s.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "database.url",
            f"must start with sqlite+aiosqlite:// or postgresql+asyncpg://, got {s.database.url!r}",
        )
    check_database(s.ha, s.database.url)
    if s.mqtt.url and urlsplit(s.mqtt.url).scheme not in ("mqtt", "tcp"):
        raise ConfigError("mqtt.url", 'must be empty or "mqtt://host:port"')
    _validate_recordings(s.recordings)
    if s.web.session_hours <= 0:
        raise ConfigError("web.session_hours", "must be > 0")
    for key, number, least in (
        ("sip.max_open_calls", s.sip.max_open_calls, 100),
        ("sip.max_legs_per_call", s.sip.max_legs_per_call, 1),
        ("sip.max_field_length", s.sip.max_field_length, 32),
        ("sip.max_clock_skew_seconds", s.sip.max_clock_skew_seconds, 1),
        ("database.shutdown_flush_seconds", s.database.shutdown_flush_seconds, 0),
        ("health.writer_lag_seconds", s.health.writer_lag_seconds, 0.5),
        ("health.source_down_seconds", s.health.source_down_seconds, 0),
        ("health.mqtt_backlog", s.health.mqtt_backlog, 1),
    ):
        if number < least:
            raise ConfigError(key, f"must be >= {least}, got {number}")
    if not s.database.spill_dir:
        raise ConfigError("database.spill_dir", "must not be empty")
    if not 0 <= s.tickets.link_window_minutes <= 24 * 60:
        raise ConfigError(
            "tickets.link_window_minutes",
            f"must be 0-1440, got {s.tickets.link_window_minutes}",
        )
    if not s.tickets.stations_file:
        raise ConfigError("tickets.stations_file", "must not be empty")
    for key, value in (
        ("sip.max_ring_seconds", s.sip.max_ring_seconds),
        ("sip.max_call_seconds", s.sip.max_call_seconds),
    ):
        if value <= s.rings.deadline_seconds:
            raise ConfigError(key, "must be longer than rings.limit × rings.cycle_seconds")
    unknown = sorted(set(s.privacy.full_number_roles) - set(ALL_ROLES))
    if unknown:
        raise ConfigError(
            "privacy.full_number_roles",
            f"unknown role {unknown[0]!r} (roles: {', '.join(sorted(ALL_ROLES))})",
        )
    try:
        ZoneInfo(s.web.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("web.timezone", f"unknown time zone {s.web.timezone!r}") from exc


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
