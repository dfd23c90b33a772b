"""Sampling recordings for spot checks: reproducible from its seed, never a recording twice
for one reviewer, empty recordings left out, as many per agent as asked (or all there are),
and leaning towards violations, complaints and new agents by the configured weights."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.qa.sampling import Candidate, Weights, draw, seed

candidates = st.lists(
    st.builds(
        Candidate,
        recording_id=st.uuids().map(lambda u: u.hex),
        agent_id=st.integers(1, 6),
        call_id=st.just("c"),
        sheet=st.sampled_from(["intake", "callback"]),
        empty=st.booleans(),
        violation=st.booleans(),
        complaint=st.booleans(),
        new_agent=st.booleans(),
    ),
    max_size=60,
    unique_by=lambda c: c.recording_id,
)


@settings(max_examples=200)
@given(candidates, st.integers(0, 5), st.randoms(use_true_random=False), st.text(max_size=12))
def test_a_draw_is_reproducible_whatever_the_row_order(
    pool: list[Candidate], per_agent: int, shuffle: random.Random, reviewer: str
) -> None:
    s = seed("2026-12-03", reviewer, "v1")
    first = draw(pool, set(), per_agent, Weights(), s)
    shuffled = list(pool)
    shuffle.shuffle(shuffled)
    assert draw(shuffled, set(), per_agent, Weights(), s) == first


@settings(max_examples=200)
@given(candidates, st.integers(0, 5), st.data())
def test_no_repeats_no_empty_and_as_many_as_asked(
    pool: list[Candidate], per_agent: int, data: st.DataObject
) -> None:
    seen = set(data.draw(st.lists(st.sampled_from([c.recording_id for c in pool]))) if pool else [])
    sample = draw(pool, seen, per_agent, Weights(), seed("2026-W49", "qa", "v1"))
    ids = [c.recording_id for c in sample]
    assert len(ids) == len(set(ids))
    assert not any(c.empty or c.recording_id in seen for c in sample)
    per = Counter(c.agent_id for c in sample)
    eligible = Counter(c.agent_id for c in pool if not c.empty and c.recording_id not in seen)
    assert per == Counter({a: min(per_agent, n) for a, n in eligible.items() if per_agent})


def _pool(flag: str) -> list[Candidate]:
    marked = Candidate("r0", 1, "c0", "intake", **{flag: True})
    return [marked] + [Candidate(f"r{i}", 1, f"c{i}", "intake") for i in range(1, 4)]


def test_the_draw_leans_by_the_weights() -> None:
    """One marked recording among four, drawn alone: with weight w its chance is w / (w + 3)
    (unweighted 1/4). Counted over 4,000 fixed seeds, so the test cannot be flaky."""
    for flag, w in (("violation", 3.0), ("complaint", 5.0), ("new_agent", 2.0)):
        weights = Weights(**{flag: w})
        pool = _pool(flag)
        hits = sum(
            draw(pool, set(), 1, weights, f"s{i}")[0].recording_id == "r0" for i in range(4000)
        )
        expected = w / (w + 3)
        assert abs(hits / 4000 - expected) < 0.03, (flag, hits / 4000, expected)
    plain = sum(
        draw(_pool("violation"), set(), 1, Weights(violation=1.0), f"s{i}")[0].recording_id == "r0"
        for i in range(4000)
    )
    assert abs(plain / 4000 - 0.25) < 0.03


def test_another_reviewer_or_day_draws_another_sample() -> None:
    pool = [Candidate(f"r{i:03d}", 1, f"c{i}", "intake") for i in range(200)]
    a = draw(pool, set(), 5, Weights(), seed("2026-12-03", "lead.a", "v1"))
    b = draw(pool, set(), 5, Weights(), seed("2026-12-03", "lead.b", "v1"))
    c = draw(pool, set(), 5, Weights(), seed("2026-12-04", "lead.a", "v1"))
    assert a != b and a != c
