"""IMAP folder checkpoints and POP3 seen UIDLs

Revision ID: 1001
Revises: 0901
Create Date: 2026-12-01 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "1001"
down_revision: str | None = "0901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_folder_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=300), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("highest_modseq", sa.BigInteger(), nullable=True),
        sa.Column("uidnext", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_mail_folder_checkpoints_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_folder_checkpoints")),
        sa.UniqueConstraint(
            "mail_account_id", "folder", name=op.f("uq_mail_folder_checkpoints_mail_account_id")
        ),
    )
    op.create_table(
        "pop3_seen_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("uidl", sa.String(length=100), nullable=False),
        sa.Column("provider_message_id", sa.String(length=100), nullable=False),
        sa.Column("seen_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_pop3_seen_messages_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pop3_seen_messages")),
        sa.UniqueConstraint(
            "mail_account_id", "uidl", name=op.f("uq_pop3_seen_messages_mail_account_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("pop3_seen_messages")
    op.drop_table("mail_folder_checkpoints")
