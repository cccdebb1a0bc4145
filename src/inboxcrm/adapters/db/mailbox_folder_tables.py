"""Checkpoints of IMAP and POP3 mailboxes (see :mod:`inboxcrm.sync.folder_checkpoints`).

- :class:`MailFolderCheckpointRow`: one row per (IMAP account, folder): the folder's UIDVALIDITY,
  the highest UID whose messages are all stored or skipped, and the HIGHESTMODSEQ seen
  (CONDSTORE), so an unchanged folder costs one STATUS command.
- :class:`Pop3SeenRow`: one row per (POP3 account, UIDL) already handled (POP3 has no
  UIDVALIDITY; UIDLs are unique per maildrop and the mail stays on the server).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.adapters.db.tenant_tables import TenantBase
from inboxcrm.adapters.db.types import utcnow

__all__ = ["MailFolderCheckpointRow", "Pop3SeenRow"]


class MailFolderCheckpointRow(TenantBase):
    __tablename__ = "mail_folder_checkpoints"
    __table_args__ = (UniqueConstraint("mail_account_id", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(300))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    highest_modseq: Mapped[int | None] = mapped_column(BigInteger)
    uidnext: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Pop3SeenRow(TenantBase):
    __tablename__ = "pop3_seen_messages"
    __table_args__ = (UniqueConstraint("mail_account_id", "uidl"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_account_id: Mapped[int] = mapped_column(ForeignKey("mail_accounts.id", ondelete="CASCADE"))
    uidl: Mapped[str] = mapped_column(String(100))
    provider_message_id: Mapped[str] = mapped_column(String(100))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
