"""mail sharing: per-account and per-thread sharing levels, tenant maximum

Revision ID: 0301
Revises: 0101
Create Date: 2026-11-23 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0301"
down_revision: str | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sharing", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("sharing_detail", sa.String(length=20), nullable=True))
    with op.batch_alter_table("email_threads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sharing_detail", sa.String(length=20), nullable=True))
    with op.batch_alter_table("tenant_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_sharing", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("max_sharing_detail", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant_settings", schema=None) as batch_op:
        batch_op.drop_column("max_sharing_detail")
        batch_op.drop_column("max_sharing")
    with op.batch_alter_table("email_threads", schema=None) as batch_op:
        batch_op.drop_column("sharing_detail")
    with op.batch_alter_table("mail_accounts", schema=None) as batch_op:
        batch_op.drop_column("sharing_detail")
        batch_op.drop_column("sharing")
