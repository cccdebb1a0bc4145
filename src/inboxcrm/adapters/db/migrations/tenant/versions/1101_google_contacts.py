"""google contacts import, field provenance, customer mail alerts, google feature switches

Revision ID: 1101
Revises: 1001
Create Date: 2026-12-01 11:00:00

Also adds ``tenant_settings.google_calendar_enabled``, the switch the Calendar migration (1201)
relies on; each column is added only when the table lacks it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "1101"
down_revision: str | None = "1001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = inboxcrm.adapters.db.types.UTCDateTime


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    settings = _columns("tenant_settings")
    for name in ("google_contacts_enabled", "google_calendar_enabled"):
        if name not in settings:
            with op.batch_alter_table("tenant_settings") as batch:
                batch.add_column(
                    sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
                )
    if "link" not in _columns("notifications"):
        with op.batch_alter_table("notifications") as batch:
            batch.add_column(sa.Column("link", sa.String(length=300), nullable=True))

    op.create_table(
        "google_contact_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("resource_name", sa.String(length=200), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=False),
        sa.Column("deleted_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_google_contact_links_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_google_contact_links_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_google_contact_links")),
        sa.UniqueConstraint(
            "mail_account_id",
            "resource_name",
            name=op.f("uq_google_contact_links_mail_account_id"),
        ),
    )
    op.create_index(
        "ix_google_contact_links_contact", "google_contact_links", ["contact_id"], unique=False
    )
    op.create_table(
        "record_field_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("changed_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_field_sources")),
        sa.UniqueConstraint(
            "record_kind", "record_id", "field", name=op.f("uq_record_field_sources_record_kind")
        ),
    )
    op.create_table(
        "contact_imports",
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("sync_token", sa.Text(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", UTC(), nullable=False),
        sa.Column("started_at", UTC(), nullable=True),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("lease_expires_at", UTC(), nullable=True),
        sa.Column("follow_up", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_contact_imports_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mail_account_id", name=op.f("pk_contact_imports")),
    )
    op.create_table(
        "customer_mail_alert_prefs",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_customer_mail_alert_prefs")),
    )
    op.create_table(
        "customer_mail_alert_marks",
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_customer_mail_alert_marks_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mail_account_id", name=op.f("pk_customer_mail_alert_marks")),
    )


def downgrade() -> None:
    op.drop_table("customer_mail_alert_marks")
    op.drop_table("customer_mail_alert_prefs")
    op.drop_table("contact_imports")
    op.drop_table("record_field_sources")
    op.drop_index("ix_google_contact_links_contact", table_name="google_contact_links")
    op.drop_table("google_contact_links")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("link")
    with op.batch_alter_table("tenant_settings") as batch:
        batch.drop_column("google_contacts_enabled")
        batch.drop_column("google_calendar_enabled")
