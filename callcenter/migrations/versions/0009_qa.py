"""recording spot checks: samples drawn for reviewers, evaluations, their append-only history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

_APPEND_ONLY_PG = [
    """CREATE FUNCTION qa_evaluation_history_append_only() RETURNS trigger LANGUAGE plpgsql
       AS $$ BEGIN RAISE EXCEPTION 'evaluation history is append-only: % refused', TG_OP;
       END; $$""",
    """CREATE TRIGGER qa_evaluation_history_no_update BEFORE UPDATE OR DELETE
       ON qa_evaluation_history FOR EACH ROW
       EXECUTE FUNCTION qa_evaluation_history_append_only()""",
    """CREATE TRIGGER qa_evaluation_history_no_truncate BEFORE TRUNCATE ON qa_evaluation_history
       FOR EACH STATEMENT EXECUTE FUNCTION qa_evaluation_history_append_only()""",
]

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qa_samples",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("seed", sa.String(length=200), nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.Column("sheet", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("drawn_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_qa_samples_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_qa_samples_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_qa_samples_recording_id_recordings")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_qa_samples_reviewer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_qa_samples_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_samples")),
        sa.UniqueConstraint("reviewer_id", "recording_id", name="uq_qa_samples_reviewer_recording"),
    )
    with op.batch_alter_table("qa_samples", schema=None) as batch_op:
        batch_op.create_index("ix_qa_samples_agent", ["agent_id", "drawn_at"], unique=False)
        batch_op.create_index(
            "ix_qa_samples_period", ["scope", "period", "reviewer_id"], unique=False
        )
        batch_op.create_index(
            "ix_qa_samples_queue", ["reviewer_id", "status", "drawn_at", "id"], unique=False
        )

    op.create_table(
        "qa_evaluations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sample_id", sa.String(length=32), nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("sheet", sa.String(length=16), nullable=False),
        sa.Column("checklist_version", sa.Integer(), nullable=False),
        sa.Column("checklist_sha256", sa.String(length=64), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("deducted", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("good_example", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scored_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("signed_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_qa_evaluations_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_qa_evaluations_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_qa_evaluations_recording_id_recordings"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_qa_evaluations_reviewer_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["sample_id"], ["qa_samples.id"], name=op.f("fk_qa_evaluations_sample_id_qa_samples")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_evaluations")),
        sa.UniqueConstraint("sample_id", name="uq_qa_evaluations_sample_id"),
    )
    with op.batch_alter_table("qa_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_qa_evaluations_agent", ["agent_id", "scored_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_qa_evaluations_reviewer", ["reviewer_id", "scored_at", "id"], unique=False
        )
        batch_op.create_index("ix_qa_evaluations_status", ["status", "scored_at"], unique=False)

    op.create_table(
        "qa_evaluation_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("evaluation_id", sa.String(length=32), nullable=False),
        sa.Column("at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["qa_evaluations.id"],
            name=op.f("fk_qa_evaluation_history_evaluation_id_qa_evaluations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_evaluation_history")),
    )
    with op.batch_alter_table("qa_evaluation_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_qa_evaluation_history_evaluation", ["evaluation_id", "id"], unique=False
        )

    # An evaluation's history is its signature trail: the database refuses to rewrite it.
    if op.get_bind().dialect.name == "postgresql":
        for statement in _APPEND_ONLY_PG:
            op.execute(statement)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER qa_evaluation_history_no_{verb.lower()} BEFORE {verb} "
                "ON qa_evaluation_history BEGIN SELECT RAISE(ABORT, "
                f"'evaluation history is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER qa_evaluation_history_no_truncate ON qa_evaluation_history")
        op.execute("DROP TRIGGER qa_evaluation_history_no_update ON qa_evaluation_history")
        op.execute("DROP FUNCTION qa_evaluation_history_append_only()")
    else:
        op.execute("DROP TRIGGER qa_evaluation_history_no_update")
        op.execute("DROP TRIGGER qa_evaluation_history_no_delete")
    with op.batch_alter_table("qa_evaluation_history", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_evaluation_history_evaluation")

    op.drop_table("qa_evaluation_history")
    with op.batch_alter_table("qa_evaluations", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_evaluations_status")
        batch_op.drop_index("ix_qa_evaluations_reviewer")
        batch_op.drop_index("ix_qa_evaluations_agent")

    op.drop_table("qa_evaluations")
    with op.batch_alter_table("qa_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_samples_queue")
        batch_op.drop_index("ix_qa_samples_period")
        batch_op.drop_index("ix_qa_samples_agent")

    op.drop_table("qa_samples")
