"""The [recordings] keys: the shipped file parses, and a bad value stops start-up naming
its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callcenter.config import ConfigError, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_file_holds_the_defaults() -> None:
    shipped = load_settings(REPO / "config" / "callcenter.toml").recordings
    assert shipped == parse_settings({}).recordings


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"silence_dbfs": 3.0}, "recordings.silence_dbfs"),
        ({"min_sound_ms": 0}, "recordings.min_sound_ms"),
        ({"max_upload_mb": 0}, "recordings.max_upload_mb"),
        ({"spool_settle_seconds": 0}, "recordings.spool_settle_seconds"),
        ({"spool_pattern": "^(.*)\\.wav$"}, "recordings.spool_pattern"),
        ({"spool_pattern": "(?P<call>"}, "recordings.spool_pattern"),
        ({"path_map": ["relative=/mnt/x"]}, "recordings.path_map[0]"),
        ({"path_map": ["/var/lib/freeswitch"]}, "recordings.path_map[0]"),
        ({"import_dirs": "/mnt/x"}, "recordings.import_dirs"),
        ({"root": ""}, "recordings.root"),
    ],
)
def test_a_bad_value_names_its_key(values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"recordings": values})
    assert caught.value.key == key


def test_paths_are_resolved_against_the_base_directory(tmp_path: Path) -> None:
    s = parse_settings({"recordings": {"spool_dir": "spool"}}, base_dir=tmp_path)
    assert s.recordings_root == tmp_path / "recordings" and s.spool_dir == tmp_path / "spool"
    assert parse_settings({}, base_dir=tmp_path).spool_dir is None
