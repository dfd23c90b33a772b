"""Ring counting: ⌊ringing seconds / cycle⌋ + 1, and the deadline at limit × cycle."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from callcenter.calls.rings import RingRule

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
cycles = st.sampled_from([0.4, 1.0, 2.5, 3.0, 4.0, 5.0, 6.0])
limits = st.integers(min_value=1, max_value=6)
micros = st.integers(min_value=0, max_value=120_000_000)


def test_first_ring_is_ring_one() -> None:
    assert RingRule(5.0, 3).rings(0.0) == 1


def test_ring_count_steps_at_each_cycle() -> None:
    rule = RingRule(5.0, 3)
    assert [rule.rings(s) for s in (4.999, 5.0, 9.999, 10.0, 14.999, 15.0)] == [1, 2, 2, 3, 3, 4]


def test_answer_at_exactly_the_deadline_is_late() -> None:
    rule = RingRule(5.0, 3)
    assert rule.within_limit(T0, T0 + timedelta(seconds=14.999999))
    assert not rule.within_limit(T0, T0 + timedelta(seconds=15))


def test_limit_two_reads_before_the_third_ring() -> None:
    rule = RingRule(5.0, 2)
    assert rule.deadline == timedelta(seconds=10)
    assert not rule.within_limit(T0, T0 + timedelta(seconds=10))


@given(cycles, micros)
def test_ring_count_is_floor_of_elapsed_over_cycle_plus_one(cycle: float, us: int) -> None:
    rule = RingRule(cycle, 3)
    n = rule.rings_between(T0, T0 + timedelta(microseconds=us))
    cycle_us = round(cycle * 1_000_000)
    assert (n - 1) * cycle_us <= us < n * cycle_us


@given(cycles, limits, micros)
def test_within_limit_exactly_when_answered_before_the_deadline(
    cycle: float, limit: int, us: int
) -> None:
    rule = RingRule(cycle, limit)
    answered = T0 + timedelta(microseconds=us)
    assert rule.within_limit(T0, answered) == (answered - T0 < rule.deadline)


@given(cycles, micros, micros)
def test_ring_count_never_decreases(cycle: float, a: int, b: int) -> None:
    rule = RingRule(cycle, 3)
    lo, hi = sorted((a, b))
    assert rule.rings_between(T0, T0 + timedelta(microseconds=lo)) <= rule.rings_between(
        T0, T0 + timedelta(microseconds=hi)
    )


@given(cycles, micros)
def test_seconds_and_timestamps_agree(cycle: float, us: int) -> None:
    rule = RingRule(cycle, 3)
    assert rule.rings(us / 1_000_000) == rule.rings_between(T0, T0 + timedelta(microseconds=us))
