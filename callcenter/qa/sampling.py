"""Drawing the recordings a reviewer checks, pure: random but reproducible, never the same
recording twice for one reviewer, empty recordings left out, leaning towards the calls most
worth hearing (a recorded violation, a complaint, an agent in their first month).

Each agent's sample is a weighted draw without replacement (Efraimidis–Spirakis: each
candidate's key is u^(1/weight), the largest keys win) from a generator seeded with the
period, the reviewer, the sampling settings' version and the agent: the same inputs give the
same sample on any machine, so a draw can be audited by drawing it again.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from callcenter.qa.checklists import Sheet


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recording that could be checked: whose call it was and what the service knows."""

    recording_id: str
    agent_id: int
    call_id: str
    sheet: Sheet  # intake calls get the intake sheet, callbacks the callback sheet
    empty: bool = False
    violation: bool = False  # answered late, or the agent hung up first
    complaint: bool = False  # a complaint ticket was taken on the call
    new_agent: bool = False  # the agent's first month


@dataclass(frozen=True, slots=True)
class Weights:
    violation: float = 3.0
    complaint: float = 3.0
    new_agent: float = 2.0

    def of(self, c: Candidate) -> float:
        weight = 1.0
        if c.violation:
            weight *= self.violation
        if c.complaint:
            weight *= self.complaint
        if c.new_agent:
            weight *= self.new_agent
        return weight


def seed(period: str, reviewer: str, version: str) -> str:
    """The draw's seed, kept with each sample so it can be drawn again."""
    return f"{period}|{reviewer}|{version}"


def draw(
    candidates: Iterable[Candidate],
    seen: set[str],
    per_agent: int,
    weights: Weights,
    seed_text: str,
) -> list[Candidate]:
    """Up to `per_agent` recordings of each agent, agent by agent (by id), each agent's
    strongest key first. `seen`: recordings this reviewer has had before."""
    pools: dict[int, list[Candidate]] = defaultdict(list)
    for c in candidates:
        if not c.empty and c.recording_id not in seen:
            pools[c.agent_id].append(c)
    out: list[Candidate] = []
    for agent in sorted(pools):
        # Sorted first: the database's row order must not change the draw.
        pool = sorted(pools[agent], key=lambda c: c.recording_id)
        rng = random.Random(f"{seed_text}|{agent}")
        keyed = [(rng.random() ** (1.0 / weights.of(c)), c.recording_id, c) for c in pool]
        keyed.sort(key=lambda k: (k[0], k[1]), reverse=True)
        out.extend(c for _, _, c in keyed[:per_agent])
    return out
