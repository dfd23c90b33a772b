"""the report archive (报表档案): each archived report, its SHA-256 and a hash chain;
append-only

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

_APPEND_ONLY_PG = [
    """CREATE FUNCTION report_archive_append_only() RETURNS trigger LANGUAGE plpgsql
       AS $$ BEGIN RAISE EXCEPTION 'the report archive is append-only: % refused', TG_OP;
       END; $$""",
    """CREATE TRIGGER report_archive_no_update BEFORE UPDATE OR DELETE ON report_archive
       FOR EACH ROW EXECUTE FUNCTION report_archive_append_only()""",
    """CREATE TRIGGER report_archive_no_truncate BEFORE TRUNCATE ON report_archive
       FOR EACH STATEMENT EXECUTE FUNCTION report_archive_append_only()""",
]

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_archive",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("archived_at", callcenter.db.UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_report_archive")),
        sa.UniqueConstraint("kind", "period", name="uq_report_archive_kind_period"),
    )
    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.create_index("ix_report_archive_archived", ["archived_at"], unique=False)
    # What was handed to the heating office stays as it was: the database refuses changes.
    if op.get_bind().dialect.name == "postgresql":
        for statement in _APPEND_ONLY_PG:
            op.execute(statement)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER report_archive_no_{verb.lower()} BEFORE {verb} "
                "ON report_archive BEGIN SELECT RAISE(ABORT, "
                f"'the report archive is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER report_archive_no_truncate ON report_archive")
        op.execute("DROP TRIGGER report_archive_no_update ON report_archive")
        op.execute("DROP FUNCTION report_archive_append_only()")
    else:
        op.execute("DROP TRIGGER report_archive_no_update")
        op.execute("DROP TRIGGER report_archive_no_delete")
    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.drop_index("ix_report_archive_archived")
    op.drop_table("report_archive")
