"""The line probe's rules: a probe call's verdict, and the line going down and up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from callcenter.probe.model import Heard, Line, after, judge

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
RING, ANSWER = 10.0, 30.0


def verdict(**heard: object) -> str:
    return judge(Heard(**heard), RING, ANSWER).outcome  # type: ignore[arg-type]


def test_rang_and_answered_in_time_passes() -> None:
    v = judge(Heard(first_response=0.01, ring=0.4, answer=6.0, final_status=200), RING, ANSWER)
    assert (v.outcome, v.ok) == ("answered", True)


def test_answered_at_once_without_ringing_passes() -> None:
    assert verdict(first_response=0.01, answer=0.3, final_status=200) == "answered"


def test_busy_after_ringing_is_refused_with_its_status() -> None:
    v = judge(Heard(first_response=0.01, ring=0.4, final_status=486), RING, ANSWER)
    assert v.outcome == "refused"
    assert "486" in v.detail


def test_a_cancelled_call_that_rang_is_no_answer() -> None:
    assert verdict(first_response=0.01, ring=0.4, final_status=487, cancelled=True) == "no_answer"


def test_trying_but_never_ringing_is_no_ring() -> None:
    assert verdict(first_response=0.01, final_status=487, cancelled=True) == "no_ring"


def test_silence_is_no_response() -> None:
    assert verdict(cancelled=True) == "no_response"


def test_ringing_only_after_the_ring_limit_is_no_ring() -> None:
    assert verdict(first_response=0.01, ring=RING + 1, cancelled=True) == "no_ring"


def test_an_answer_crossing_the_cancel_is_still_no_answer() -> None:
    late = dict(first_response=0.01, ring=1.0, answer=ANSWER + 0.2, final_status=200)
    assert verdict(**late, cancelled=True) == "no_answer"


def test_a_probe_that_could_not_register_placed_no_call() -> None:
    v = judge(Heard(registered=False, problem="REGISTER answered 403"), RING, ANSWER)
    assert (v.outcome, v.detail) == ("not_registered", "REGISTER answered 403")


def test_one_failure_takes_the_line_down_and_one_pass_brings_it_up() -> None:
    line, alert = after(Line(), True, T0, down_after=1)
    assert (line.state, alert) == ("up", None)
    down, alert = after(line, False, T0 + timedelta(minutes=5), down_after=1)
    assert (down.state, alert, down.since) == ("down", "line_down", T0 + timedelta(minutes=5))
    still, alert = after(down, False, T0 + timedelta(minutes=10), down_after=1)
    assert (still.state, alert, still.failures, still.since) == ("down", None, 2, down.since)
    up, alert = after(still, True, T0 + timedelta(minutes=15), down_after=1)
    assert (up.state, alert, up.failures) == ("up", "line_up", 0)


def test_down_after_three_counts_from_the_first_failure_in_the_row() -> None:
    line = Line("up", since=T0)
    for i in range(1, 3):
        line, alert = after(line, False, T0 + timedelta(minutes=i), down_after=3)
        assert (line.state, alert) == ("up", None)
    line, alert = after(line, False, T0 + timedelta(minutes=3), down_after=3)
    assert (line.state, alert, line.since) == ("down", "line_down", T0 + timedelta(minutes=1))


def test_a_pass_between_failures_starts_the_count_again() -> None:
    line = Line("up", since=T0)
    line, _ = after(line, False, T0, down_after=2)
    line, _ = after(line, True, T0, down_after=2)
    line, alert = after(line, False, T0, down_after=2)
    assert (line.state, line.failures, alert) == ("up", 1, None)


@given(st.lists(st.booleans(), max_size=60), st.integers(min_value=1, max_value=5))
def test_alerts_alternate_down_then_up_and_follow_the_failures(
    probes: list[bool], down_after: int
) -> None:
    line, alerts, run = Line(), [], 0
    for i, ok in enumerate(probes):
        before = line.state
        line, alert = after(line, ok, T0 + timedelta(minutes=i), down_after)
        run = 0 if ok else run + 1
        if alert is not None:
            alerts.append(alert)
        assert (alert == "line_down") == (before != "down" and run == down_after)
        if ok:
            assert line.state == "up"
        elif alert == "line_down" or before == "down":
            assert line.state == "down"
        else:
            assert line.state == before
    assert alerts == ["line_down", "line_up"] * (len(alerts) // 2) + ["line_down"] * (
        len(alerts) % 2
    )
