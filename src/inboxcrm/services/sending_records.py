"""What a send leaves in the tenant database besides the outbound message itself.

- A sent message becomes an ordinary stored message (``email_threads`` / ``email_messages``, keyed
  by the Gmail ids) with an ``email`` timeline entry on the record it was written from. Every
  insert is insert-if-absent on the same keys the sync uses, so whichever comes first — this,
  or the sync storing the copy from the Sent folder — the other changes nothing: one message,
  one timeline entry per record. The copy claims its tenant-wide identity like synced mail
  (:mod:`inboxcrm.sync.message_keys`) and the entry points at that identity, so colleagues'
  copies of the sent message share the entry too.
- A failed message gets one ``outbound`` timeline entry (pointing at the outbound message) that
  says so; it is withdrawn once a retry succeeds.

The stored copy keeps the text the user wrote (tracking links and pixel are only in the copy
Gmail sent), under the tenant's storage policy like synced mail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.sending_tables import OutboundMessageRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow, EmailMessageRow, EmailThreadRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.mail_parsing import html_to_text, snippet_of
from inboxcrm.domain.outgoing_mail import parse_recipient
from inboxcrm.sync.ingest import load_tenant_mail_settings
from inboxcrm.sync.inserts import insert_if_absent
from inboxcrm.sync.message_keys import claim_message_keys, dedup_key_of

__all__ = ["OUTBOUND_KIND", "SENT_REASON", "record_failed_entry", "store_sent_copy"]

OUTBOUND_KIND = "outbound"
"""Timeline entry kind of a message that could not be sent (yet)."""
SENT_REASON = "sent"
"""``match_reason`` of the timeline entry of a message sent from the record."""


def _canonical(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        address = try_normalize_email(parse_recipient(value, "to").address)
        if address is not None and address not in found:
            found.append(address)
    return found


def store_sent_copy(session: Session, row: OutboundMessageRow, size: int, when: datetime) -> int:
    """Store the sent message and link it to its record; returns the email message row id."""
    assert row.provider_message_id and row.provider_thread_id
    insert_if_absent(
        session,
        EmailThreadRow.__table__,  # type: ignore[arg-type]
        [
            {
                "mail_account_id": row.mail_account_id,
                "provider_thread_id": row.provider_thread_id,
                "subject": row.subject[:500],
                "last_message_at": when,
            }
        ],
        ["mail_account_id", "provider_thread_id"],
    )
    thread_id = session.scalar(
        select(EmailThreadRow.id).where(
            EmailThreadRow.mail_account_id == row.mail_account_id,
            EmailThreadRow.provider_thread_id == row.provider_thread_id,
        )
    )
    session.execute(
        update(EmailThreadRow)
        .where(EmailThreadRow.id == thread_id)
        .where((EmailThreadRow.last_message_at.is_(None)) | (EmailThreadRow.last_message_at < when))
        .values(last_message_at=when)
    )
    policy, _, _ = load_tenant_mail_settings(session)
    text = row.body_text or (html_to_text(row.body_html) if row.body_html else "")
    keep_bodies = policy == "full"
    values: dict[str, Any] = {
        "mail_account_id": row.mail_account_id,
        "thread_id": thread_id,
        "provider_message_id": row.provider_message_id,
        "message_id_header": row.message_id_header,
        "in_reply_to": row.in_reply_to,
        "references": list(row.references or []),
        "from_address": try_normalize_email(row.from_address) or row.from_address,
        "from_name": row.from_name or None,
        "to_addresses": _canonical(row.to_addresses),
        "cc_addresses": _canonical(row.cc_addresses),
        "bcc_addresses": _canonical(row.bcc_addresses),
        "subject": row.subject,
        "sent_at": when,
        "direction": "outbound",
        "snippet": "" if policy == "metadata" else snippet_of(text),
        "body_text": row.body_text if keep_bodies and row.body_text else None,
        "body_html": row.body_html if keep_bodies else None,
        "labels": ["SENT"],
        "size_estimate": size,
        "created_at": utcnow(),
    }
    # The same identity as the copy the sync stores from the Sent folder (and colleagues'
    # copies), so the record shows one entry for it however the copies arrive.
    key = dedup_key_of(values)
    values["message_key_id"] = claim_message_keys(session, [key])[key]
    insert_if_absent(
        session,
        EmailMessageRow.__table__,  # type: ignore[arg-type]
        [values],
        ["mail_account_id", "provider_message_id"],
    )
    stored = session.execute(
        select(EmailMessageRow.id, EmailMessageRow.message_key_id).where(
            EmailMessageRow.mail_account_id == row.mail_account_id,
            EmailMessageRow.provider_message_id == row.provider_message_id,
        )
    ).one()
    message_id, message_key_id = int(stored[0]), int(stored[1])
    insert_if_absent(
        session,
        ActivityRow.__table__,  # type: ignore[arg-type]
        [
            {
                "record_kind": row.record_kind,
                "record_id": row.record_id,
                "kind": "email",
                "ref_id": message_key_id,
                "occurred_at": when,
                "summary": row.subject[:300],
                "match_reason": SENT_REASON,
                "match_detail": None,
                "created_at": utcnow(),
            }
        ],
        ["record_kind", "record_id", "kind", "ref_id"],
    )
    session.execute(
        update(ActivityRow)
        .where(
            ActivityRow.kind == OUTBOUND_KIND,
            ActivityRow.ref_id == row.id,
            ActivityRow.deleted_at.is_(None),
        )
        .values(deleted_at=utcnow())
    )
    return int(message_id)


def record_failed_entry(session: Session, row: OutboundMessageRow) -> None:
    """The record's timeline says the message was not sent (one entry, kept up to date)."""
    summary = f"Not sent: {row.subject or '(no subject)'}"[:300]
    inserted = insert_if_absent(
        session,
        ActivityRow.__table__,  # type: ignore[arg-type]
        [
            {
                "record_kind": row.record_kind,
                "record_id": row.record_id,
                "kind": OUTBOUND_KIND,
                "ref_id": row.id,
                "occurred_at": row.created_at,
                "summary": summary,
                "match_reason": None,
                "match_detail": None,
                "created_at": utcnow(),
            }
        ],
        ["record_kind", "record_id", "kind", "ref_id"],
        returning=["id"],
    )
    if not inserted:
        session.execute(
            update(ActivityRow)
            .where(ActivityRow.kind == OUTBOUND_KIND, ActivityRow.ref_id == row.id)
            .values(summary=summary, deleted_at=None)
        )
