"""The settings as frozen dataclasses, with the defaults the service starts on when no file
is given (config/callcenter.toml says the same, commented). Reading them: parse.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from callcenter.auth.shifts import Shift
from callcenter.ha.settings import HaSettings as HaSettings
from callcenter.incidents.settings import IncidentsSettings as IncidentsSettings
from callcenter.metrics.settings import MetricsSettings as MetricsSettings
from callcenter.ops.settings import LogSettings as LogSettings
from callcenter.orders.settings import OrdersSettings as OrdersSettings
from callcenter.priority.settings import PrioritySettings as PrioritySettings
from callcenter.privacy import DEFAULT_FULL_NUMBER_ROLES
from callcenter.probe.settings import ProbeSettings as ProbeSettings
from callcenter.qa.settings import QaSettings as QaSettings
from callcenter.reports.settings import ReportsSettings as ReportsSettings
from callcenter.speech.settings import SpeechSettings as SpeechSettings
from callcenter.timeline.settings import TimelineSettings as TimelineSettings


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
