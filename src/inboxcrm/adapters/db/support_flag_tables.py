"""Support flags: a mailbox owner's consent that support staff may read one message or thread.

A flag names one stored message (``email_message``) or thread (``email_thread``) of the owner's
mailbox, why (``reason``) and until when (``expires_at``). It is live while ``withdrawn_at`` is
NULL and ``expires_at`` is in the future; the owner withdraws it at any time. Staff read only
what a live flag names (see :mod:`inboxcrm.services.support_flags`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.adapters.db.types import utcnow

__all__ = ["SupportFlagRow"]


class SupportFlagRow(TenantBase):
    __tablename__ = "support_flags"
    __table_args__ = (Index("ix_support_flags_target", "target_kind", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int]
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    created_by_user_id: Mapped[int]
    reason: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None]
