"""log.format = "json": one JSON object per line with time, level, logger, message and the
context as fields; in both shapes a secret that reaches a message is written as ***."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from callcenter.config import ConfigError, parse_settings
from callcenter.ops.logs import JsonFormatter, TextFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    name = "callcenter.mqtt.publisher"
    rec = logging.LogRecord(name, logging.WARNING, "x.py", 1, message, args, None)
    rec.__dict__.update(extra)
    rec.created = 1764914400.5  # 2025-12-05T06:00:00.500Z
    return rec


def test_a_json_line_has_time_level_logger_message_and_the_context_as_fields() -> None:
    line = JsonFormatter().format(
        record(
            "MQTT unavailable broker=%s error=%s",
            "10.0.0.5:1883",
            "[Errno 111] refused",
            call="c-1",
        )
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2025-12-05T06:00:00.500Z",
        "level": "warning",
        "logger": "callcenter.mqtt.publisher",
        "message": "MQTT unavailable broker=10.0.0.5:1883 error=[Errno 111] refused",
        "broker": "10.0.0.5:1883",
        "error": "[Errno 111] refused",
        "call": "c-1",
    }


def test_a_json_line_carries_the_exception_with_its_traceback() -> None:
    try:
        raise RuntimeError("database gone")
    except RuntimeError:
        rec = record("saving failed")
        rec.exc_info = sys.exc_info()
    body = json.loads(JsonFormatter().format(rec))
    assert (
        body["exception"].startswith("Traceback")
        and "RuntimeError: database gone" in body["exception"]
    )


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("connecting url=postgresql+asyncpg://cc:Pg5ecret@db:5432/cc", "Pg5ecret"),
        ("broker mqtt://svc:Mq5ecret@broker:1883 refused", "Mq5ecret"),
        ("request Authorization: Bearer cc_9fXk2LmQpZ", "cc_9fXk2LmQpZ"),
        ("login password=Hunter2 user=lead", "Hunter2"),
        ('webhook body {"secret": "Wh5ecret"}', "Wh5ecret"),
        ("ami login secret: Am5ecret", "Am5ecret"),
    ],
)
def test_a_secret_in_a_message_is_masked(
    formatter: logging.Formatter, message: str, secret: str
) -> None:
    line = formatter.format(record(message))
    assert secret not in line and "***" in line


def test_an_extra_field_named_like_a_secret_is_masked() -> None:
    body = json.loads(JsonFormatter().format(record("login", password="Hunter2", user="lead")))
    assert body["password"] == "***" and body["user"] == "lead"


def test_log_format_and_level_are_checked_naming_the_key() -> None:
    assert parse_settings({}).log.format == "text"
    assert parse_settings({"log": {"format": "json", "level": "debug"}}).log.format == "json"
    with pytest.raises(ConfigError, match=r"^log\.format: "):
        parse_settings({"log": {"format": "xml"}})
    with pytest.raises(ConfigError, match=r"^log\.level: "):
        parse_settings({"log": {"level": "loud"}})
    with pytest.raises(ConfigError, match=r"^log\.colour: unknown key"):
        parse_settings({"log": {"colour": True}})
