"""The schema of one tenant's own database: CRM records, deals, notes, mail, and the timeline.

Every tenant has a physically separate database with this schema, so no table carries a tenant
id: isolation is the database itself. Users are control-plane ids (``*_user_id`` columns hold
them without a foreign key, as they live in another database).

Records (Lead, Contact, Account) are addressed by ``(record_kind, record_id)`` wherever several
kinds can appear (email addresses, notes, timeline entries).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from inboxcrm.adapters.db.control_tables import NAMING
from inboxcrm.adapters.db.types import UTCDateTime, utcnow


class TenantBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime,
        date: Date,
        dict[str, Any]: JSON,
        list[str]: JSON,
        Decimal: Numeric(14, 2),
        bytes: LargeBinary,
    }


class _RecordColumns:
    owner_user_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class AccountRow(_RecordColumns, TenantBase):
    """A company."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    domain: Mapped[str | None] = mapped_column(String(253), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))


class ContactRow(_RecordColumns, TenantBase):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="", index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))


class LeadRow(_RecordColumns, TenantBase):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="", index=True)
    company: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="new")
    source: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))


class RecordEmailRow(TenantBase):
    """One email address of a Lead, Contact or Account, in canonical form for matching.

    ``auto_created`` marks the address of a contact that contact auto-creation made from mail:
    at most one such row per address (a partial unique index), so two mailboxes syncing the same
    correspondent at once create one contact. Addresses people enter are never constrained:
    duplicates of manual records are allowed deliberately.
    """

    __tablename__ = "record_emails"
    __table_args__ = (
        UniqueConstraint("record_kind", "record_id", "email"),
        Index("ix_record_emails_email", "email"),
        Index(
            "uq_record_emails_auto_created_email",
            "email",
            unique=True,
            sqlite_where=text("auto_created"),
            postgresql_where=text("auto_created"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int]
    email: Mapped[str] = mapped_column(String(320))
    position: Mapped[int] = mapped_column(default=0)
    auto_created: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DealRow(TenantBase):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    stage: Mapped[str] = mapped_column(String(50), default="qualification")
    amount: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    close_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    owner_user_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class NoteRow(TenantBase):
    __tablename__ = "notes"
    __table_args__ = (Index("ix_notes_record", "record_kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ActivityRow(TenantBase):
    """One entry on a record's timeline, pointing at the thing it shows (``kind`` + ``ref_id``).

    The unique constraint makes "exactly one timeline entry per item per record" a database rule,
    whatever retries or concurrent sync runs do. For ``email`` entries ``ref_id`` is the
    message's tenant-wide identity (``email_message_keys.id``), not one mailbox's copy, so the
    rule holds across colleagues' mailboxes too.
    """

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("record_kind", "record_id", "kind", "ref_id"),
        Index("ix_activities_timeline", "record_kind", "record_id", "occurred_at", "id"),
        Index("ix_activities_ref", "kind", "ref_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[int]
    occurred_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(String(300), default="")
    match_reason: Mapped[str | None] = mapped_column(String(20))
    match_detail: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class MailAccountRow(TenantBase):
    """A connected mailbox of one user (Gmail via API, or IMAP/POP3 + SMTP)."""

    __tablename__ = "mail_accounts"
    __table_args__ = (UniqueConstraint("provider", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(index=True)
    provider: Mapped[str] = mapped_column(String(10))
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="connected")
    provider_subject: Mapped[str | None] = mapped_column(String(100))
    access_token_enc: Mapped[bytes | None]
    refresh_token_enc: Mapped[bytes | None]
    token_expiry: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(default=list)
    history_id: Mapped[int | None]
    watch_expiration: Mapped[datetime | None]
    last_full_sync_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    sync_phase: Mapped[str] = mapped_column(String(20), default="idle")
    sync_progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disconnected_at: Mapped[datetime | None]
    purge_after: Mapped[datetime | None]
    # Mail sharing (services.mail_sharing): who else sees this mailbox's mail, and how much.
    # NULL = the default (domain.sharing.DEFAULT_ACCOUNT_LEVEL).
    sharing: Mapped[str | None] = mapped_column(String(20))
    sharing_detail: Mapped[str | None] = mapped_column(String(20))
    # Facts Google told us that the owner must see (services.mail_notices): push not working,
    # a feature degraded for a missing permission. Key → human-readable text.
    notices: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    token_issued_at: Mapped[datetime | None]
    """When Google issued the stored refresh token (names the likely cause when it dies)."""


class EmailThreadRow(TenantBase):
    __tablename__ = "email_threads"
    __table_args__ = (UniqueConstraint("mail_account_id", "provider_thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    provider_thread_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(500), default="")
    last_message_at: Mapped[datetime | None]
    # The owner's per-thread override of the account's sharing (NULL = as the account).
    sharing: Mapped[str | None] = mapped_column(String(20))
    sharing_detail: Mapped[str | None] = mapped_column(String(20))


class EmailMessageRow(TenantBase):
    __tablename__ = "email_messages"
    __table_args__ = (
        UniqueConstraint("mail_account_id", "provider_message_id"),
        Index("ix_email_messages_message_id_header", "message_id_header"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("email_threads.id", ondelete="CASCADE"), index=True
    )
    # The message's tenant-wide identity (adapters.db.dedup_tables): every mailbox's copy of one
    # email points at the same key, and its timeline entries point at the key.
    message_key_id: Mapped[int] = mapped_column(
        ForeignKey("email_message_keys.id", ondelete="RESTRICT"), index=True
    )
    provider_message_id: Mapped[str] = mapped_column(String(100))
    message_id_header: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(default=list)
    from_address: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(200))
    to_addresses: Mapped[list[str]] = mapped_column(default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(default=list)
    bcc_addresses: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime]
    direction: Mapped[str] = mapped_column(String(10))
    snippet: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[list[str]] = mapped_column(default=list)
    size_estimate: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class EmailAttachmentRow(TenantBase):
    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("email_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(500), default="")
    mime_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    size: Mapped[int] = mapped_column(default=0)
    provider_attachment_id: Mapped[str | None] = mapped_column(Text)
    content_id: Mapped[str | None] = mapped_column(String(500))
    part_id: Mapped[str | None] = mapped_column(String(50))


class NotificationRow(TenantBase):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))
    """A path inside the app the notification points at (e.g. ``/contacts/7``), or None."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


# --- Mail sync (issue 4, sync engine): tenant mail settings, never-log list, sync lease, ledger ---


class TenantSettingsRow(TenantBase):
    """Tenant-wide mail settings (a single row, id 1): storage policy and contact auto-creation.

    ``mail_storage_policy``: ``full`` (bodies), ``snippet`` (no body columns), ``metadata`` (no body
    columns and no snippet). ``contact_autocreate``: ``off``, ``sent`` or ``sent_and_received``.
    """

    __tablename__ = "tenant_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_storage_policy: Mapped[str] = mapped_column(String(20), default="full")
    contact_autocreate: Mapped[str] = mapped_column(String(20), default="off")
    # The most mailbox owners may share (services.mail_sharing); NULL = tenant / everything.
    max_sharing: Mapped[str | None] = mapped_column(String(20))
    max_sharing_detail: Mapped[str | None] = mapped_column(String(20))
    # Google features beyond Gmail an admin turned on (their scopes are asked for per user,
    # by incremental authorization; services.google_features), and deal-state Gmail labels
    # (services.deal_labels).
    google_contacts_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    google_calendar_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    deal_state_labels_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class NeverLogEntryRow(TenantBase):
    """An address (``bob@x.com``) or whole domain (``x.com``) whose mail is never stored."""

    __tablename__ = "never_log_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry: Mapped[str] = mapped_column(String(320), unique=True)
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailSyncLeaseRow(TenantBase):
    """Who is syncing a mailbox now, until when. Taken by a conditional UPDATE (see sync.lease)."""

    __tablename__ = "mail_sync_leases"

    mail_account_id: Mapped[int] = mapped_column(
        ForeignKey("mail_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    holder: Mapped[str] = mapped_column(String(100), default="")
    expires_at: Mapped[datetime]
    follow_up: Mapped[str | None] = mapped_column(String(20))
    """A sync asked for while the lease was held (``incremental`` or ``full``), run next."""
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    """Failed runs in a row (0 after a run that completed); spaces out the retries."""
    failed_at: Mapped[datetime | None]


class MailLedgerRow(TenantBase):
    """One message the provider reported in scope, and what the sync did with it.

    ``outcome``: ``pending`` (listed, not processed yet), ``stored`` or ``skipped`` (``reason`` says
    why). ``labelled``: the "Synced to inboxcrm" label was applied in the mailbox.
    """

    __tablename__ = "mail_sync_ledger"
    __table_args__ = (
        UniqueConstraint("mail_account_id", "provider_message_id"),
        Index("ix_mail_sync_ledger_outcome", "mail_account_id", "outcome", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    provider_message_id: Mapped[str] = mapped_column(String(100))
    provider_thread_id: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    labelled: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- end of mail sync block ---


# --- Mail accounts (issue 4, accounts half): the consent log ---


class ConsentLogRow(TenantBase):
    """Append-only record of every grant and withdrawal of mailbox access.

    ``action``: ``connect`` (consent given), ``disconnect`` (by the user or an admin) or
    ``revoked`` (withdrawn at the provider, noticed by inboxcrm). ``user_id`` is the mailbox
    owner, ``actor_user_id`` who did it (None when inboxcrm noticed a revocation).
    """

    __tablename__ = "consent_log"
    __table_args__ = (Index("ix_consent_log_user", "user_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int]
    actor_user_id: Mapped[int | None]
    mail_account_id: Mapped[int | None]
    provider: Mapped[str] = mapped_column(String(10))
    account_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(20))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- end of mail accounts block ---
from inboxcrm.adapters.db import (  # noqa: E402,F401
    calendar_tables,
    dedup_tables,
    google_contact_tables,
    mailbox_folder_tables,
    privacy_tables,
    search_indexes,
    sending_tables,
    support_flag_tables,
)
