"""The anomaly rules, pure: when a step's deadline counts as missed, when the agent's report
is due, and which complaint classes fit (002 第12篇)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.anomalies.model import complaint_problem, missed, report_due
from callcenter.orders.model import Deadlines, Order

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TERMS = Deadlines(timedelta(minutes=30), timedelta(minutes=60), timedelta(hours=4))


def order(**values: object) -> Order:
    due = TERMS.due(T0)
    base = Order(
        id="o1",
        ticket_id="t1",
        station="xingfu",
        round=1,
        status="sent",
        dispatched_at=T0,
        dispatched_by="li.na",
        accept_due=due["accept_late"],
        contact_due=due["contact_late"],
        repair_due=due["repair_late"],
    )
    return replace(base, **values)  # type: ignore[arg-type]


seconds = st.integers(min_value=0, max_value=6 * 3600)


@given(done=seconds, now=seconds)
def test_a_step_is_late_exactly_when_done_after_its_deadline(done: int, now: int) -> None:
    accepted = T0 + timedelta(seconds=done)
    now_at = max(accepted, T0 + timedelta(seconds=now))
    o = order(status="accepted", accepted_at=accepted)
    assert missed(o, "accept_late", now_at) == (accepted > o.accept_due)


@given(now=seconds)
def test_an_undone_step_is_missed_from_its_deadline_on(now: int) -> None:
    at = T0 + timedelta(seconds=now)
    assert missed(order(), "accept_late", at) == (at >= T0 + timedelta(minutes=30))


@given(closed=seconds, now=seconds)
def test_a_refusal_stops_the_deadlines_it_came_before(closed: int, now: int) -> None:
    closed_at = T0 + timedelta(seconds=closed)
    o = order(status="refused", closed_at=closed_at)
    later = closed_at + timedelta(seconds=now)
    assert missed(o, "repair_late", later) == (closed_at > o.repair_due)


def test_a_return_satisfies_every_step() -> None:
    o = order(status="returned", returned_at=T0 + timedelta(minutes=20))
    assert not any(
        missed(o, k, T0 + timedelta(hours=9))
        for k in ("accept_late", "contact_late", "repair_late")
    )


def test_the_report_is_due_from_the_deadline_unless_raised_late() -> None:
    within = timedelta(minutes=30)
    raised = T0 + timedelta(hours=1)
    assert report_due(T0, raised, within, late=False) == T0 + within
    assert report_due(T0, raised, within, late=True) == raised + within


@pytest.mark.parametrize(
    ("kind", "cls", "households", "code"),
    [
        ("complaint_repairman", None, None, "missing-field"),
        ("complaint_repairman", "valid", None, None),
        ("complaint_repairman", "collective", 5, None),
        ("complaint_repairman", "collective", 4, "too-few-households"),
        ("complaint_fee_collector", "invalid", 7, "collective"),
        ("forwarded", None, None, None),
        ("forwarded", "assisted", 2, None),
        ("praise_repairman", "valid", None, "not-a-complaint"),
        ("suggestion", None, 9, None),
    ],
)
def test_complaint_classes(
    kind: str, cls: str | None, households: int | None, code: str | None
) -> None:
    problem = complaint_problem(kind, cls, households)  # type: ignore[arg-type]
    assert (problem[0] if problem else None) == code
