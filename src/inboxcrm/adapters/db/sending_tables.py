"""Tables of mail written from the CRM: outbound messages, their attachments, tracking events,
AI drafts awaiting approval (issue 11, :mod:`inboxcrm.services.drafts`)
and each user's sending preferences (issue 10, see :mod:`inboxcrm.services.sending`).

An :class:`OutboundMessageRow` is written before anything is sent and is never deleted by the
send path: it holds what the user wrote (so a failed message can be retried or edited) and, once
Gmail accepted it, the provider ids that tie it to the synced copy in ``email_messages``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.adapters.db.types import utcnow


class OutboundMessageRow(TenantBase):
    """One message composed in inboxcrm. ``status``: ``sending``, ``sent`` or ``failed``.

    ``opens``/``clicks`` count human events only (proxy and scanner fetches are kept in
    ``tracking_events`` with their label, but not counted).
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_messages_record", "record_kind", "record_id"),
        Index("ix_outbound_messages_provider", "mail_account_id", "provider_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    sender_user_id: Mapped[int]
    record_kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="sending")
    from_address: Mapped[str] = mapped_column(String(320))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to_addresses: Mapped[list[str]] = mapped_column(default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(default=list)
    bcc_addresses: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    reply_to_message_id: Mapped[str | None] = mapped_column(String(100))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(default=list)
    provider_thread_hint: Mapped[str | None] = mapped_column(String(100))
    """The Gmail thread the reply belongs to (the threadId sent with it)."""
    message_id_header: Mapped[str] = mapped_column(String(998))
    """The Message-ID inboxcrm gave the message (also how a retry finds an earlier success)."""
    track: Mapped[bool] = mapped_column(default=False)
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    provider_thread_id: Mapped[str | None] = mapped_column(String(100))
    email_message_id: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    opens: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)
    draft_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]


class OutboundAttachmentRow(TenantBase):
    """An attachment of an outbound message, kept until it is sent (and for a retry)."""

    __tablename__ = "outbound_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbound_message_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(default=0)
    content: Mapped[bytes]


class TrackingEventRow(TenantBase):
    """One open or click, deduplicated per (message, recipient, kind, link, minute, label).

    ``label``: ``human``, ``proxy`` (an image proxy such as GoogleImageProxy) or ``scanner``
    (a link scanner: known agent, HEAD request, a click seconds after delivery, or many links
    at once). ``visitor`` is a hash of the client address and agent (never the address itself).
    """

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint(
            "outbound_message_id",
            "recipient",
            "kind",
            "link",
            "minute",
            "label",
            name="uq_tracking_events_dedup",
        ),
        Index("ix_tracking_events_visitor", "outbound_message_id", "visitor", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outbound_message_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="CASCADE")
    )
    recipient: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(10))
    link: Mapped[int] = mapped_column(default=-1)
    url: Mapped[str | None] = mapped_column(Text)
    minute: Mapped[int]
    label: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))
    visitor: Mapped[str] = mapped_column(String(32), default="")
    occurred_at: Mapped[datetime]


class SendingPreferencesRow(TenantBase):
    """A user's sending defaults (Setup → Email): open/click tracking off unless turned on."""

    __tablename__ = "sending_preferences"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    track_by_default: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DraftRow(TenantBase):
    """One draft. ``status``: ``pending_approval``, ``sent`` or ``discarded``.

    ``context_message_ids`` are the provider message ids the drafting provider was given (and
    nothing else of the mailbox was). ``approved_text_hash`` is the SHA-256 of the subject and
    body the approver sent.
    """

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_record", "record_kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int]
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    requested_by_user_id: Mapped[int]
    reply_to_message_id: Mapped[str | None] = mapped_column(String(100))
    instructions: Mapped[str] = mapped_column(Text, default="")
    to_addresses: Mapped[list[str]] = mapped_column(default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending_approval")
    provider: Mapped[str] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(100))
    context_message_ids: Mapped[list[str]] = mapped_column(default=list)
    approved_by_user_id: Mapped[int | None]
    approved_at: Mapped[datetime | None]
    approved_text_hash: Mapped[str | None] = mapped_column(String(64))
    outbound_message_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
