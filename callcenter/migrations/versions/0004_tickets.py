"""tickets, the calls linked to them, and their append-only history

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL compares the standard address byte by byte, as SQLite does (prefix = range).
ADDRESS = sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql")
TIME = callcenter.db.UTCDateTime(timezone=True)

_APPEND_ONLY_PG = [
    """CREATE FUNCTION ticket_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'ticket history is append-only: % refused', TG_OP; END; $$""",
    """CREATE TRIGGER ticket_history_no_update BEFORE UPDATE OR DELETE ON ticket_history
       FOR EACH ROW EXECUTE FUNCTION ticket_history_append_only()""",
    """CREATE TRIGGER ticket_history_no_truncate BEFORE TRUNCATE ON ticket_history
       FOR EACH STATEMENT EXECUTE FUNCTION ticket_history_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reporter_name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("address_typed", sa.String(length=200), nullable=True),
        sa.Column("address_standard", ADDRESS, nullable=True),
        sa.Column("address_routing", sa.String(length=16), nullable=True),
        sa.Column("address_reason", sa.String(length=255), nullable=True),
        sa.Column("station_proposed", sa.String(length=32), nullable=True),
        sa.Column("station", sa.String(length=32), nullable=True),
        sa.Column("station_overridden", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=True),
        sa.Column("fault_location", sa.String(length=200), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_work_number", sa.String(length=32), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_tickets_agent_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_phone", ["phone", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_tickets_address", ["address_standard", "created_at"], unique=False
        )
        batch_op.create_index("ix_tickets_station", ["station", "created_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_agent", ["agent_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_status", ["status", "created_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_kind", ["kind", "created_at", "id"], unique=False)
        for name, column in (
            ("phone", "phone"), ("address", "address_standard"), ("station", "station")
        ):  # fmt: skip
            batch_op.create_index(
                f"ix_tickets_{name}_status", [column, "status", "created_at", "id"], unique=False
            )

    op.create_table(
        "ticket_calls",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("linked_at", TIME, nullable=False),
        sa.Column("linked_by", sa.Integer(), nullable=True),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_ticket_calls_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["users.id"],
            name=op.f("fk_ticket_calls_linked_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_calls_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", "call_id", name=op.f("pk_ticket_calls")),
    )
    with op.batch_alter_table("ticket_calls", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_calls_call", ["call_id"], unique=False)

    op.create_table(
        "ticket_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("work_number", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_history_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ticket_history_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_history")),
    )
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_history_ticket", ["ticket_id", "id"], unique=False)

    # The duty log's rule (002 第5篇): no page torn out, no entry altered. The database itself
    # refuses to change or remove a history row (users are disabled, never removed; a row
    # keeps the name and work number its author had).
    if op.get_bind().dialect.name == "postgresql":
        for statement in _APPEND_ONLY_PG:
            op.execute(statement)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ticket_history_no_{verb.lower()} BEFORE {verb} ON ticket_history "
                f"BEGIN SELECT RAISE(ABORT, 'ticket history is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ticket_history_no_truncate ON ticket_history")
        op.execute("DROP TRIGGER ticket_history_no_update ON ticket_history")
        op.execute("DROP FUNCTION ticket_history_append_only()")
    else:
        op.execute("DROP TRIGGER ticket_history_no_update")
        op.execute("DROP TRIGGER ticket_history_no_delete")
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_history_ticket")
    op.drop_table("ticket_history")
    with op.batch_alter_table("ticket_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_calls_call")
    op.drop_table("ticket_calls")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for name in (
            "station_status", "address_status", "phone_status", "kind", "status", "agent",
            "station", "address", "phone", "created",
        ):  # fmt: skip
            batch_op.drop_index(f"ix_tickets_{name}")
    op.drop_table("tickets")
