"""callbacks (回访) owed after each returned repair order and each complaint

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("station", sa.String(length=32), nullable=True),
        sa.Column("created_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("booked_for", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("attitude", sa.String(length=16), nullable=True),
        sa.Column("charged", sa.Boolean(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("suggestions", sa.Text(), nullable=True),
        sa.Column("fee_reminded", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_callbacks_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_callbacks_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_callbacks_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_callbacks_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("order_id", name="uq_callbacks_order_id"),
    )
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callbacks_agent_status", ["agent_id", "status", "due_at", "id"], unique=False
        )
        batch_op.create_index("ix_callbacks_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_callbacks_status_due", ["status", "due_at", "id"], unique=False)
        batch_op.create_index("ix_callbacks_ticket", ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.drop_index("ix_callbacks_ticket")
        batch_op.drop_index("ix_callbacks_status_due")
        batch_op.drop_index("ix_callbacks_created")
        batch_op.drop_index("ix_callbacks_agent_status")

    op.drop_table("callbacks")
