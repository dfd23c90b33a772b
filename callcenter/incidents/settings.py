"""[incidents]: when the service proposes an incident, and what it announces.

[incidents]
propose_households = 5      # this many households report one fault (002: collective ≥ 5)
propose_within_minutes = 30 # within this many minutes
granularity = "community"   # … from one building | community | street | district | station
categories = ["ice_cold", "not_hot", "temperature_check"]   # the faults a main break causes
announce = true             # publish the open incidents on MQTT callcenter/incidents
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callcenter.errors import ConfigError
from callcenter.incidents.model import GRANULARITIES, HEAT_LOSS, Granularity

_CATEGORIES = ("ice_cold", "not_hot", "temperature_check", "leak", "other")


@dataclass(frozen=True, slots=True)
class IncidentsSettings:
    propose_households: int = 5
    propose_within_minutes: float = 30.0
    granularity: Granularity = "community"
    categories: tuple[str, ...] = HEAT_LOSS
    announce: bool = True


def parse_incidents(raw: Any) -> IncidentsSettings:
    if not isinstance(raw, dict):
        raise ConfigError("incidents", "must be a table")
    known = {
        "propose_households",
        "propose_within_minutes",
        "granularity",
        "categories",
        "announce",
    }
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"incidents.{key}", f"unknown key (known: {', '.join(sorted(known))})"
            )
    defaults = IncidentsSettings()
    households = raw.get("propose_households", defaults.propose_households)
    if (
        isinstance(households, bool)
        or not isinstance(households, int)
        or not 2 <= households <= 1000
    ):
        raise ConfigError("incidents.propose_households", "must be a whole number 2-1000")
    within = raw.get("propose_within_minutes", defaults.propose_within_minutes)
    if isinstance(within, bool) or not isinstance(within, int | float) or not 1 <= within <= 1440:
        raise ConfigError("incidents.propose_within_minutes", "must be 1-1440 minutes")
    granularity = raw.get("granularity", defaults.granularity)
    if granularity not in GRANULARITIES:
        raise ConfigError("incidents.granularity", f"must be one of {', '.join(GRANULARITIES)}")
    categories = raw.get("categories", list(defaults.categories))
    if (
        not isinstance(categories, list)
        or not categories
        or any(c not in _CATEGORIES for c in categories)
    ):
        raise ConfigError(
            "incidents.categories", f"must be a non-empty list of {', '.join(_CATEGORIES)}"
        )
    announce = raw.get("announce", defaults.announce)
    if not isinstance(announce, bool):
        raise ConfigError("incidents.announce", "must be true or false")
    return IncidentsSettings(
        propose_households=households,
        propose_within_minutes=float(within),
        granularity=granularity,
        categories=tuple(dict.fromkeys(categories)),
        announce=announce,
    )
