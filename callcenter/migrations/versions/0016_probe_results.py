"""probe results (拨测): each call of the line probe, its timings and the line after it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "probe_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", callcenter.db.UTCDateTime(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("ring_seconds", sa.Float(), nullable=True),
        sa.Column("answer_seconds", sa.Float(), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=False),
        sa.Column("sip_call_id", sa.String(length=255), nullable=True),
        sa.Column("line", sa.String(length=8), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("line_since", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("failing_since", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("alert", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_results")),
    )
    op.create_index(
        op.f("ix_probe_results_started_at"), "probe_results", ["started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_probe_results_started_at"), table_name="probe_results")
    op.drop_table("probe_results")
