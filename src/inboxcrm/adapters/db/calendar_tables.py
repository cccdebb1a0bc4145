"""Tables of Google Calendar meetings, meeting prep briefs and deal-state labels (issue 16).

- ``meetings``: one row per calendar event of a connected mailbox (an instance of a recurring
  event is its own row, ``recurring_event_id`` naming the series), whether it came from Google
  or was created in inboxcrm (``source``). ``provider_etag``/``provider_updated`` are the values
  of the event as inboxcrm last wrote or read it: a listed event with the same etag is an echo
  of inboxcrm's own write and changes nothing. The meeting's timeline entries are ``activities``
  rows of kind ``meeting`` whose ``ref_id`` is the meeting's id.
- ``calendar_sync_states``: per mailbox, the ``nextSyncToken`` of the last run and its window.
- ``meeting_prep_briefs``: at most one brief per meeting, by a unique ``meeting_id``: a run
  inserts the row (and commits) before it sends, so two overlapping runs cannot both send.
- ``meeting_preferences``: a user's choice of prep briefs (no row = on).
- ``deal_label_assignments``: which deal-state label inboxcrm last applied to a stored message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.adapters.db.types import utcnow


class MeetingRow(TenantBase):
    """A meeting. ``status``: ``confirmed`` or ``cancelled``; ``source``: ``google`` | ``crm``.

    ``attendees``: ``[{"email", "name", "response"}]`` with Google's responseStatus values
    (``needsAction``, ``accepted``, ``declined``, ``tentative``).
    """

    __tablename__ = "meetings"
    __table_args__ = (
        UniqueConstraint("mail_account_id", "provider_event_id"),
        Index("ix_meetings_start", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    organizer_user_id: Mapped[int]
    organizer_email: Mapped[str] = mapped_column(String(320), default="")
    provider_event_id: Mapped[str | None] = mapped_column(String(1024))
    recurring_event_id: Mapped[str | None] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(500), default="")
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    all_day: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="confirmed")
    attendees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(10), default="google")
    record_kind: Mapped[str | None] = mapped_column(String(10))
    record_id: Mapped[int | None]
    provider_etag: Mapped[str | None] = mapped_column(String(100))
    provider_updated: Mapped[str | None] = mapped_column(String(40))
    push_pending: Mapped[bool] = mapped_column(default=False)
    """A CRM change not yet written to Google (a failed insert or patch; retried by a job)."""
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CalendarSyncStateRow(TenantBase):
    __tablename__ = "calendar_sync_states"

    mail_account_id: Mapped[int] = mapped_column(
        ForeignKey("mail_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    sync_token: Mapped[str | None] = mapped_column(Text)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    last_full_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class MeetingPrepBriefRow(TenantBase):
    """The one prep brief of a meeting. ``status``: ``sending``, ``sent`` or ``failed``."""

    __tablename__ = "meeting_prep_briefs"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(10), default="sending")
    outbound_message_id: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingPreferencesRow(TenantBase):
    __tablename__ = "meeting_preferences"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    meeting_prep_enabled: Mapped[bool] = mapped_column(default=True)


class DealLabelAssignmentRow(TenantBase):
    __tablename__ = "deal_label_assignments"

    email_message_id: Mapped[int] = mapped_column(
        ForeignKey("email_messages.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    label: Mapped[str] = mapped_column(String(40))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
