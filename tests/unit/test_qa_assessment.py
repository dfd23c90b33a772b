"""The monthly assessment's arithmetic, pure: a sheet's findings, the fines with "50 more each
after the third", a recording counted once, the bonus levels and their lift; and the errors of
[qa.fines] and [qa.bonus], each naming its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.config import ConfigError, parse_settings
from callcenter.qa.assessment import (
    Agent,
    AgentMonth,
    Scored,
    assess,
    bonus,
    findings,
    month_bounds,
)
from callcenter.qa.checklists import load
from callcenter.qa.settings import Bonus, BonusLevel, Fines

SHEETS = load(Path(__file__).resolve().parents[2] / "config" / "qa")
AT = datetime(2026, 12, 10, tzinfo=UTC)
ME = Agent(1, "li.na", "1001")


def scored(n: int, found: set[str], deducted: int = 0, **kw: Any) -> Scored:
    values: dict[str, Any] = {
        "id": f"e{n}", "recording_id": f"r{n}", "sheet": "intake", "deducted": deducted,
        "findings": frozenset(found), "good_example": False, "final": True,
        "scored_at": AT + timedelta(minutes=n),
    }  # fmt: skip
    return Scored(**(values | kw))


def lines(month: AgentMonth, fines: Fines | None = None) -> dict[str, int]:
    a = assess(month, fines or Fines(), Bonus())
    return {f.kind: f.yuan for f in a.fines if f.yuan}


def test_a_sheet_finds_the_fields_wrong_and_a_missed_phrase_once() -> None:
    intake = SHEETS["intake"]
    got = findings(intake, [
        {"key": "address", "deducted": 5}, {"key": "station", "deducted": 1},
        {"key": "opening", "deducted": 2}, {"key": "closing", "deducted": 4},
        {"key": "name", "deducted": 0}, {"key": "seat", "deducted": 1},
    ])  # fmt: skip
    assert got == {"address_wrong", "wrong_station", "non_standard"}
    assert findings(SHEETS["callback"], [{"key": "score", "deducted": 2}]) == {"non_standard"}
    # Without the sheet only the field items are known by their keys.
    assert findings(None, [{"key": "phone", "deducted": 1}, {"key": "opening", "deducted": 5}]) == {
        "phone_wrong"
    }


def test_five_serious_findings_are_10_each_and_50_more_for_the_fourth_and_fifth() -> None:
    evals = tuple(scored(i, {"address_wrong"}) for i in range(3)) + tuple(
        scored(i, {"wrong_station"}) for i in range(3, 5)
    )
    # address 3 × 20 = 60, station 2 × 30 = 60, serious 5 × 10 = 50, after the third 2 × 50
    assert lines(AgentMonth(ME, evals)) == {
        "address_wrong": 60, "wrong_station": 60, "serious": 50, "serious_after_third": 100,
    }  # fmt: skip
    three = lines(AgentMonth(ME, evals[:3]))
    assert three["serious"] == 30 and "serious_after_third" not in three


@given(st.integers(0, 40))
def test_serious_fines_follow_the_rule_for_any_count(n: int) -> None:
    month = AgentMonth(ME, tuple(scored(i, {"address_wrong"}) for i in range(n)))
    got = lines(month, Fines(address_wrong=0))
    assert got.get("serious", 0) + got.get("serious_after_third", 0) == 10 * n + 50 * max(0, n - 3)


def test_a_recording_counts_once_as_its_latest_final_evaluation() -> None:
    first = scored(1, {"address_wrong"}, 5)
    again = scored(1, {"name_wrong"}, 1, id="e9", scored_at=AT + timedelta(hours=1))
    pending = scored(2, {"wrong_station"}, 5, final=False)
    a = assess(AgentMonth(ME, (first, again, pending)), Fines(), Bonus())
    assert a.counts["name_wrong"] == 1 and a.counts["address_wrong"] == 0
    assert a.counts["wrong_station"] == 0 and a.pending == 1
    assert (a.sheets["intake"], a.deducted["intake"], a.fines_yuan) == (1, 1, 10)


def test_violations_and_unreported_anomalies_are_fined() -> None:
    month = AgentMonth(
        ME,
        violations={"ring_limit": 2, "late_answer": 1, "hung_up_first": 1, "rang_out": 4},
        unreported=2,
        callbacks_made=7,
    )
    a = assess(month, Fines(), Bonus())
    assert lines(month) == {"late_answer": 30, "hung_up_first": 50, "unreported_anomaly": 40}
    assert a.callbacks_made == 7 and a.fines_yuan == 120


def test_the_bonus_is_the_highest_level_within_its_limits_lifted_by_good_examples() -> None:
    rule = Bonus()
    assert bonus(rule, 0, 2.9, 0)[0] == 500
    assert bonus(rule, 0, 3.1, 0)[0] == 400  # the share deducted alone drops a level
    assert bonus(rule, 80, 0, 0)[0] == 300
    assert bonus(rule, 81, 0, 0)[0] == 200
    assert bonus(rule, 1000, 50, 0)[0] == 100
    assert bonus(rule, 80, 0, 3) == (400, "fines 80 yuan, 0% deducted: level 300, "
                                          "3 good examples lift it 1 to 400")  # fmt: skip
    assert bonus(rule, 80, 0, 9)[0] == 400  # at most max_lift
    strict = Bonus(levels=(BonusLevel(300, 0), BonusLevel(100, 50)), good_examples_per_step=0)
    assert bonus(strict, 60, 0, 10) == (0, "fines 60 yuan, 0% deducted: past every level")


def test_a_month_is_local_midnight_to_local_midnight() -> None:
    start, end = month_bounds("2026-12", ZoneInfo("Asia/Shanghai"))
    assert (start, end) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC),
    )  # fmt: skip


def test_the_fines_and_bonus_config_and_their_errors() -> None:
    qa = parse_settings({"qa": {"fines": {"wrong_station": 40}}}).qa
    assert qa.fines.wrong_station == 40 and qa.fines.serious_after_third == 50
    assert qa.sampling_version == parse_settings({}).qa.sampling_version  # not the draw's
    levels = [{"yuan": 300, "max_fines": 10}, {"yuan": 100}]
    assert parse_settings({"qa": {"bonus": {"level": levels}}}).qa.bonus.levels == (
        BonusLevel(300, 10), BonusLevel(100),
    )  # fmt: skip
    for raw, key in (
        ({"fines": {"wrong_station": -1}}, "qa.fines.wrong_station"),
        ({"fines": {"wrong_station": "30"}}, "qa.fines.wrong_station"),
        ({"fines": {"wrong_staton": 30}}, "qa.fines.wrong_staton"),
        ({"fines": 30}, "qa.fines"),
        ({"bonus": {"level": []}}, "qa.bonus.level"),
        ({"bonus": {"level": [{"max_fines": 0}]}}, "qa.bonus.level[0].yuan"),
        ({"bonus": {"level": [{"yuan": 100}, {"yuan": 200}]}}, "qa.bonus.level[1].yuan"),
        ({"bonus": {"level": [{"yuan": 200, "max_fines": 50}, {"yuan": 100, "max_fines": 10}]}},
         "qa.bonus.level[1].max_fines"),
        ({"bonus": {"level": [{"yuan": 200}, {"yuan": 100, "max_deducted_pct": 5}]}},
         "qa.bonus.level[1].max_deducted_pct"),
        ({"bonus": {"level": [{"yuan": 200, "max_deducted_pct": 101}]}},
         "qa.bonus.level[0].max_deducted_pct"),
        ({"bonus": {"max_lift": -1}}, "qa.bonus.max_lift"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as caught:
            parse_settings({"qa": raw})
        assert caught.value.key == key, raw
