"""sync recovery: follow-up requests and the failure streak on the mailbox lease

Revision ID: 0401
Revises: 0301
Create Date: 2026-12-01 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "0401"
down_revision: str | None = "0301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_sync_leases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("failed_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_sync_leases", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("failures")
        batch_op.drop_column("follow_up")
