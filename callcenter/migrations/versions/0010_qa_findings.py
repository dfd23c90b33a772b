"""spot checks: the findings a reviewer marks on an evaluation (bad attitude, invalid promise,
wrong guidance), which no checklist item scores but the fines table fines

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Evaluations scored before this revision found none of these: [] is what they hold.
    with op.batch_alter_table("qa_evaluations") as batch:
        batch.add_column(sa.Column("findings", sa.Text(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("qa_evaluations") as batch:
        batch.drop_column("findings")
