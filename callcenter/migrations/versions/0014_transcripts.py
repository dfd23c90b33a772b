"""transcripts (issue 16): the durable transcription queue, one job per recording claimed
under a lease, and what was heard in each recording

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transcription_jobs",
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("queued_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'skipped', 'failed')",
            name=op.f("ck_transcription_jobs_state"),
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_transcription_jobs_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_transcription_jobs")),
    )
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_transcription_jobs_claim", ["state", "queued_at"], unique=False)
    op.create_table(
        "transcripts",
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("chars", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("language_probability", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_transcripts_recording_id_recordings"),
        ),
        sa.PrimaryKeyConstraint("recording_id", name=op.f("pk_transcripts")),
    )


def downgrade() -> None:
    op.drop_table("transcripts")
    with op.batch_alter_table("transcription_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_transcription_jobs_claim")
    op.drop_table("transcription_jobs")
