"""Google Contacts import, field provenance and new-customer-mail alerts (issue 16, part A).

- ``google_contact_links``: which CRM contact a Google person (``resource_name``, e.g.
  ``people/c123``) of one mailbox's Google account was imported into, the person's last seen
  ``etag``, and ``deleted_at`` once Google reported the person deleted (the CRM contact stays:
  it is marked, never deleted, by the import).
- ``record_field_sources``: per record field, who last set it: ``google`` (the import) or
  ``user`` (an edit in the CRM). The import never overwrites a ``user`` field (the merge rule
  of :mod:`inboxcrm.services.contact_import`).
- ``contact_imports``: one row per mailbox: the People sync token, the state of the latest
  import (``queued``, ``running``, ``done``, ``failed``), its counts and a short lease.
- ``customer_mail_alert_prefs``: the per-user opt-in for new-customer-mail notifications (off
  unless a row says ``enabled``); ``customer_mail_alert_marks``: per mailbox, the newest stored
  message already considered for an alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.adapters.db.types import utcnow

__all__ = [
    "ContactImportRow",
    "CustomerAlertMarkRow",
    "CustomerAlertPreferenceRow",
    "GoogleContactLinkRow",
    "RecordFieldSourceRow",
]


class GoogleContactLinkRow(TenantBase):
    __tablename__ = "google_contact_links"
    __table_args__ = (
        UniqueConstraint("mail_account_id", "resource_name"),
        Index("ix_google_contact_links_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    resource_name: Mapped[str] = mapped_column(String(200))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    etag: Mapped[str] = mapped_column(String(200), default="")
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecordFieldSourceRow(TenantBase):
    __tablename__ = "record_field_sources"
    __table_args__ = (UniqueConstraint("record_kind", "record_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int]
    field: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactImportRow(TenantBase):
    __tablename__ = "contact_imports"

    mail_account_id: Mapped[int] = mapped_column(
        ForeignKey("mail_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), default="queued")
    mode: Mapped[str] = mapped_column(String(20), default="")
    sync_token: Mapped[str | None] = mapped_column(Text)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_user_id: Mapped[int | None]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    follow_up: Mapped[bool] = mapped_column(default=False, server_default=false())


class CustomerAlertPreferenceRow(TenantBase):
    __tablename__ = "customer_mail_alert_prefs"

    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CustomerAlertMarkRow(TenantBase):
    __tablename__ = "customer_mail_alert_marks"

    mail_account_id: Mapped[int] = mapped_column(
        ForeignKey("mail_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    last_message_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
