"""[tickets] settings: defaults, and bad values named by their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.config import ConfigError, parse_settings


def test_defaults_link_within_ten_minutes_and_read_the_sample_book() -> None:
    settings = parse_settings({}, base_dir=Path("/srv/cc"))
    assert settings.tickets.link_window_minutes == 10.0
    assert settings.stations_path == Path("/srv/cc/config/stations.toml")


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"link_window_minutes": -1}, "tickets.link_window_minutes"),
        ({"link_window_minutes": "10"}, "tickets.link_window_minutes"),
        ({"stations_file": ""}, "tickets.stations_file"),
        ({"window": 3}, "tickets.window"),
    ],
)
def test_bad_values_name_the_key(values: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"tickets": values})
    assert caught.value.key == key
