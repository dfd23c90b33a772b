"""The log's two shapes (log.format): readable text lines, or one JSON object per line for a
log collector; in both, secrets that reach a message (a URL's password, a bearer token, a
`password=` value) are replaced by *** before anything is written."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from callcenter.ops.settings import LogSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
MASK = "***"
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# What JSON lines always carry: a context field never overwrites them.
_RESERVED = frozenset({"time", "level", "logger", "message", "exception", "stack"})
_SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|auth_?key|api_?key)$", re.IGNORECASE)
_SECRETS = (
    # scheme://user:password@host → scheme://user:***@host (database, MQTT, webhook URLs)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/:@]*):[^\s@/]+@", re.IGNORECASE), rf"\1:{MASK}@"),
    (re.compile(r"\b(bearer)\s+[^\s,;\"']+", re.IGNORECASE), rf"\1 {MASK}"),
    # password=…, secret: …, token=… (a key ending so, in key=value or JSON-ish text)
    (
        re.compile(
            r"\b([a-z_]*(?:password|passwd|secret|token|auth_?key|api_?key))"
            r"(\"?\s*[=:]\s*\"?)[^\s,;\"'&}]+",
            re.IGNORECASE,
        ),
        rf"\1\2{MASK}",
    ),
)
# The service logs its context as key=value after the words (STYLE); JSON lines lift them
# into fields so a collector can filter on them. A value runs to the next key (an error's
# text has spaces: "error=[Errno 111] Connection refused").
_CONTEXT_KEY = re.compile(r"(?<!\S)([a-z][a-z0-9_]*)=")


def context(message: str) -> dict[str, str]:
    """The key=value pairs of a message, in order (the first of a repeated key wins)."""
    keys = list(_CONTEXT_KEY.finditer(message))
    pairs: dict[str, str] = {}
    for i, here in enumerate(keys):
        end = keys[i + 1].start() if i + 1 < len(keys) else len(message)
        pairs.setdefault(here.group(1), message[here.end() : end].strip())
    return pairs


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _utc(created: float) -> str:
    at = datetime.fromtimestamp(created, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return redact(value) if isinstance(value, str) else value
    if isinstance(value, datetime):
        return value.isoformat()
    return redact(repr(value))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601 with Z), level, logger, message; then the message's key=value
    context and the record's `extra=` fields; then the exception, if any."""

    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        for key, value in context(message).items():
            if key not in _RESERVED:
                line.setdefault(key, value)
        for key, value in vars(record).items():
            if key in _STANDARD or key in _RESERVED or key.startswith("_"):
                continue
            line[key] = MASK if _SECRET_KEY.search(key) else _plain(value)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installed, so a second call replaces its shape only."""


def configure(settings: LogSettings) -> None:
    """Log to standard error in the configured shape and level. A root logger that already
    has someone else's handlers (a test runner's) is left to them."""
    root = logging.getLogger()
    ours = next((h for h in root.handlers if isinstance(h, _OurHandler)), None)
    if ours is None:
        if root.handlers:
            return
        ours = _OurHandler(sys.stderr)
        root.addHandler(ours)
    ours.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root.setLevel(settings.level.upper())
    # A library's warning printed as it is would be the one line a collector cannot read.
    logging.captureWarnings(settings.format == "json")
