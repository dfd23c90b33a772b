"""The outdoor temperature's validity rules and state: a plausible number counts; −80 °C,
text, JSON without a number, NaN and times from the future are refused with a reason and make
the temperature invalid (never a value); a source that is down keeps its last good reading
until it is stale; a fixed value from the configuration never goes stale."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.clock import FakeClock
from callcenter.config import parse_settings
from callcenter.errors import ConfigError
from callcenter.priority.model import BadReading, Plausible, parse_reading
from callcenter.priority.service import OutdoorTemperature, public_url
from callcenter.priority.settings import PrioritySettings, parse_priority

RANGE = Plausible()
CLOCK = FakeClock()
NOW = CLOCK.now()


def read(payload: bytes | str, path: str = "celsius") -> float:
    data = payload.encode() if isinstance(payload, str) else payload
    return parse_reading(data, NOW, RANGE, path).celsius


def refused(payload: bytes | str, path: str = "celsius") -> str:
    data = payload.encode() if isinstance(payload, str) else payload
    with pytest.raises(BadReading) as caught:
        parse_reading(data, NOW, RANGE, path)
    return caught.value.code


@pytest.mark.parametrize(
    ("payload", "celsius"),
    [
        ("-12.5", -12.5),
        (" 3 \n", 3.0),
        ("\u221218", -18.0),  # a typographic minus sign
        ('{"celsius": -12.5}', -12.5),
        ('{"celsius": -7, "at": "2026-11-23T08:55:00+08:00"}', -7.0),
        ("-50", -50.0),
        ("45", 45.0),
    ],
)
def test_a_plausible_number_is_a_reading(payload: str, celsius: float) -> None:
    assert read(payload) == celsius


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("-80", "implausible"),
        ('{"celsius": -80}', "implausible"),
        ("46", "implausible"),
        ("abc", "not-a-number"),
        ("", "not-a-number"),
        ('{"temperature": -12}', "not-a-number"),
        ('{"celsius": "-12"}', "not-a-number"),
        ('{"celsius": true}', "not-a-number"),
        ('{"celsius": null}', "not-a-number"),
        ("[-12]", "not-a-number"),
        ("NaN", "not-finite"),
        ('{"celsius": Infinity}', "not-finite"),
        ("1e999", "not-finite"),
        ('{"celsius": -5, "at": "yesterday"}', "bad-time"),
        ('{"celsius": -5, "at": "2026-11-23T09:00:00"}', "bad-time"),
        ('{"celsius": -5, "at": "2026-11-23T02:00:00Z"}', "future"),
        (b"\xff\xfe-1\x00", "not-text"),
        ("9" * 70_000, "too-large"),
        ("1" + "0" * 400, "not-finite"),  # an integer float() overflows on
        ("[" * 50_000, "not-a-number"),  # nested past the JSON parser's recursion
        ('{"celsius": -5, "at": "0001-01-01T00:00:00+14:00"}', "bad-time"),  # before UTC's year 1
    ],
)
def test_nonsense_is_refused_with_its_reason(payload: bytes | str, code: str) -> None:
    assert refused(payload) == code


def test_a_dotted_field_reads_a_weather_service_s_own_shape() -> None:
    body = json.dumps({"current": {"temperature_2m": -21.3, "time": "2026-11-23T09:00"}})
    assert read(body, "current.temperature_2m") == -21.3
    assert refused(body, "current.temperature") == "not-a-number"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_no_number_outside_the_plausible_range_is_ever_a_reading(value: float) -> None:
    payload = json.dumps({"celsius": value}).encode()
    try:
        reading = parse_reading(payload, NOW, RANGE)
    except BadReading:
        return
    assert RANGE.min_celsius <= reading.celsius <= RANGE.max_celsius


@given(st.binary(max_size=200) | st.text(max_size=60).map(str.encode))
def test_any_payload_is_a_plausible_reading_or_refused(payload: bytes) -> None:
    try:
        reading = parse_reading(payload, NOW, RANGE)
    except BadReading as bad:
        assert bad.code and bad.message
        return
    assert RANGE.min_celsius <= reading.celsius <= RANGE.max_celsius


def source(**raw: object) -> tuple[OutdoorTemperature, FakeClock]:
    clock = FakeClock()
    return OutdoorTemperature(parse_priority(raw), clock), clock


def test_nonsense_makes_the_temperature_invalid_until_a_good_reading_comes() -> None:
    t, _ = source(temperature_source="mqtt", mqtt_topic="weather/outdoor")
    assert t.offer(b"-12.5")
    assert (t.now().state, t.now().celsius) == ("ok", -12.5)
    assert not t.offer(b"-80")
    now = t.now()
    assert (now.state, now.celsius) == ("invalid", None)
    assert now.reason is not None and now.reason.startswith("implausible")
    assert now.last_good is not None and now.last_good.celsius == -12.5  # still shown
    assert not t.offer(b"abc")
    assert t.invalid == {"implausible": 1, "not-a-number": 1}
    assert t.offer(b'{"celsius": -13}')
    assert (t.now().state, t.now().celsius) == ("ok", -13.0)


def test_a_source_that_is_down_counts_until_its_last_reading_is_stale() -> None:
    t, clock = source(
        temperature_source="http", http_url="https://weather.example/now", stale_after_minutes=30
    )
    assert (t.now().state, t.now().reason) == ("unknown", "no reading yet")
    t.failed("unreachable", "weather.example: connection refused")
    assert (t.now().state, t.now().reason) == ("unknown", "weather.example: connection refused")
    t.offer(b"-9")
    t.failed("http-status", "answered HTTP 500")
    assert (t.now().state, t.now().celsius) == ("ok", -9.0)
    clock.advance(31 * 60)
    now = t.now()
    assert (now.state, now.celsius) == ("stale", None)
    assert now.reason == "the last reading is 31 min old; answered HTTP 500"
    assert t.failures == 2


def test_a_reading_measured_long_ago_is_stale_at_once() -> None:
    t, clock = source(temperature_source="mqtt", mqtt_topic="t", stale_after_minutes=60)
    old = (clock.now() - timedelta(hours=2)).isoformat()
    assert t.offer(json.dumps({"celsius": -3, "at": old}).encode())
    assert t.now().state == "stale"


def test_an_older_reading_delivered_late_does_not_replace_a_newer_one() -> None:
    t, clock = source(temperature_source="mqtt", mqtt_topic="t")
    assert t.offer(b'{"celsius": -20}')
    replayed = (clock.now() - timedelta(hours=3)).isoformat()  # a buffered sensor's backlog
    assert not t.offer(json.dumps({"celsius": 3, "at": replayed}).encode())
    assert (t.now().state, t.now().celsius) == ("ok", -20.0)
    assert t.invalid == {"out-of-order": 1}
    clock.advance(60)
    assert t.offer(b"-21")  # the next fresh one is taken as ever
    assert t.now().celsius == -21.0


def test_a_payload_the_parser_chokes_on_is_refused_and_the_feed_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t, _ = source(temperature_source="mqtt", mqtt_topic="t")

    def choke(*_: object, **__: object) -> None:
        raise MemoryError("a parser's bad day")

    monkeypatch.setattr("callcenter.priority.model.parse_reading", choke)
    assert not t.offer(b"-5")
    assert (t.now().state, t.invalid) == ("invalid", {"unreadable": 1})
    monkeypatch.undo()
    assert t.offer(b"-5") and t.now().state == "ok"


def test_a_fixed_temperature_never_goes_stale_and_none_is_unknown() -> None:
    fixed, clock = source(temperature_source="config", temperature_celsius=-15)
    clock.advance(30 * 24 * 3600)
    assert (fixed.now().state, fixed.now().celsius) == ("ok", -15.0)
    unset, _ = source()
    assert unset.now().state == "unknown"
    assert unset.now().reason == "priority.temperature_celsius is not set"


def test_the_source_is_shown_without_its_credentials_or_query() -> None:
    url = "https://user:secret@weather.example:8443/v1/now?appid=KEY123"
    assert public_url(url) == "https://weather.example:8443/v1/now"
    t, _ = source(temperature_source="http", http_url=url)
    t.failed("timeout", "weather.example did not answer")
    assert "KEY123" not in json.dumps(t.status()) and "secret" not in json.dumps(t.status())
    assert "KEY123" not in repr(t.settings)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"temperature_source": "weather"}, "priority.temperature_source"),
        ({"temperature_source": "mqtt"}, "priority.mqtt_topic"),
        ({"temperature_source": "mqtt", "mqtt_topic": "weather/#"}, "priority.mqtt_topic"),
        ({"temperature_source": "http", "http_url": "ftp://x/y"}, "priority.http_url"),
        ({"temperature_source": "http"}, "priority.http_url"),
        ({"temperature_celsius": -80}, "priority.temperature_celsius"),
        ({"temperature_celsius": "cold"}, "priority.temperature_celsius"),
        ({"stale_after_minutes": 0}, "priority.stale_after_minutes"),
        ({"min_celsius": 10, "max_celsius": 5}, "priority.max_celsius"),
        ({"category_points": {"temperature_check": 30}}, "priority.category_points.not_hot"),
        ({"category_points": {"frozen": 30}}, "priority.category_points.frozen"),
        ({"vulnerability_points": {"infant": -1}}, "priority.vulnerability_points.infant"),
        ({"bands": {"high": 90}}, "priority.bands"),
        (
            {"deadlines": {"critical": {"repair_factor": 1.5}}},
            "priority.deadlines.critical.repair_factor",
        ),
        ({"deadlines": {"urgent": {}}}, "priority.deadlines.urgent"),
        ({"json_field": "a..b"}, "priority.json_field"),
        ({"wind": 3}, "priority.wind"),
    ],
)
def test_a_bad_priority_setting_stops_start_up_naming_its_key(
    raw: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"priority": raw})
    assert caught.value.key == key


def test_the_priority_section_is_optional_and_a_fixed_temperature_is_read() -> None:
    assert parse_settings({}).priority == PrioritySettings()
    s = parse_settings(
        {
            "priority": {
                "temperature_celsius": -12,
                "deadlines": {"critical": {"repair_factor": 0.5}},
            }
        }
    ).priority
    assert (s.temperature_source, s.temperature_celsius) == ("config", -12.0)
    assert s.factors("critical").repair == 0.5 and s.factors("high").repair == 1.0
