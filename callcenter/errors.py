"""Domain errors: a stable code and details; only web/errors.py knows HTTP."""

from __future__ import annotations

from typing import Any


class ConfigError(Exception):
    """A bad configuration: `key` is the dotted key at fault."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class DomainError(Exception):
    """An error a client can act on. `code` is stable (e.g. "no-such-user")."""

    def __init__(self, code: str, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details


class NotFound(DomainError):
    pass


class Invalid(DomainError):
    pass


class Conflict(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class Forbidden(DomainError):
    pass


class Unavailable(DomainError):
    """A backend (database, broker) is down: a 503, not a 500."""


class StartupError(Exception):
    """The service cannot start; the message says what to do (and names the config key)."""
