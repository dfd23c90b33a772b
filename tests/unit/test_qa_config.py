"""[qa] in the configuration: its keys and their errors; a broken checklist stops start-up
naming the sheet and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from callcenter.app import StartupError, build
from callcenter.config import ConfigError, parse_settings
from tests.conftest import settings_for


def test_the_defaults_and_a_bad_key() -> None:
    qa = parse_settings({}).qa
    assert (qa.daily_per_agent, qa.weekly_per_agent, qa.draw_hour) == (2, 5, 6)
    changed = parse_settings({"qa": {"daily_per_agent": 3}}).qa
    assert changed.sampling_version != qa.sampling_version  # a draw names its settings
    for raw, key in (
        ({"daily_per_agent": -1}, "qa.daily_per_agent"),
        ({"draw_hour": 24}, "qa.draw_hour"),
        ({"weight_violation": 0.5}, "qa.weight_violation"),
        ({"weigth_complaint": 2}, "qa.weigth_complaint"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_settings({"qa": raw})
        assert caught.value.key == key


@pytest.fixture
def broken_sheets(tmp_path: Path) -> Path:
    """The shipped sheets, the callback one with an item worth a point too many."""
    sheets = tmp_path / "qa"
    sheets.mkdir()
    repo = Path(__file__).resolve().parents[2] / "config" / "qa"
    (sheets / "intake.toml").write_text((repo / "intake.toml").read_text())
    broken = (repo / "callback.toml").read_text().replace("points = 3", "points = 4", 1)
    (sheets / "callback.toml").write_text(broken)
    return sheets


async def test_a_broken_checklist_stops_start_up(tmp_path: Path, broken_sheets: Path) -> None:
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3", qa={"checklists_dir": str(broken_sheets)}
    )
    app = build(settings, migrate=True, mqtt=False, hep=False)
    with pytest.raises(StartupError, match=r"qa\.callback\.item: the items total 17"):
        async with TestServer(app):
            pass
