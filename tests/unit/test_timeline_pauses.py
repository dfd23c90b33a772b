"""Pause arithmetic (callcenter/timeline/pauses.py) and an order's deadlines under a pause
(orders/model.py): overlapping and touching pauses count once, an open pause holds what it
overlaps, a deadline moves by each pause that began before it and by nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from callcenter.anomalies.model import missed
from callcenter.orders.model import Order, pause_error
from callcenter.timeline.pauses import Pause, extended, merged, paused_within

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def pause(start: float, end: float | None, n: int = 1) -> Pause:
    return Pause(n, "o1", at(start), at(end) if end is not None else None, "not_home", None, "x")


def order(**values: object) -> Order:
    base: dict[str, object] = {
        "id": "o1",
        "ticket_id": "t1",
        "station": "xingfu",
        "round": 1,
        "status": "accepted",
        "dispatched_at": at(0),
        "dispatched_by": "li.na",
        "accept_due": at(30),
        "contact_due": at(60),
        "repair_due": at(240),
        "accepted_at": at(5),
    }
    return Order(**{**base, **values})  # type: ignore[arg-type]


def test_overlapping_and_touching_pauses_merge_into_one() -> None:
    spans = [(at(10), at(20)), (at(15), at(25)), (at(25), at(30)), (at(40), at(45))]
    assert merged(spans, at(100)) == [(at(10), at(30)), (at(40), at(45))]


def test_an_open_pause_runs_to_now_and_an_empty_one_is_nothing() -> None:
    assert merged([(at(50), None), (at(5), at(5))], at(70)) == [(at(50), at(70))]


def test_paused_time_is_counted_once_and_only_inside_the_window() -> None:
    pauses = [pause(10, 20), pause(15, 25, 2), pause(50, None, 3)]
    # [10, 25] overlapping counts 15 min once; the open one from 50 to now (70) counts 20,
    # and the window [0, 60] keeps 10 of it.
    assert paused_within(pauses, at(0), at(100), at(70)) == 35 * 60
    assert paused_within(pauses, at(0), at(60), at(70)) == 25 * 60
    assert paused_within(pauses, at(20), at(22), at(70)) == 2 * 60


def test_a_pause_before_the_deadline_moves_it_by_its_whole_length() -> None:
    # Contact due at +60; the resident was out from +50 to +80: 10 minutes were left at +50,
    # so they are left at +80: due at +90.
    assert extended(at(60), [(at(50), at(80))]) == at(90)


def test_a_pause_after_the_deadline_moves_nothing() -> None:
    assert extended(at(60), [(at(60), at(80))]) == at(60)
    assert extended(at(60), [(at(70), at(80))]) == at(60)


def test_a_later_pause_that_falls_before_the_moved_deadline_moves_it_again() -> None:
    # The first moves +60 to +70; the second starts at +65, before +70, and moves it on.
    assert extended(at(60), [(at(10), at(20)), (at(65), at(75))]) == at(80)


def test_overlapping_pauses_move_a_deadline_once() -> None:
    assert extended(at(60), [(at(10), at(30)), (at(20), at(40))]) == at(90)


def test_an_open_pause_before_the_deadline_holds_it() -> None:
    assert extended(at(60), [(at(50), None)]) is None
    assert extended(at(60), [(at(61), None)]) == at(60)


@given(
    st.lists(st.tuples(st.integers(0, 600), st.integers(1, 120)), max_size=6),
    st.integers(1, 600),
)
def test_the_moved_deadline_leaves_the_station_exactly_its_allowance(
    raw: list[tuple[int, int]], allowance: int
) -> None:
    """Net of pauses, the time from dispatch to the moved deadline is the allowance."""
    spans = [(at(s), at(s + length)) for s, length in raw]
    due = extended(at(allowance), spans)
    assert due is not None
    pauses = [Pause(i, "o1", s, e, "other", None, "x") for i, (s, e) in enumerate(spans)]
    net = (due - at(0)).total_seconds() - paused_within(pauses, at(0), due, due)
    assert net == allowance * 60


def test_a_pause_holds_contact_and_repair_but_never_the_acceptance() -> None:
    paused = order(paused_since=at(50))
    assert [k for k, _ in paused.pending_deadlines()] == []  # accepted already; both held
    assert not missed(paused, "contact_late", at(200))
    assert not missed(paused, "repair_late", at(300))
    unaccepted = order(accepted_at=None, paused_since=at(10))
    assert unaccepted.suspended("accept_late") is False


def test_resuming_moves_what_the_pause_held_by_its_length() -> None:
    assert order(paused_since=at(50)).resumed(at(80)) == {
        "paused_since": None,
        "contact_due": at(90),
        "repair_due": at(270),
    }


def test_a_deadline_missed_before_the_pause_stays_missed() -> None:
    late = order(paused_since=at(70))  # contact was due at +60
    assert late.suspended("contact_late") is False
    assert missed(late, "contact_late", at(75))
    assert late.resumed(at(100)) == {"paused_since": None, "repair_due": at(270)}


def test_a_step_done_is_not_held() -> None:
    contacted = order(status="contacted", contacted_at=at(20), paused_since=at(100))
    assert contacted.resumed(at(130)) == {"paused_since": None, "repair_due": at(270)}


def test_only_an_order_the_station_took_and_that_is_not_paused_pauses() -> None:
    assert pause_error(order()) is None
    assert pause_error(order(status="contacted", contacted_at=at(9))) is None
    assert pause_error(order(paused_since=at(40)))[0] == "already-paused"  # type: ignore[index]
    assert pause_error(order(status="sent", accepted_at=None))[0] == "bad-transition"  # type: ignore[index]
    returned = order(status="returned", returned_at=at(90))
    assert pause_error(returned)[0] == "bad-transition"  # type: ignore[index]
