"""[metrics]: who may read GET /metrics (Prometheus text format).

    [metrics]
    token = ""     # a bearer token: /metrics on the main web listener, 401 without it
    listen = ""    # "host:port": a listener serving only /metrics, no token (a private network)

Both empty (the default): no /metrics at all. The main listener faces agents' browsers and
no default token could be safe, and a second port picked for the operator could clash with
something of theirs; so metrics are on only once the operator says how they are guarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callcenter.errors import ConfigError

_MIN_TOKEN = 16


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    token: str = ""
    listen: tuple[str, int] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.token) or self.listen is not None

    def __repr__(self) -> str:  # never the token, even in a traceback
        return (
            f"MetricsSettings(token={'<set>' if self.token else '<unset>'}, listen={self.listen})"
        )


def _listen(value: Any) -> tuple[str, int] | None:
    if not isinstance(value, str):
        raise ConfigError("metrics.listen", f'must be "host:port", got {type(value).__name__}')
    if value == "":
        return None
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            "metrics.listen", f'must be "host:port" with a port 0-65535, got {value!r}'
        )
    return host, int(port)


def _token(value: Any) -> str:
    # The value itself is never echoed: a typo in it would put the secret in a log.
    if not isinstance(value, str):
        raise ConfigError("metrics.token", f"must be a string, got {type(value).__name__}")
    if value and (len(value) < _MIN_TOKEN or any(c.isspace() for c in value)):
        raise ConfigError(
            "metrics.token",
            f"must be empty or at least {_MIN_TOKEN} characters without spaces "
            f"(got {len(value)} characters)",
        )
    return value


def parse_metrics(raw: Any) -> MetricsSettings:
    if not isinstance(raw, dict):
        raise ConfigError("metrics", "must be a table")
    unknown = sorted(set(raw) - {"token", "listen"})
    if unknown:
        raise ConfigError(f"metrics.{unknown[0]}", "unknown key (known: listen, token)")
    return MetricsSettings(
        token=_token(raw.get("token", "")), listen=_listen(raw.get("listen", ""))
    )
