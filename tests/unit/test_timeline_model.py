"""A ticket's one clock (callcenter/timeline/model.py) and the report's nearest-rank
percentiles (figures.py), on small cases worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callcenter.calls.rings import RingRule
from callcenter.orders.model import Order
from callcenter.timeline.figures import Measured, nearest_rank, report_rows, summarize
from callcenter.timeline.model import (
    CallbackFacts,
    CallFacts,
    Figures,
    TicketFacts,
    build,
    first_call,
)
from callcenter.timeline.pauses import Pause

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
RULE = RingRule(5.0, 3)  # answered before 15 s from the first ring
DISPATCH = timedelta(minutes=15)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def minutes(m: float) -> datetime:
    return at(m * 60)


TICKET = TicketFacts("t1", "repair", "repaired", "xingfu", at(120))
CALL = CallFacts("c1", at(0), at(0.5), at(8.5), True)


def order(n: int = 1, **values: object) -> Order:
    dispatched = values.pop("dispatched_at", minutes(5))
    assert isinstance(dispatched, datetime)
    base: dict[str, object] = {
        "id": f"o{n}",
        "ticket_id": "t1",
        "station": "xingfu",
        "round": n,
        "status": "sent",
        "dispatched_at": dispatched,
        "dispatched_by": "li.na",
        "accept_due": dispatched + timedelta(minutes=30),
        "contact_due": dispatched + timedelta(minutes=60),
        "repair_due": dispatched + timedelta(hours=4),
    }
    return Order(**{**base, **values})  # type: ignore[arg-type]


def steps(timeline: object) -> dict[str, tuple[object, ...]]:
    out = {}
    for s in timeline.steps:  # type: ignore[attr-defined]
        out[s.name] = (s.at, s.deadline, s.met, s.late_seconds)
    return out


def test_the_clock_starts_at_the_first_ring_and_the_answer_meets_the_ring_limit() -> None:
    timeline = build(TICKET, [CALL], [], [], [], RULE, DISPATCH, minutes(3))
    assert steps(timeline) == {
        "rang": (at(0.5), None, None, None),
        "answered": (at(8.5), at(15.5), True, None),
        "ticket": (at(120), None, None, None),
    }
    assert timeline.figures.to_answer == 8.0


def test_an_answer_at_the_limit_is_the_next_ring_and_late() -> None:
    call = CallFacts("c1", at(0), at(0), at(15), True)
    (_, answered, _) = build(TICKET, [call], [], [], [], RULE, DISPATCH, minutes(3)).steps
    assert (answered.met, answered.late_seconds) == (False, 0.0)


def test_the_clock_runs_from_the_call_the_ticket_was_taken_on() -> None:
    callback_call = CallFacts("c0", at(-60), at(-59), at(-50), False)  # outbound: no
    later = CallFacts("c2", at(600), at(601), at(605), True)  # after the ticket: no
    assert first_call(TICKET, [later, callback_call, CALL]) == CALL
    assert first_call(TICKET, [later, callback_call]) is None
    no_ring = CallFacts("c3", at(0), None, at(3), True)
    assert build(TICKET, [no_ring], [], [], [], RULE, DISPATCH, at(60)).steps[0].at == at(0)


def test_a_ticket_without_a_call_has_no_clock_to_measure() -> None:
    timeline = build(TICKET, [], [order()], [], [], RULE, DISPATCH, minutes(10))
    assert [s.name for s in timeline.steps] == ["ticket"]
    assert timeline.figures == Figures()


def test_each_station_step_is_judged_against_its_deadline() -> None:
    o = order(
        status="returned",
        accepted_at=minutes(40),  # accept due at +35: 5 min late
        contacted_at=minutes(50),
        returned_at=minutes(200),
    )
    callback = CallbackFacts("o1", minutes(200) + timedelta(days=3), minutes(300), "done")
    timeline = build(TICKET, [CALL], [o], [], [callback], RULE, DISPATCH, minutes(400))
    (r,) = timeline.rounds
    got = {s.name: (s.met, s.late_seconds) for s in r.steps}
    assert got == {
        "dispatched": (True, None),  # 5 min after the ring, due 15 min after the ticket
        "acknowledged": (False, 300.0),
        "contacted": (True, None),
        "repaired": (True, None),
        "called_back": (True, None),
    }
    f = timeline.figures
    assert (f.to_dispatch, f.to_acknowledge, f.to_contact) == (299.5, 2399.5, 2999.5)
    assert (f.to_repair, f.to_callback, f.paused_seconds) == (11999.5, 17999.5, 0.0)


def test_an_undone_step_past_its_deadline_is_late_by_now() -> None:
    timeline = build(TICKET, [CALL], [order()], [], [], RULE, DISPATCH, minutes(45))
    acknowledged = timeline.rounds[0].steps[1]
    assert (acknowledged.at, acknowledged.met, acknowledged.late_seconds) == (None, False, 600.0)
    contacted = timeline.rounds[0].steps[2]
    assert (contacted.met, contacted.late_seconds) == (None, None)  # due at +65: pending


def test_an_open_pause_holds_contact_and_repair_and_the_figures_are_net_of_pauses() -> None:
    o = order(
        status="accepted",
        accepted_at=minutes(10),
        contact_due=minutes(65) + timedelta(minutes=20),  # a first wait of 20 min, ended
        repair_due=minutes(245) + timedelta(minutes=20),
        paused_since=minutes(80),  # before the moved contact deadline (+85)
    )
    pauses = [
        Pause(1, "o1", minutes(20), minutes(40), "call_later", None, "station:xingfu"),
        Pause(2, "o1", minutes(80), None, "not_home", "邻居说出差", "station:xingfu"),
    ]
    timeline = build(TICKET, [CALL], [o], pauses, [], RULE, DISPATCH, minutes(130))
    (r,) = timeline.rounds
    held = {s.name: s.paused for s in r.steps}
    assert held == {
        "dispatched": False,
        "acknowledged": False,
        "contacted": True,
        "repaired": True,
    }
    assert [p.reason for p in r.pauses] == ["call_later", "not_home"]
    # Not yet repaired: paused so far 20 + 50 minutes.
    assert timeline.figures.paused_seconds == 70 * 60
    assert timeline.figures.to_acknowledge == 10 * 60 - 0.5


def test_rework_is_a_round_of_its_own_and_the_figures_follow_the_first_return() -> None:
    first = order(1, status="returned", accepted_at=minutes(10), returned_at=minutes(100))
    again = order(
        2,
        dispatched_at=minutes(1000),
        status="returned",
        accepted_at=minutes(1010),
        returned_at=minutes(1100),
    )
    callbacks = [
        CallbackFacts("o1", minutes(100) + timedelta(days=3), minutes(990), "done"),
        CallbackFacts("o2", minutes(1100) + timedelta(days=3), None, "due"),
    ]
    timeline = build(TICKET, [CALL], [again, first], [], callbacks, RULE, DISPATCH, minutes(1200))
    assert [r.order.round for r in timeline.rounds] == [1, 2]
    rework = timeline.rounds[1].steps[0]
    # Sent again 10 min after the callback that found the repair wanting: within 15.
    assert (rework.deadline, rework.met) == (minutes(990) + DISPATCH, True)
    assert timeline.measured == "o1"
    assert timeline.figures.to_repair == 100 * 60 - 0.5
    assert timeline.figures.to_callback == 990 * 60 - 0.5


def test_nearest_rank_on_small_sets_worked_by_hand() -> None:
    ten = [float(v) for v in range(1, 11)]
    assert [nearest_rank(ten, p) for p in (50, 90, 99, 100)] == [5.0, 9.0, 10.0, 10.0]
    three = [10.0, 20.0, 30.0]  # ranks ⌈1.5⌉ = 2, ⌈2.7⌉ = 3, ⌈2.97⌉ = 3
    assert [nearest_rank(three, p) for p in (50, 90, 99)] == [20.0, 30.0, 30.0]
    twenty = [float(v) for v in range(1, 21)]  # ⌈10⌉ = 10, ⌈18⌉ = 18, ⌈19.8⌉ = 20
    assert [nearest_rank(twenty, p) for p in (50, 90, 99)] == [10.0, 18.0, 20.0]
    assert nearest_rank([7.0], 50) == 7.0
    with pytest.raises(ValueError):
        nearest_rank([], 50)
    with pytest.raises(ValueError):
        nearest_rank(ten, 0)


def test_summaries_sort_first_and_say_nothing_of_an_empty_set() -> None:
    s = summarize([30.0, 10.0, 20.0, 40.0])  # ranks 2, 4, 4
    assert (s.count, s.p50, s.p90, s.p99, s.max) == (4, 20.0, 40.0, 40.0, 40.0)
    assert summarize([]).count == 0 and summarize([]).p50 is None


def test_the_report_has_every_day_each_station_and_the_period() -> None:
    day1, day2, day3 = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)
    items = [
        Measured(day1, "xingfu", Figures(to_answer=4.0), True),
        Measured(day1, "hongcheng", Figures(to_answer=9.0), True),
        Measured(day1, "", Figures(), False),
        Measured(day3, "xingfu", Figures(to_answer=6.0), True),
    ]
    rows = report_rows([day1, day2, day3], items)
    keys = [(r.day, r.station, r.tickets) for r in rows]
    assert keys == [
        (day1, None, 3),
        (day1, "hongcheng", 1),
        (day1, "xingfu", 1),
        (day1, "", 1),
        (day2, None, 0),
        (day3, None, 1),
        (day3, "xingfu", 1),
        (None, None, 4),
        (None, "hongcheng", 1),
        (None, "xingfu", 2),
        (None, "", 1),
    ]
    assert rows[0].without_call == 1
    assert (rows[0].metrics["to_answer"].count, rows[0].metrics["to_answer"].p50) == (2, 4.0)
    assert rows[9].metrics["to_answer"].max == 6.0
