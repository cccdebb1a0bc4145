"""Tenant-wide message identities: one row per distinct email, however many mailboxes hold it.

Each stored copy (``email_messages``, one per mailbox) points at its identity through
``message_key_id``, and an ``email`` timeline entry's ``ref_id`` is the identity's id, so the
``activities`` unique constraint makes "one entry per message per record" hold across every
mailbox of the tenant. ``dedup_key`` is :func:`inboxcrm.domain.message_keys.message_dedup_key`.
Rows are claimed insert-if-absent (see :mod:`inboxcrm.sync.message_keys`) and deleted with the
last copy that points at them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.adapters.db.types import utcnow

__all__ = ["EmailMessageKeyRow"]


class EmailMessageKeyRow(TenantBase):
    """The identity of one email across the tenant's mailboxes."""

    __tablename__ = "email_message_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
