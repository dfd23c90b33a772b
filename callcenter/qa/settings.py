"""[qa]: recording spot checks (录音抽查制度): how many recordings each reviewer checks, when
the service draws them, and how the draw leans towards the calls worth hearing.

    [qa]
    checklists_dir = "config/qa"   # intake.toml and callback.toml
    daily_per_agent = 2            # a team lead's sample of each agent, every day
    weekly_per_agent = 5           # the QA lead's (客服部长) sample of each agent, every week
    draw_hour = 6                  # local hour the service draws yesterday's and last week's
    weight_violation = 3.0         # a call with a late answer or the agent hanging up first
    weight_complaint = 3.0         # a call with a complaint ticket
    weight_new_agent = 2.0         # an agent in their first month
    new_agent_days = 30
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from callcenter.errors import ConfigError


@dataclass(frozen=True, slots=True)
class QaSettings:
    checklists_dir: str = "config/qa"
    daily_per_agent: int = 2
    weekly_per_agent: int = 5
    draw_hour: int = 6
    weight_violation: float = 3.0
    weight_complaint: float = 3.0
    weight_new_agent: float = 2.0
    new_agent_days: int = 30

    @property
    def sampling_version(self) -> str:
        """What a draw depends on besides the date and the reviewer: a sample re-drawn with
        the same settings is the same sample (the audit of a draw)."""
        values = {k: v for k, v in asdict(self).items() if k != "checklists_dir"}
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
        return digest[:12]


_INTS = {"daily_per_agent": (0, 100), "weekly_per_agent": (0, 100), "draw_hour": (0, 23),
         "new_agent_days": (0, 366)}  # fmt: skip


def parse_qa(raw: Any) -> QaSettings:
    if not isinstance(raw, dict):
        raise ConfigError("qa", "must be a table")
    known = {f.name for f in fields(QaSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"qa.{name}"
        if name not in known:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(known))})")
        if name == "checklists_dir":
            if not isinstance(value, str) or not value:
                raise ConfigError(key, "must be a directory's path")
        elif name in _INTS:
            lo, hi = _INTS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(key, f"must be a whole number {lo}-{hi}, got {value!r}")
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
                raise ConfigError(key, f"must be a number >= 1 (1: no lean), got {value!r}")
            value = float(value)
        values[name] = value
    return QaSettings(**values)
