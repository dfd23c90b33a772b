"""Rows of a month for the assessment, written straight through the stores' tables: calls and
recordings to hang them on, samples and evaluations, violations, anomalies, callbacks. Shared
by the API test and the benchmark."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.anomalies.store import anomalies
from callcenter.callbacks.store import callbacks
from callcenter.calls.store import calls, violations
from callcenter.qa.checklists import Checklist
from callcenter.qa.store import qa_evaluations, qa_samples
from callcenter.recordings.store import recordings
from callcenter.tickets.store import tickets


def call_row(call_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": call_id, "source": "hep", "sip_call_id": call_id, "call_tag": "",
        "caller": "13800000001", "dialed": "96069", "monitored": True, "offered_at": at,
        "answered_at": at, "ended_at": at, "final": "answered", "hung_up_by": "caller",
        "answered_leg": None,
    }  # fmt: skip


def recording_row(rec_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": rec_id, "sha256": hashlib.sha256(rec_id.encode()).hexdigest(), "ext": "wav",
        "size": 1000, "container": "wav", "codec": "pcm_s16le", "duration_seconds": 60.0,
        "channels": 1, "sample_rate": 8000, "loudness_dbfs": -20.0, "peak_dbfs": -3.0,
        "longest_sound_ms": 5000, "empty": False, "via": "upload", "name": f"{rec_id}.wav",
        "received_at": at, "call_ref": None, "source": None, "call_pk": None,
        "linked_at": None,
    }  # fmt: skip


def scores(checklist: Checklist, deducted: Mapping[str, int]) -> str:
    """Every item of the sheet, 0 unless deducted."""
    return json.dumps(
        [
            {
                "key": i.key,
                "deducted": deducted.get(i.key, 0),
                "comment": "",
                "evidence": None,
                "prefilled": False,
            }
            for i in checklist.items
        ]
    )


def evaluation_rows(
    ev_id: str,
    rec_id: str,
    agent_id: int,
    reviewer_id: int,
    checklist: Checklist,
    deducted: Mapping[str, int],
    at: datetime,
    status: str = "acknowledged",
    good: bool = False,
    findings: tuple[str, ...] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A scored sample and its evaluation, with the findings its reviewer marked."""
    sample = {
        "id": f"s-{ev_id}", "reviewer_id": reviewer_id, "scope": "daily", "period": "2026-12-01",
        "seed": "seed", "recording_id": rec_id, "call_id": None, "agent_id": agent_id,
        "ticket_id": None, "sheet": checklist.sheet, "weight": 1.0, "drawn_at": at,
        "status": "scored",
    }  # fmt: skip
    evaluation = {
        "id": ev_id, "sample_id": f"s-{ev_id}", "recording_id": rec_id, "call_id": None,
        "agent_id": agent_id, "reviewer_id": reviewer_id, "sheet": checklist.sheet,
        "checklist_version": checklist.version, "checklist_sha256": checklist.sha256,
        "scores": scores(checklist, deducted), "deducted": sum(deducted.values()),
        "comment": "", "good_example": good, "status": status, "scored_at": at,
        "signed_at": None, "findings": json.dumps(list(findings)),
    }  # fmt: skip
    return sample, evaluation


def violation_row(
    v_id: str, call_id: str, agent_id: int, kind: str, at: datetime
) -> dict[str, Any]:
    return {
        "id": v_id, "kind": kind, "occurred_at": at, "call_pk": call_id, "leg_pk": None,
        "extension": None, "agent_id": agent_id, "rings": 4, "ring_seconds": 16.0,
        "detail": kind,
    }  # fmt: skip


def anomaly_row(a_id: str, agent_id: int, at: datetime, unreported: bool) -> dict[str, Any]:
    return {
        "id": a_id, "kind": "accept_late", "source": "service", "occurred_at": at,
        "raised_at": at, "agent_id": agent_id, "detail": "", "report_due": at,
        "unreported_at": at if unreported else None, "reported_at": None if unreported else at,
    }  # fmt: skip


def ticket_row(t_id: str, at: datetime) -> dict[str, Any]:
    return {"id": t_id, "kind": "repair", "status": "closed", "created_at": at, "updated_at": at}


def callback_row(
    c_id: str, ticket_id: str, agent_id: int, by: str | None, at: datetime
) -> dict[str, Any]:
    """Made by `by` at `at`; None: still due."""
    return {
        "id": c_id, "ticket_id": ticket_id, "reason": "repair", "agent_id": agent_id,
        "created_at": at, "due_at": at, "status": "done" if by else "due",
        "done_at": at if by else None, "done_by": by,
    }  # fmt: skip


async def insert(conn: AsyncConnection, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        t = {"calls": calls, "recordings": recordings, "qa_samples": qa_samples,
             "qa_evaluations": qa_evaluations, "violations": violations,
             "anomalies": anomalies, "tickets": tickets, "callbacks": callbacks}[table]  # fmt: skip
        await conn.execute(t.insert(), rows)
