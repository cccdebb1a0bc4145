"""Checkpoints of IMAP folders and POP3 maildrops (tables in ``adapters.db.mailbox_folder_tables``).

An IMAP folder's checkpoint is (UIDVALIDITY, the UID up to which every message was handled,
UIDNEXT and HIGHESTMODSEQ as last seen). A run reads the folder's STATUS first: the same
UIDVALIDITY, UIDNEXT and (where the server offers CONDSTORE) HIGHESTMODSEQ mean nothing changed.
A different UIDVALIDITY means the UIDs were renumbered: the folder is read again from UID 1, and
since stored mail is identified by Message-ID or content hash (``domain.mail_identity``), nothing
is stored twice. POP3 has no UIDVALIDITY: each UIDL handled is remembered.

The caller commits (each checkpoint moves in the transaction that stored its batch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.mailbox_folder_tables import MailFolderCheckpointRow, Pop3SeenRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.sync.inserts import insert_if_absent

__all__ = [
    "FolderCheckpoint",
    "forget_checkpoints",
    "load_checkpoint",
    "mark_pop3_seen",
    "pop3_seen",
    "save_checkpoint",
]


@dataclass(frozen=True, slots=True)
class FolderCheckpoint:
    folder: str
    uidvalidity: int
    last_uid: int
    uidnext: int | None
    highest_modseq: int | None


def load_checkpoint(session: Session, account_id: int, folder: str) -> FolderCheckpoint | None:
    row = session.scalar(
        select(MailFolderCheckpointRow).where(
            MailFolderCheckpointRow.mail_account_id == account_id,
            MailFolderCheckpointRow.folder == folder,
        )
    )
    if row is None:
        return None
    return FolderCheckpoint(
        folder=row.folder,
        uidvalidity=int(row.uidvalidity),
        last_uid=int(row.last_uid),
        uidnext=row.uidnext,
        highest_modseq=row.highest_modseq,
    )


def save_checkpoint(session: Session, account_id: int, checkpoint: FolderCheckpoint) -> None:
    """Insert or move the folder's checkpoint."""
    row = session.scalar(
        select(MailFolderCheckpointRow).where(
            MailFolderCheckpointRow.mail_account_id == account_id,
            MailFolderCheckpointRow.folder == checkpoint.folder,
        )
    )
    if row is None:
        row = MailFolderCheckpointRow(mail_account_id=account_id, folder=checkpoint.folder)
        session.add(row)
    row.uidvalidity = checkpoint.uidvalidity
    row.last_uid = checkpoint.last_uid
    row.uidnext = checkpoint.uidnext
    row.highest_modseq = checkpoint.highest_modseq
    row.updated_at = utcnow()
    session.flush()


def forget_checkpoints(session: Session, account_id: int) -> None:
    """Drop every checkpoint of the account (its next run reads every folder again)."""
    session.execute(
        delete(MailFolderCheckpointRow).where(MailFolderCheckpointRow.mail_account_id == account_id)
    )
    session.execute(delete(Pop3SeenRow).where(Pop3SeenRow.mail_account_id == account_id))


def pop3_seen(session: Session, account_id: int) -> set[str]:
    return set(
        session.scalars(select(Pop3SeenRow.uidl).where(Pop3SeenRow.mail_account_id == account_id))
    )


def mark_pop3_seen(session: Session, account_id: int, handled: Iterable[tuple[str, str]]) -> None:
    """Remember (UIDL, provider message id) pairs as handled."""
    now = utcnow()
    insert_if_absent(
        session,
        Pop3SeenRow.__table__,  # type: ignore[arg-type]
        [
            {
                "mail_account_id": account_id,
                "uidl": uidl[:100],
                "provider_message_id": mid,
                "seen_at": now,
            }
            for uidl, mid in handled
        ],
        ["mail_account_id", "uidl"],
    )
