"""The checks that need more than one key, or a value's range: run once on the whole
Settings after parsing. Every error names its key."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.auth.model import ALL_ROLES
from callcenter.config.settings import AuthSettings, RecordingsSettings, Settings
from callcenter.errors import ConfigError
from callcenter.ha.settings import check_database


def check_on_ring_limit(key: str, value: str) -> None:
    if value not in ("alert", "overflow"):
        raise ConfigError(key, f'must be "alert" or "overflow", got {value!r}')


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


def validate(s: Settings) -> None:
    _validate_auth(s.auth)
    if s.rings.cycle_seconds <= 0:
        raise ConfigError("rings.cycle_seconds", f"must be > 0, got {s.rings.cycle_seconds}")
    check_on_ring_limit("rings.on_ring_limit", s.rings.on_ring_limit)
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
