"""complaints classed per 002 第12篇 (valid, assisted, invalid, collective), their 2-h
follow-up and escalation; anomalies by agent for the fines table

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ("follow_up_due", "followed_up_at", "follow_up_late_at", "escalated_at")


def upgrade() -> None:
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("complaint_class", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("households", sa.Integer(), nullable=True))
        for name in _WHEN[:2]:
            batch_op.add_column(
                sa.Column(name, callcenter.db.UTCDateTime(timezone=True), nullable=True)
            )
        batch_op.add_column(sa.Column("followed_up_by", sa.String(length=64), nullable=True))
        for name in _WHEN[2:]:
            batch_op.add_column(
                sa.Column(name, callcenter.db.UTCDateTime(timezone=True), nullable=True)
            )
        batch_op.create_index(
            "ix_anomalies_follow_up",
            ["followed_up_at", "follow_up_late_at", "follow_up_due"],
            unique=False,
        )
        batch_op.create_index("ix_anomalies_agent", ["agent_id", "occurred_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index("ix_anomalies_agent")
        batch_op.drop_index("ix_anomalies_follow_up")
        for name in (*_WHEN, "followed_up_by", "households", "complaint_class"):
            batch_op.drop_column(name)
