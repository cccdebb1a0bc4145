"""sending from the CRM and AI drafts: outbound messages, attachments, tracking events,
sending preferences, drafts

Revision ID: 0701
Revises: 0301
Create Date: 2026-12-01 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "0701"
down_revision: str | None = "0601"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sending_preferences",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("track_by_default", sa.Boolean(), nullable=False),
        sa.Column("updated_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_sending_preferences")),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_user_id", sa.Integer(), nullable=False),
        sa.Column("reply_to_message_id", sa.String(length=100), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("to_addresses", sa.JSON(), nullable=False),
        sa.Column("cc_addresses", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("context_message_ids", sa.JSON(), nullable=False),
        sa.Column("approved_by_user_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.Column("approved_text_hash", sa.String(length=64), nullable=True),
        sa.Column("outbound_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_drafts_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
    )
    op.create_index("ix_drafts_record", "drafts", ["record_kind", "record_id"], unique=False)
    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("sender_user_id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("to_addresses", sa.JSON(), nullable=False),
        sa.Column("cc_addresses", sa.JSON(), nullable=False),
        sa.Column("bcc_addresses", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("reply_to_message_id", sa.String(length=100), nullable=True),
        sa.Column("in_reply_to", sa.String(length=998), nullable=True),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("provider_thread_hint", sa.String(length=100), nullable=True),
        sa.Column("message_id_header", sa.String(length=998), nullable=False),
        sa.Column("track", sa.Boolean(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=100), nullable=True),
        sa.Column("provider_thread_id", sa.String(length=100), nullable=True),
        sa.Column("email_message_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("created_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_outbound_messages_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
    )
    op.create_index(
        "ix_outbound_messages_provider",
        "outbound_messages",
        ["mail_account_id", "provider_message_id"],
        unique=False,
    )
    op.create_index(
        "ix_outbound_messages_record",
        "outbound_messages",
        ["record_kind", "record_id"],
        unique=False,
    )
    op.create_table(
        "outbound_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbound_message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbound_message_id"],
            ["outbound_messages.id"],
            name=op.f("fk_outbound_attachments_outbound_message_id_outbound_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_attachments")),
    )
    op.create_index(
        op.f("ix_outbound_attachments_outbound_message_id"),
        "outbound_attachments",
        ["outbound_message_id"],
        unique=False,
    )
    op.create_table(
        "tracking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbound_message_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("link", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("visitor", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", inboxcrm.adapters.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbound_message_id"],
            ["outbound_messages.id"],
            name=op.f("fk_tracking_events_outbound_message_id_outbound_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
        sa.UniqueConstraint(
            "outbound_message_id",
            "recipient",
            "kind",
            "link",
            "minute",
            "label",
            name="uq_tracking_events_dedup",
        ),
    )
    op.create_index(
        "ix_tracking_events_visitor",
        "tracking_events",
        ["outbound_message_id", "visitor", "occurred_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tracking_events_visitor", table_name="tracking_events")
    op.drop_table("tracking_events")
    op.drop_index(
        op.f("ix_outbound_attachments_outbound_message_id"), table_name="outbound_attachments"
    )
    op.drop_table("outbound_attachments")
    op.drop_index("ix_outbound_messages_record", table_name="outbound_messages")
    op.drop_index("ix_outbound_messages_provider", table_name="outbound_messages")
    op.drop_table("outbound_messages")
    op.drop_index("ix_drafts_record", table_name="drafts")
    op.drop_table("drafts")
    op.drop_table("sending_preferences")
