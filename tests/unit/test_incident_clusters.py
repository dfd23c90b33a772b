"""The proposing rule (incidents/model.py: decide, Clusters) over generated streams of repair
reports: N households of one area and fault within M minutes make one proposal, never two for
the same area while one is live, and nothing is proposed where no window has N households."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.incidents.model import Clusters, Report, cluster_key, decide

T0 = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
WITHIN = timedelta(minutes=30)
N = 5

AREAS = ["东兴里", "幸福里", "和平里"]
CATEGORIES = ["ice_cold", "not_hot"]


@st.composite
def streams(draw: st.DrawFn) -> list[Report]:
    """Reports in the order they are taken: minutes apart, a few areas, faults and flats."""
    count = draw(st.integers(min_value=0, max_value=60))
    at = T0
    out = []
    for n in range(count):
        at += timedelta(minutes=draw(st.integers(min_value=0, max_value=12)))
        out.append(
            Report(
                ticket_id=f"t{n:03d}",
                at=at,
                area=draw(st.sampled_from(AREAS)),
                category=draw(st.sampled_from(CATEGORIES)),
                household=f"flat{draw(st.integers(min_value=0, max_value=9))}",
            )
        )
    return out


def qualifying(reports: list[Report]) -> set[str]:
    """Brute force: the areas where, at some report, the last M minutes hold N different
    households of one fault (the reports up to then, before any proposal took them)."""
    found = set()
    by = defaultdict(list)
    for r in reports:
        by[(r.area, r.category)].append(r)
    for (area, _), items in by.items():
        for last in items:
            window = {r.household for r in items if last.at - WITHIN <= r.at <= last.at}
            if len(window) >= N:
                found.add(area)
    return found


@settings(max_examples=300, deadline=None)
@given(streams())
def test_an_area_is_proposed_once_exactly_when_some_window_holds_n_households(
    reports: list[Report],
) -> None:
    clusters = Clusters(N, WITHIN)
    for report in reports:
        clusters.add(report)
    proposed = [p.area for p in clusters.proposals]
    assert len(proposed) == len(set(proposed))  # never two for one area while it is live
    assert set(proposed) == qualifying(reports)


@settings(max_examples=300, deadline=None)
@given(streams())
def test_every_proposal_is_n_households_of_one_fault_within_the_window(
    reports: list[Report],
) -> None:
    clusters = Clusters(N, WITHIN)
    for report in reports:
        clusters.add(report)
    taken = {r.ticket_id: r for r in reports}
    for proposal in clusters.proposals:
        mine = [taken[t] for t in proposal.tickets]
        assert {r.area for r in mine} == {proposal.area}
        assert {r.category for r in mine} == {proposal.category}
        assert len({r.household for r in mine}) >= N
        assert proposal.last_at - proposal.first_at <= WITHIN
        assert proposal.cluster_key == cluster_key("community", proposal.area)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=29), st.permutations(range(N)))
def test_n_households_within_m_minutes_in_one_area_make_one_proposal(
    spread: int, order: list[int]
) -> None:
    clusters = Clusters(N, WITHIN)
    step = timedelta(minutes=spread) / (N - 1)
    for i, flat in enumerate(order):
        clusters.add(Report(f"t{i}", T0 + step * i, "东兴里", "ice_cold", f"flat{flat}"))
    # and the same flats calling again later change nothing
    for i, flat in enumerate(order):
        clusters.add(Report(f"u{i}", T0 + WITHIN, "东兴里", "ice_cold", f"flat{flat}"))
    assert len(clusters.proposals) == 1
    assert len(clusters.proposals[0].tickets) == N


def test_one_household_calling_five_times_is_not_a_collective_fault() -> None:
    reports = [
        Report(f"t{i}", T0 + timedelta(minutes=i), "东兴里", "ice_cold", "flat1") for i in range(5)
    ]
    clusters = Clusters(N, WITHIN)
    for r in reports:
        clusters.add(r)
    assert clusters.proposals == []


def test_after_a_dismissal_only_new_reports_count() -> None:
    clusters = Clusters(N, WITHIN)
    first = [Report(f"t{i}", T0, "东兴里", "ice_cold", f"flat{i}") for i in range(N)]
    for r in first:
        clusters.add(r)
    [proposal] = clusters.proposals
    clusters.dismiss(proposal.cluster_key)
    later = T0 + timedelta(minutes=1)
    for i in range(N - 1):
        assert clusters.add(Report(f"u{i}", later, "东兴里", "ice_cold", f"flat{i}")) is None
    again = clusters.add(Report("u9", later, "东兴里", "ice_cold", "flat9"))
    assert again is not None and set(again.tickets) == {f"u{i}" for i in range(N - 1)} | {"u9"}


def test_decide_counts_only_its_own_area_fault_and_window() -> None:
    report = Report("x", T0 + WITHIN, "东兴里", "ice_cold", "flat0")
    others = [
        Report("a", T0, "东兴里", "ice_cold", "flat1"),  # at the window's edge: in
        Report("b", T0 - timedelta(seconds=1), "东兴里", "ice_cold", "flat2"),  # too early
        Report("c", T0 + WITHIN, "幸福里", "ice_cold", "flat3"),  # another area
        Report("d", T0 + WITHIN, "东兴里", "not_hot", "flat4"),  # another fault
        Report("e", T0 + WITHIN, "东兴里", "ice_cold", "flat5"),
        Report("f", T0 + WITHIN, "东兴里", "ice_cold", "flat6"),
    ]
    assert decide(others, report, 4, WITHIN) is not None
    assert decide(others, report, 5, WITHIN) is None
