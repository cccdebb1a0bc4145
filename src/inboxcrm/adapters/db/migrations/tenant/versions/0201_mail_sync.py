"""mail sync: tenant mail settings, never-log list, sync leases, sync ledger

Revision ID: 0201
Revises: 0001
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "0201"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_storage_policy", sa.String(length=20), nullable=False),
        sa.Column("contact_autocreate", sa.String(length=20), nullable=False),
        sa.Column("updated_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_settings")),
    )
    op.create_table(
        "never_log_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry", sa.String(length=320), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_never_log_entries")),
        sa.UniqueConstraint("entry", name=op.f("uq_never_log_entries_entry")),
    )
    op.create_table(
        "mail_sync_leases",
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("expires_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_mail_sync_leases_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mail_account_id", name=op.f("pk_mail_sync_leases")),
    )
    op.create_table(
        "mail_sync_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=100), nullable=False),
        sa.Column("provider_thread_id", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("labelled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_mail_sync_ledger_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_sync_ledger")),
        sa.UniqueConstraint(
            "mail_account_id",
            "provider_message_id",
            name=op.f("uq_mail_sync_ledger_mail_account_id"),
        ),
    )
    with op.batch_alter_table("mail_sync_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_sync_ledger_outcome", ["mail_account_id", "outcome", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_sync_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_sync_ledger_outcome")
    op.drop_table("mail_sync_ledger")
    op.drop_table("mail_sync_leases")
    op.drop_table("never_log_entries")
    op.drop_table("tenant_settings")
