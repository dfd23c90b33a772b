"""wallboard tokens (大屏): the SHA-256 of each TV's read-only token, who made and who revoked
it, and when its board was last seen

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import callcenter.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallboard_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", callcenter.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", callcenter.db.UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=64), nullable=True),
        sa.Column("last_seen_at", callcenter.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallboard_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_wallboard_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("wallboard_tokens")
