"""support flags: the owner's time-limited consent that staff read one message or thread

Revision ID: 0901
Revises: 0701
Create Date: 2026-12-01 09:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "0901"
down_revision: str | None = "0501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "support_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("expires_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_support_flags_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_flags")),
    )
    op.create_index(
        "ix_support_flags_target", "support_flags", ["target_kind", "target_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_support_flags_target", table_name="support_flags")
    op.drop_table("support_flags")
