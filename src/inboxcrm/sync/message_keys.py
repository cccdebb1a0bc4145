"""Claiming and releasing the tenant-wide identities of stored messages.

Every stored copy of an email points at an :class:`EmailMessageKeyRow` (see
:mod:`inboxcrm.adapters.db.dedup_tables`); its ``email`` timeline entries point at the same row.

- :func:`claim_message_keys` finds or creates the identities of a batch, insert-if-absent, so
  two mailboxes storing the same email at once (different workers, different transactions) end
  up on one row: on PostgreSQL the second insert waits for the first transaction and then does
  nothing; SQLite serialises writers.
- :func:`release_message_keys` runs after copies were deleted (purge, never-log): identities
  with no copy left lose their timeline entries and are deleted with them. A key that still
  has a copy in another mailbox keeps its entries.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.dedup_tables import EmailMessageKeyRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow, EmailMessageRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.domain.message_keys import message_dedup_key
from inboxcrm.sync.inserts import insert_if_absent

__all__ = ["EMAIL_KIND", "claim_message_keys", "dedup_key_of", "release_message_keys"]

EMAIL_KIND = "email"
_CHUNK = 500


def dedup_key_of(values: Mapping[str, Any]) -> str:
    """The dedup key of a message from its ``email_messages`` column values."""
    return message_dedup_key(
        message_id_header=values.get("message_id_header"),
        from_address=values.get("from_address"),
        to=values.get("to_addresses") or (),
        cc=values.get("cc_addresses") or (),
        subject=values.get("subject"),
        sent_at=values.get("sent_at"),
    )


def claim_message_keys(session: Session, keys: Collection[str]) -> dict[str, int]:
    """The identity row id of each dedup key, created where absent."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    now = utcnow()
    insert_if_absent(
        session,
        EmailMessageKeyRow.__table__,  # type: ignore[arg-type]
        [{"dedup_key": key, "created_at": now} for key in wanted],
        ["dedup_key"],
    )
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(
            select(EmailMessageKeyRow.dedup_key, EmailMessageKeyRow.id).where(
                EmailMessageKeyRow.dedup_key.in_(wanted[start : start + _CHUNK])
            )
        )
        found.update({key: int(row_id) for key, row_id in rows})
    return found


def release_message_keys(session: Session, key_ids: Collection[int]) -> int:
    """Delete the timeline entries and identities of these keys that no copy points at any
    more; returns how many identities went."""
    ids = sorted(set(key_ids))
    released = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        orphaned = list(
            session.scalars(
                select(EmailMessageKeyRow.id).where(
                    EmailMessageKeyRow.id.in_(chunk),
                    ~exists().where(EmailMessageRow.message_key_id == EmailMessageKeyRow.id),
                )
            )
        )
        if not orphaned:
            continue
        session.execute(
            delete(ActivityRow).where(
                ActivityRow.kind == EMAIL_KIND, ActivityRow.ref_id.in_(orphaned)
            )
        )
        session.execute(delete(EmailMessageKeyRow).where(EmailMessageKeyRow.id.in_(orphaned)))
        released += len(orphaned)
    return released
