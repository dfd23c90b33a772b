"""The checklists as data: the shipped sheets are the department's (35 points in 18 items,
16 in 7), and a file with a typo stops start-up naming the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from callcenter.errors import ConfigError
from callcenter.qa.checklists import load, parse

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_sheets_are_the_departments() -> None:
    sheets = load(REPO / "config" / "qa")
    intake, callback = sheets["intake"], sheets["callback"]
    assert (intake.total, len(intake.items)) == (35, 18)
    assert (callback.total, len(callback.items)) == (16, 7)
    assert [i.points for i in intake.items] == [
        5,
        3,
        1,
        1,
        5,
        1,
        1,
        1,
        1,
        1,
        1,
        5,
        1,
        1,
        1,
        1,
        1,
        4,
    ]
    assert callback.items[0].zh == "用语第一句"
    opening = intake.item("opening")
    assert opening is not None and opening.holiday_opening
    assert {i.known for i in intake.items if i.known} == {"name", "phone", "address", "station"}
    assert len(intake.sha256) == 64 and intake.sha256 != callback.sha256


def _raw() -> dict[str, Any]:
    return tomllib.loads((REPO / "config" / "qa" / "callback.toml").read_text())


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda r: r["item"][2].update(point=2), "qa.callback.item[2].point"),
        (lambda r: r["item"][1].update(points=3), "qa.callback.item"),  # 17 points
        (lambda r: r["item"][1].update(points="2"), "qa.callback.item[1].points"),
        (lambda r: r["item"][3].update(key="opening"), "qa.callback.item[3].key"),
        (lambda r: r["item"][0].update(known="mood"), "qa.callback.item[0].known"),
        (lambda r: r["item"][0].update(zh=""), "qa.callback.item[0].zh"),
        (lambda r: r.update(sheet="intake"), "qa.callback.sheet"),
        (lambda r: r.update(version=0), "qa.callback.version"),
        (lambda r: r.update(title="x"), "qa.callback.title"),
    ],
)
def test_a_typo_names_its_key(change: Any, key: str) -> None:
    raw = _raw()
    change(raw)
    with pytest.raises(ConfigError) as caught:
        parse(raw, "callback", "0" * 64)
    assert caught.value.key == key


def test_a_missing_or_broken_file_names_the_sheet(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert caught.value.key == "qa.intake"
    (tmp_path / "intake.toml").write_text((REPO / "config/qa/intake.toml").read_text())
    (tmp_path / "callback.toml").write_text("sheet = [")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert caught.value.key == "qa.callback"


def test_scores_must_fit_the_sheet() -> None:
    from callcenter.qa.model import Score, score_error

    sheet = load(REPO / "config" / "qa")["callback"]
    full = tuple(Score(i.key, 0) for i in sheet.items)
    assert score_error(sheet, full) is None
    over = (Score("opening", 4), *full[1:])
    assert score_error(sheet, over) == ("opening", "用语第一句 (opening) is worth 3: deduct 0-3")
    assert score_error(sheet, (*full, Score("mood", 0)))[0] == "mood"  # type: ignore[index]
    assert score_error(sheet, (*full, Score("closing", 1)))[0] == "closing"  # type: ignore[index]
    assert score_error(sheet, full[1:]) == ("opening", "every item is scored: 'opening' is missing")
    assert score_error(sheet, (Score("opening", -1), *full[1:]))[0] == "opening"  # type: ignore[index]
