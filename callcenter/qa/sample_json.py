"""Samples as JSON, the same for the API and the evaluation routes that show one."""

from __future__ import annotations

from typing import Any

from callcenter.clock import iso_z
from callcenter.qa.draw import Drawn


def sample_json(d: Drawn) -> dict[str, Any]:
    s = d.sample
    return {
        "id": s.id,
        "reviewer": {"id": s.reviewer_id, "name": d.reviewer},
        "scope": s.scope,
        "period": s.period,
        "seed": s.seed,
        "recording_id": s.recording_id,
        "call_id": s.call_id,
        "call_at": iso_z(d.call_at),
        "agent": {"id": s.agent_id, "name": d.agent} if s.agent_id is not None else None,
        "ticket_id": s.ticket_id,
        "sheet": s.sheet,
        "weight": s.weight,
        "reasons": d.reasons,
        "drawn_at": iso_z(s.drawn_at),
        "status": s.status,
    }
