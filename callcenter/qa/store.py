"""Samples, evaluations and their history in the database. A reviewer has a recording at
most once (UNIQUE reviewer_id, recording_id), a sample is scored at most once (UNIQUE
sample_id), and an evaluation's history is append-only (triggers in migration 0009)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.db import Base, UTCDateTime
from callcenter.qa.model import Evaluation, Sample, Score


class SampleRow(Base):
    __tablename__ = "qa_samples"
    __table_args__ = (
        UniqueConstraint("reviewer_id", "recording_id", name="uq_qa_samples_reviewer_recording"),
        # A reviewer's queue; an agent's coverage over a week or month.
        Index("ix_qa_samples_queue", "reviewer_id", "status", "drawn_at", "id"),
        Index("ix_qa_samples_agent", "agent_id", "drawn_at"),
        Index("ix_qa_samples_period", "scope", "period", "reviewer_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scope: Mapped[str] = mapped_column(String(8))
    period: Mapped[str] = mapped_column(String(10))
    seed: Mapped[str] = mapped_column(String(200))
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"))
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    sheet: Mapped[str] = mapped_column(String(16))
    weight: Mapped[float] = mapped_column(Float)
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(8))


class EvaluationRow(Base):
    __tablename__ = "qa_evaluations"
    __table_args__ = (
        UniqueConstraint("sample_id", name="uq_qa_evaluations_sample_id"),
        Index("ix_qa_evaluations_agent", "agent_id", "scored_at", "id"),
        Index("ix_qa_evaluations_reviewer", "reviewer_id", "scored_at", "id"),
        Index("ix_qa_evaluations_status", "status", "scored_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sample_id: Mapped[str] = mapped_column(ForeignKey("qa_samples.id"))
    recording_id: Mapped[str] = mapped_column(ForeignKey("recordings.id"))
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sheet: Mapped[str] = mapped_column(String(16))
    checklist_version: Mapped[int] = mapped_column(Integer)
    checklist_sha256: Mapped[str] = mapped_column(String(64))
    scores: Mapped[str] = mapped_column(
        Text
    )  # JSON: [{key, deducted, comment, evidence, prefilled}]
    deducted: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    good_example: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # JSON: the findings the reviewer marked (model.FINDINGS), [] for none
    findings: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")


class EvaluationEventRow(Base):
    """An evaluation's history: scored, acknowledged, disputed, upheld, revised — one row
    each, never updated or deleted."""

    __tablename__ = "qa_evaluation_history"
    __table_args__ = (Index("ix_qa_evaluation_history_evaluation", "evaluation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(ForeignKey("qa_evaluations.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="{}")


qa_samples = cast(Table, SampleRow.__table__)
qa_evaluations = cast(Table, EvaluationRow.__table__)
qa_evaluation_history = cast(Table, EvaluationEventRow.__table__)

_SAMPLE_COLUMNS = tuple(f.name for f in fields(Sample))
_EVALUATION_COLUMNS = tuple(f.name for f in fields(Evaluation))


def sample_from_row(r: Mapping[Any, Any]) -> Sample:
    return Sample(**{c: r[c] for c in _SAMPLE_COLUMNS})


def sample_row(s: Sample) -> dict[str, Any]:
    return {c: getattr(s, c) for c in _SAMPLE_COLUMNS}


def evaluation_row(e: Evaluation) -> dict[str, Any]:
    row = {c: getattr(e, c) for c in _EVALUATION_COLUMNS}
    row["scores"] = json.dumps([asdict(s) for s in e.scores], ensure_ascii=False)
    row["findings"] = json.dumps(list(e.findings))
    return row


def evaluation_from_row(r: Mapping[Any, Any]) -> Evaluation:
    values = {c: r[c] for c in _EVALUATION_COLUMNS}
    values["scores"] = tuple(Score(**s) for s in json.loads(r["scores"]))
    values["findings"] = tuple(json.loads(r["findings"] or "[]"))
    return Evaluation(**values)


async def add_event(
    conn: AsyncConnection,
    evaluation_id: str,
    at: datetime,
    by: str,
    action: str,
    detail: dict[str, Any],
) -> None:
    await conn.execute(
        qa_evaluation_history.insert().values(
            evaluation_id=evaluation_id,
            at=at,
            by=by,
            action=action,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
    )


async def history(conn: AsyncConnection, evaluation_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(qa_evaluation_history)
        .where(qa_evaluation_history.c.evaluation_id == evaluation_id)
        .order_by(qa_evaluation_history.c.id)
    )
    return [
        {"at": r["at"], "by": r["by"], "action": r["action"], **json.loads(r["detail"])}
        for r in rows.mappings()
    ]
