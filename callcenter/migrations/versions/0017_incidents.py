"""incidents (片区故障): many calls about one fault; tickets name the incident they are part of

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status IN ('proposed', 'open') AND cluster_key IS NOT NULL"
_APPEND_ONLY_PG = [
    """CREATE FUNCTION incident_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'incident history is append-only: % refused', TG_OP; END; $$""",
    """CREATE TRIGGER incident_history_no_update BEFORE UPDATE OR DELETE ON incident_history
       FOR EACH ROW EXECUTE FUNCTION incident_history_append_only()""",
    """CREATE TRIGGER incident_history_no_truncate BEFORE TRUNCATE ON incident_history
       FOR EACH STATEMENT EXECUTE FUNCTION incident_history_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("station", sa.String(length=32), nullable=False),
        sa.Column("area", sa.Text(), nullable=False),
        sa.Column("categories", sa.String(length=200), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("started_at", callcenter.db.UTCDateTime(), nullable=False),
        sa.Column("expected_repair_at", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("announcement", sa.Text(), nullable=False),
        sa.Column("created_at", callcenter.db.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("cluster_key", sa.String(length=300), nullable=True),
        sa.Column("opened_at", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("opened_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("repaired_at", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_incidents_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index("ix_incidents_status", "incidents", ["status", "created_at"], unique=False)
    op.create_index(
        "uq_incidents_live_cluster",
        "incidents",
        ["cluster_key"],
        unique=True,
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )
    op.create_table(
        "incident_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("at", callcenter.db.UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_history_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_history")),
    )
    op.create_index(
        "ix_incident_history_incident", "incident_history", ["incident_id", "id"], unique=False
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_tickets_incident", ["incident_id", "created_at", "id"], unique=False
        )
    # An incident's history is a duty log like a ticket's: never changed, never removed.
    if op.get_bind().dialect.name == "postgresql":
        for statement in _APPEND_ONLY_PG:
            op.execute(statement)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER incident_history_no_{verb.lower()} BEFORE {verb} ON "
                "incident_history BEGIN SELECT RAISE(ABORT, "
                f"'incident history is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER incident_history_no_truncate ON incident_history")
        op.execute("DROP TRIGGER incident_history_no_update ON incident_history")
        op.execute("DROP FUNCTION incident_history_append_only()")
    else:
        op.execute("DROP TRIGGER incident_history_no_update")
        op.execute("DROP TRIGGER incident_history_no_delete")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_incident")
        batch_op.drop_column("incident_id")
    op.drop_index("ix_incident_history_incident", table_name="incident_history")
    op.drop_table("incident_history")
    op.drop_index("uq_incidents_live_cluster", table_name="incidents")
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_table("incidents")
