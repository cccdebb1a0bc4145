"""auth throttles: failed sign-in / token / OAuth attempts per account and per client IP

Revision ID: 0301
Revises: 0101
Create Date: 2026-12-01 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "0301"
down_revision: str | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_failure_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("locked_until", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_throttles")),
        sa.UniqueConstraint("scope", "key_hash", name=op.f("uq_auth_throttles_scope")),
    )


def downgrade() -> None:
    op.drop_table("auth_throttles")
