"""calendar meetings, prep briefs, deal-state labels and their tenant switches

Revision ID: 1201
Revises: 1101
Create Date: 2026-12-01 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import inboxcrm.adapters.db.types

revision: str = "1201"
down_revision: str | None = "1101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = inboxcrm.adapters.db.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("tenant_settings") as batch:
        batch.add_column(
            sa.Column(
                "deal_state_labels_enabled",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("organizer_user_id", sa.Integer(), nullable=False),
        sa.Column("organizer_email", sa.String(length=320), nullable=False),
        sa.Column("provider_event_id", sa.String(length=1024), nullable=True),
        sa.Column("recurring_event_id", sa.String(length=1024), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("start_at", UTC(), nullable=False),
        sa.Column("end_at", UTC(), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attendees", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("record_kind", sa.String(length=10), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("provider_etag", sa.String(length=100), nullable=True),
        sa.Column("provider_updated", sa.String(length=40), nullable=True),
        sa.Column("push_pending", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_meetings_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint(
            "mail_account_id",
            "provider_event_id",
            name=op.f("uq_meetings_mail_account_id"),
        ),
    )
    op.create_index("ix_meetings_start", "meetings", ["start_at"], unique=False)
    op.create_table(
        "calendar_sync_states",
        sa.Column("mail_account_id", sa.Integer(), nullable=False),
        sa.Column("sync_token", sa.Text(), nullable=True),
        sa.Column("window_start", UTC(), nullable=True),
        sa.Column("window_end", UTC(), nullable=True),
        sa.Column("last_sync_at", UTC(), nullable=True),
        sa.Column("last_full_sync_at", UTC(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mail_account_id"],
            ["mail_accounts.id"],
            name=op.f("fk_calendar_sync_states_mail_account_id_mail_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mail_account_id", name=op.f("pk_calendar_sync_states")),
    )
    op.create_table(
        "meeting_prep_briefs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outbound_message_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_prep_briefs_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_prep_briefs")),
        sa.UniqueConstraint("meeting_id", name=op.f("uq_meeting_prep_briefs_meeting_id")),
    )
    op.create_table(
        "meeting_preferences",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("meeting_prep_enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_meeting_preferences")),
    )
    op.create_table(
        "deal_label_assignments",
        sa.Column("email_message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("applied_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["email_message_id"],
            ["email_messages.id"],
            name=op.f("fk_deal_label_assignments_email_message_id_email_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("email_message_id", name=op.f("pk_deal_label_assignments")),
    )


def downgrade() -> None:
    op.drop_table("deal_label_assignments")
    op.drop_table("meeting_preferences")
    op.drop_table("meeting_prep_briefs")
    op.drop_table("calendar_sync_states")
    op.drop_index("ix_meetings_start", table_name="meetings")
    op.drop_table("meetings")
    with op.batch_alter_table("tenant_settings") as batch:
        batch.drop_column("deal_state_labels_enabled")
