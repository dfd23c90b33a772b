"""anomalies: an index for the open ones by kind (closed_at IS NULL), which /metrics and the
wallboard count at every scrape and refresh

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_anomalies_open", "anomalies", ["kind", "closed_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_anomalies_open", table_name="anomalies")
