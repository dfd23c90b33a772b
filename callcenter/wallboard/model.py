"""The wallboard (大屏): a TV in the hotline room showing today's figures, opened with a
read-only token in its address instead of a login form. Pure: the tokens, who may issue them,
what the board shows and the verdict against the ring rule.

A wallboard token grants the board's figures and nothing else; it is not a user's token and no
other route knows it. Only its SHA-256 is stored, like the API tokens'.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from callcenter.auth.model import Role
from callcenter.errors import Invalid

# Supervisors, the department head (客服部长) and admins put a TV up and take it down.
TOKEN_ISSUERS = frozenset({Role.SUPERVISOR, Role.QA_LEAD, Role.ADMIN})

TOKEN_BYTES = 32
# The prefix tells a wallboard token from an API token (cc_) in a pasted link or a log search.
PREFIX = "wb_"
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_RE = re.compile(r"^wb_[A-Za-z0-9_-]{43}$")
MAX_NAME = 64

Verdict = Literal["met", "missed"]


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token: str) -> bool:
    """Only a token that could be ours is looked up (nothing long or odd reaches the database)."""
    return bool(TOKEN_RE.match(token))


def clean_name(value: Any) -> str:
    """The board's name as people call the TV (大厅电视): 1–64 printable characters."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("missing-field", "name is required (e.g. 大厅电视)", "name")
    name = " ".join(value.split())
    if len(name) > MAX_NAME:
        raise Invalid("bad-name", f"name is at most {MAX_NAME} characters", "name")
    if not name.isprintable():
        raise Invalid("bad-name", "name must be printable text", "name")
    return name


@dataclass(frozen=True, slots=True)
class WallboardToken:
    """A wallboard's token as stored: never the token itself."""

    id: int
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    last_seen_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True, slots=True)
class Ringing:
    """The phones ringing now, from the call tracker's live state."""

    legs: int = 0
    past_limit: int = 0
    longest_since: datetime | None = None  # when the longest-ringing phone began to ring
    longest_seconds: float | None = None
    longest_rings: int | None = None


@dataclass(frozen=True, slots=True)
class StationOrders:
    code: str
    name: str  # the address book's (宏城); the code for a station no longer in it
    open: int


@dataclass(frozen=True, slots=True)
class Figures:
    """What the board shows, each figure read from the layer that defines it: the answer
    figures and today's violations and anomalies from the daily report's query layer, the
    phones ringing from the call tracker, the rest from their capability's store. No
    resident's number, name or address: nothing here names a person."""

    day: str  # the hotline day (web.timezone), YYYY-MM-DD
    start: datetime
    end: datetime
    now: datetime
    calls: Mapping[str, Any]  # AnswerStats.as_json() of today's calls
    ringing: Ringing
    violations: Mapping[str, int]  # today's, by kind
    anomalies_today: Mapping[str, int]  # by kind
    anomalies_open: int  # complaints not yet closed
    orders: tuple[StationOrders, ...] = field(default_factory=tuple)
    callbacks_due: int = 0  # still to make, due before today ends (overdue ones included)
    callbacks_overdue: int = 0

    @property
    def verdict(self) -> Verdict | None:
        return verdict(self.calls)


def verdict(calls: Mapping[str, Any]) -> Verdict | None:
    """The rule is every call answered within the ring limit (004 服务标准 2): met while
    today's within-limit rate is 100 %, missed once a call counts against it; None before
    any call counts."""
    rate = calls.get("within_limit_rate")
    if rate is None:
        return None
    return "met" if rate >= 1 else "missed"
