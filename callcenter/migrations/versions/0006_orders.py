"""repair orders, their history and outbox, anomalies, station accounts

Also gives ix_tickets_address the id column the model has always declared (0004 made it
without, so a keyset page by address sorted the ties outside the index).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

_APPEND_ONLY_PG = [
    """CREATE FUNCTION order_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'order history is append-only: % refused', TG_OP; END; $$""",
    """CREATE TRIGGER order_history_no_update BEFORE UPDATE OR DELETE ON order_history
       FOR EACH ROW EXECUTE FUNCTION order_history_append_only()""",
    """CREATE TRIGGER order_history_no_truncate BEFORE TRUNCATE ON order_history
       FOR EACH STATEMENT EXECUTE FUNCTION order_history_append_only()""",
]

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("station", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dispatched_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_by", sa.String(length=64), nullable=False),
        sa.Column("accept_due", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("contact_due", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("repair_due", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("contacted_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("returned_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_via", sa.String(length=16), nullable=True),
        sa.Column("repairman", sa.String(length=64), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_orders_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_dispatched", ["dispatched_at", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_station_status", ["station", "status", "dispatched_at", "id"], unique=False
        )
        batch_op.create_index("ix_orders_status", ["status", "dispatched_at", "id"], unique=False)
        batch_op.create_index("ix_orders_ticket", ["ticket_id", "round"], unique=False)

    op.create_table(
        "anomalies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("occurred_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("raised_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("station", sa.String(length=32), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("reported_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_by", sa.String(length=64), nullable=True),
        sa.Column("report_due", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unreported_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_anomalies_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_anomalies_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_anomalies_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
        sa.UniqueConstraint("order_id", "kind", name="uq_anomalies_order_kind"),
    )
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.create_index("ix_anomalies_kind", ["kind", "occurred_at", "id"], unique=False)
        batch_op.create_index("ix_anomalies_occurred", ["occurred_at", "id"], unique=False)
        batch_op.create_index(
            "ix_anomalies_report_due", ["reported_at", "unreported_at", "report_due"], unique=False
        )
        batch_op.create_index("ix_anomalies_ticket", ["ticket_id"], unique=False)

    op.create_table(
        "order_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_history_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_history")),
    )
    with op.batch_alter_table("order_history", schema=None) as batch_op:
        batch_op.create_index("ix_order_history_order", ["order_id", "id"], unique=False)

    op.create_table(
        "order_outbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("station", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acked_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("parked_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_outbox_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_outbox")),
    )
    with op.batch_alter_table("order_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_outbox_due", ["acked_at", "parked_at", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_order_outbox_order", ["order_id"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_address"))
        batch_op.create_index(
            "ix_tickets_address", ["address_standard", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("station", sa.String(length=32), nullable=True))

    # An order's history is a duty log: the database refuses to change or remove a row.
    if op.get_bind().dialect.name == "postgresql":
        for statement in _APPEND_ONLY_PG:
            op.execute(statement)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER order_history_no_{verb.lower()} BEFORE {verb} ON order_history "
                f"BEGIN SELECT RAISE(ABORT, 'order history is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER order_history_no_truncate ON order_history")
        op.execute("DROP TRIGGER order_history_no_update ON order_history")
        op.execute("DROP FUNCTION order_history_append_only()")
    else:
        op.execute("DROP TRIGGER order_history_no_update")
        op.execute("DROP TRIGGER order_history_no_delete")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("station")

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_address")
        batch_op.create_index(
            batch_op.f("ix_tickets_address"), ["address_standard", "created_at"], unique=False
        )

    with op.batch_alter_table("order_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_order_outbox_order")
        batch_op.drop_index("ix_order_outbox_due")

    op.drop_table("order_outbox")
    with op.batch_alter_table("order_history", schema=None) as batch_op:
        batch_op.drop_index("ix_order_history_order")

    op.drop_table("order_history")
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index("ix_anomalies_ticket")
        batch_op.drop_index("ix_anomalies_report_due")
        batch_op.drop_index("ix_anomalies_occurred")
        batch_op.drop_index("ix_anomalies_kind")

    op.drop_table("anomalies")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_ticket")
        batch_op.drop_index("ix_orders_status")
        batch_op.drop_index("ix_orders_station_status")
        batch_op.drop_index("ix_orders_dispatched")

    op.drop_table("orders")
