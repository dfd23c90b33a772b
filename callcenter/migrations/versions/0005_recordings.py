"""recordings, tombstones and the recording audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

# The audit log is append-only: the database itself refuses to change or remove an entry.
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER recording_audit_no_update BEFORE UPDATE ON recording_audit
       BEGIN SELECT RAISE(ABORT, 'recording_audit is append-only'); END""",
    """CREATE TRIGGER recording_audit_no_delete BEFORE DELETE ON recording_audit
       BEGIN SELECT RAISE(ABORT, 'recording_audit is append-only'); END""",
]
_POSTGRES_TRIGGERS = [
    """CREATE FUNCTION recording_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'recording_audit is append-only'; END $$""",
    """CREATE TRIGGER recording_audit_append_only BEFORE UPDATE OR DELETE ON recording_audit
       FOR EACH ROW EXECUTE FUNCTION recording_audit_append_only()""",
    """CREATE TRIGGER recording_audit_no_truncate BEFORE TRUNCATE ON recording_audit
       FOR EACH STATEMENT EXECUTE FUNCTION recording_audit_append_only()""",
]


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("ext", sa.String(length=8), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("container", sa.String(length=64), nullable=False),
        sa.Column("codec", sa.String(length=32), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("loudness_dbfs", sa.Float(), nullable=True),
        sa.Column("peak_dbfs", sa.Float(), nullable=True),
        sa.Column("longest_sound_ms", sa.Integer(), nullable=False),
        sa.Column("empty", sa.Boolean(), nullable=False),
        sa.Column("rendition_sha256", sa.String(length=64), nullable=True),
        sa.Column("rendition_ext", sa.String(length=8), nullable=True),
        sa.Column("rendition_size", sa.BigInteger(), nullable=True),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("received_at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("call_ref", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("call_pk", sa.String(length=32), nullable=True),
        sa.Column("linked_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", callcenter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_pk"],
            ["calls.id"],
            name=op.f("fk_recordings_call_pk_calls"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("sha256", name=op.f("uq_recordings_sha256")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index("ix_recordings_received", ["received_at", "id"], unique=False)
        batch_op.create_index("ix_recordings_call_ref", ["call_ref"], unique=False)
        batch_op.create_index("ix_recordings_rendition", ["rendition_sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_recordings_call_pk"), ["call_pk"], unique=False)

    op.create_table(
        "recording_audit",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", callcenter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("recording_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_recording_audit")),
    )
    with op.batch_alter_table("recording_audit", schema=None) as batch_op:
        batch_op.create_index("ix_recording_audit_recording", ["recording_id"], unique=False)

    head = op.create_table(
        "recording_audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    dialect = op.get_bind().dialect.name
    for statement in _POSTGRES_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER recording_audit_no_truncate ON recording_audit")
        op.execute("DROP TRIGGER recording_audit_append_only ON recording_audit")
        op.execute("DROP FUNCTION recording_audit_append_only()")
    else:
        op.execute("DROP TRIGGER recording_audit_no_delete")
        op.execute("DROP TRIGGER recording_audit_no_update")
    op.drop_table("recording_audit_head")
    with op.batch_alter_table("recording_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_audit_recording")
    op.drop_table("recording_audit")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_call_pk"))
        batch_op.drop_index("ix_recordings_rendition")
        batch_op.drop_index("ix_recordings_call_ref")
        batch_op.drop_index("ix_recordings_received")
    op.drop_table("recordings")
