"""order pauses: a station waiting on the resident (not at home, "call me later") stops the
order's contact and repair clocks (the one clock, issue 18)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_pauses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", callcenter.db.UTCDateTime(), nullable=False),
        sa.Column("ended_at", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_pauses_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_pauses")),
    )
    op.create_index(
        "ix_order_pauses_order", "order_pauses", ["order_id", "started_at"], unique=False
    )
    # The open pause's start on the order itself: the deadline timers read orders alone.
    op.add_column("orders", sa.Column("paused_since", callcenter.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("paused_since")
    op.drop_index("ix_order_pauses_order", table_name="order_pauses")
    op.drop_table("order_pauses")
