"""[incidents] in the config: a bad value stops start-up naming its key."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.config import ConfigError, parse_settings


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"propose_households": 1}, "incidents.propose_households"),
        ({"propose_households": True}, "incidents.propose_households"),
        ({"propose_within_minutes": 0}, "incidents.propose_within_minutes"),
        ({"granularity": "flat"}, "incidents.granularity"),
        ({"categories": []}, "incidents.categories"),
        ({"categories": ["cold"]}, "incidents.categories"),
        ({"announce": "yes"}, "incidents.announce"),
        ({"window": 3}, "incidents.window"),
    ],
)
def test_a_bad_value_names_its_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_settings({"incidents": section})
    assert refused.value.key == key


def test_the_defaults_are_the_seeds_collective_complaint() -> None:
    settings = parse_settings({"incidents": {"granularity": "building"}}).incidents
    assert (settings.propose_households, settings.propose_within_minutes) == (5, 30.0)
    assert settings.granularity == "building"
    assert settings.categories == ("ice_cold", "not_hot", "temperature_check")
