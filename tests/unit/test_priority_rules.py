"""Priority by the cold, the pure rules: colder, vulnerable and longer-waiting repairs never
rank lower; 冰凉 ranks at least as high as 不热, 不热 as 要求测温; an unknown outdoor
temperature adds nothing and says so; a band shortens deadlines as configured, never more."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from callcenter.orders.model import Deadlines
from callcenter.priority.model import (
    BANDS,
    DeadlineFactors,
    Outdoor,
    Priority,
    TemperatureState,
    Weights,
    priority,
    scaled,
)
from callcenter.priority.schemas import priority_json
from callcenter.tickets.model import CATEGORIES, VULNERABILITIES, Category, Vulnerability

W = Weights()
categories = st.sampled_from(CATEGORIES)
vulnerabilities = st.none() | st.sampled_from(VULNERABILITIES)
celsius = st.floats(min_value=-50, max_value=45, allow_nan=False)
waits = st.floats(min_value=0, max_value=30 * 24).map(lambda h: timedelta(hours=h))
outdoors = st.one_of(
    celsius.map(lambda c: Outdoor("ok", c)),
    st.sampled_from([Outdoor("stale"), Outdoor("unknown"), Outdoor("invalid")]),
)


def rank(p: Priority) -> tuple[int, float]:
    """Higher is more urgent: the band first, then the score."""
    return (len(BANDS) - BANDS.index(p.band), p.score)


@given(categories, vulnerabilities, waits, celsius, celsius)
def test_colder_outside_never_lowers_the_priority(
    cat: Category, vul: Vulnerability | None, waited: timedelta, a: float, b: float
) -> None:
    warm, cold = max(a, b), min(a, b)
    at_warm = priority(cat, vul, waited, Outdoor("ok", warm), W)
    at_cold = priority(cat, vul, waited, Outdoor("ok", cold), W)
    assert rank(at_cold) >= rank(at_warm)


@given(categories, st.sampled_from(VULNERABILITIES), waits, outdoors)
def test_a_vulnerable_household_never_ranks_lower(
    cat: Category, vul: Vulnerability, waited: timedelta, outdoor: Outdoor
) -> None:
    flagged = priority(cat, vul, waited, outdoor, W)
    plain = priority(cat, None, waited, outdoor, W)
    assert rank(flagged) >= rank(plain)


@given(categories, vulnerabilities, waits, waits, outdoors)
def test_waiting_longer_never_lowers_the_priority(
    cat: Category, vul: Vulnerability | None, a: timedelta, b: timedelta, outdoor: Outdoor
) -> None:
    shorter, longer = min(a, b), max(a, b)
    assert rank(priority(cat, vul, longer, outdoor, W)) >= rank(
        priority(cat, vul, shorter, outdoor, W)
    )


@given(vulnerabilities, waits, outdoors)
def test_ice_cold_ranks_above_not_hot_above_a_temperature_check(
    vul: Vulnerability | None, waited: timedelta, outdoor: Outdoor
) -> None:
    ice, not_hot, check = (
        priority(cat, vul, waited, outdoor, W)
        for cat in ("ice_cold", "not_hot", "temperature_check")
    )
    assert rank(ice) >= rank(not_hot) >= rank(check)


@given(categories, vulnerabilities, waits, st.sampled_from(["stale", "unknown", "invalid"]))
def test_an_unknown_temperature_adds_nothing_and_says_unknown(
    cat: Category, vul: Vulnerability | None, waited: timedelta, state: TemperatureState
) -> None:
    unknown = priority(cat, vul, waited, Outdoor(state), W)
    # What the score would be on a mild day (no cold points): the same, never a guess.
    mild = priority(cat, vul, waited, Outdoor("ok", W.cold_below_celsius + 10), W)
    assert unknown.score == mild.score
    body = priority_json(unknown)
    assert body is not None
    assert body["temperature"] == "unknown"
    assert body["outdoor"] == {"state": state, "celsius": None}
    outdoor = next(r for r in body["reasons"] if r["factor"] == "outdoor")
    assert (outdoor["value"], outdoor["points"]) == (None, 0.0)
    assert outdoor["text"] == "outdoor temperature unknown"


@given(categories, vulnerabilities, waits, outdoors)
def test_the_score_is_the_sum_of_its_reasons(
    cat: Category, vul: Vulnerability | None, waited: timedelta, outdoor: Outdoor
) -> None:
    p = priority(cat, vul, waited, outdoor, W)
    assert abs(p.score - sum(r.points for r in p.reasons)) <= 0.05 * len(p.reasons)
    assert p.band == W.band(p.score)
    assert p == priority(cat, vul, waited, outdoor, W)  # deterministic


def test_the_issue_example_explains_itself() -> None:
    p = priority("ice_cold", "infant", timedelta(hours=3), Outdoor("ok", -18.0), W)
    body = priority_json(p)
    assert body is not None
    assert [r["text"] for r in body["reasons"]] == [
        "ice_cold",
        "outdoor -18 °C",
        "vulnerable: infant",
        "waiting 3 h",
    ]
    # 40 (冰凉) + (5 − (−18)) × 1.5 = 34.5 + 25 (infant) + 3 h × 2 = 6
    assert [r["points"] for r in body["reasons"]] == [40.0, 34.5, 25.0, 6.0]
    assert (body["score"], body["band"], body["temperature"]) == (105.5, "critical", "ok")


def test_a_mild_day_and_a_fresh_temperature_check_is_low() -> None:
    p = priority("temperature_check", None, timedelta(minutes=10), Outdoor("ok", 8.0), W)
    assert (p.score, p.band) == (10.3, "low")


def test_the_cold_and_the_wait_stop_adding_at_their_caps() -> None:
    bitter = priority("not_hot", None, timedelta(days=30), Outdoor("ok", -50.0), W)
    points = {r.factor: r.points for r in bitter.reasons}
    assert points["outdoor"] == W.cold_points_max
    assert points["waiting"] == W.waiting_points_max


def test_a_band_shortens_only_the_deadlines_it_names() -> None:
    station = Deadlines(
        accept=timedelta(minutes=30), contact=timedelta(minutes=60), repair=timedelta(hours=4)
    )
    assert scaled(station, DeadlineFactors()) == station
    half_repair = scaled(station, DeadlineFactors(repair=0.5))
    assert half_repair == Deadlines(
        accept=timedelta(minutes=30), contact=timedelta(minutes=60), repair=timedelta(hours=2)
    )
