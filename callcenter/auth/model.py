"""Roles and who may do what: the access rules, pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"  # 接线员 / 话务员
    TEAM_LEAD = "team_lead"  # 领班
    QA_LEAD = "qa_lead"  # 客服部长
    STATION = "station"  # 维修站
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # A PBX or call recorder with an API token of its own: it may upload recordings, no more.
    PBX = "pbx"


ALL_ROLES = frozenset(Role)
# Who may see a call at all; agents see only the calls their own phone took part in.
CALL_READERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
STATS_READERS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
VIOLATION_READERS = frozenset(
    {Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN}
)
LIVE_READERS = frozenset({Role.AGENT, Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})
USER_ADMINS = frozenset({Role.ADMIN})
SOURCE_READERS = frozenset({Role.TEAM_LEAD, Role.QA_LEAD, Role.SUPERVISOR, Role.ADMIN})

NAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}$")
EXTENSION_RE = re.compile(r"^[0-9A-Za-z*#+]{1,32}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling the API or using the page."""

    id: int
    name: str
    role: Role
    extension: str | None = None
    work_number: str | None = None
    language: str | None = None
    station: str | None = None  # a station account's station code

    def may(self, roles: frozenset[Role]) -> bool:
        return self.role in roles
