"""Test data for a tenant's database: records, deals, mailboxes, messages and timeline entries.

Every ``make_*`` takes an open tenant unit of work (``runtime.tenant_uow(slug)``), fills sensible
unique defaults that ``**overrides`` replace, commits, and returns the row (rows stay readable
after commit). Email addresses are stored canonical, as the services store them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ActivityRow,
    ContactRow,
    DealRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    LeadRow,
    MailAccountRow,
    NoteRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.addresses import normalize_email
from inboxcrm.providers.gmail.scopes import REQUESTED as GMAIL_SCOPES
from inboxcrm.sync.message_keys import claim_message_keys, dedup_key_of

_serial = itertools.count(1)

#: A fixed moment tests build times from (timeline order must not depend on the clock).
BASE_TIME = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

RecordKey = tuple[str, int]


def _next() -> int:
    return next(_serial)


def _add_emails(uow: UnitOfWork, kind: str, record_id: int, emails: Iterable[str]) -> None:
    uow.session.add_all(
        RecordEmailRow(
            record_kind=kind, record_id=record_id, email=normalize_email(email), position=i
        )
        for i, email in enumerate(emails)
    )


def make_account(uow: UnitOfWork, *, emails: Sequence[str] = (), **overrides: Any) -> AccountRow:
    n = _next()
    values: dict[str, Any] = {"name": f"Account {n}", "domain": f"account{n}.example"}
    values.update(overrides)
    row = AccountRow(**values)
    uow.session.add(row)
    uow.session.flush()
    _add_emails(uow, "account", row.id, emails)
    uow.commit()
    return row


def make_contact(
    uow: UnitOfWork, *, emails: Sequence[str] | None = None, **overrides: Any
) -> ContactRow:
    n = _next()
    values: dict[str, Any] = {"first_name": "Contact", "last_name": f"Number{n}"}
    values.update(overrides)
    row = ContactRow(**values)
    uow.session.add(row)
    uow.session.flush()
    _add_emails(uow, "contact", row.id, [f"contact{n}@example.org"] if emails is None else emails)
    uow.commit()
    return row


def make_lead(uow: UnitOfWork, *, emails: Sequence[str] | None = None, **overrides: Any) -> LeadRow:
    n = _next()
    values: dict[str, Any] = {"first_name": "Lead", "last_name": f"Number{n}", "company": None}
    values.update(overrides)
    row = LeadRow(**values)
    uow.session.add(row)
    uow.session.flush()
    _add_emails(uow, "lead", row.id, [f"lead{n}@example.net"] if emails is None else emails)
    uow.commit()
    return row


def make_deal(uow: UnitOfWork, **overrides: Any) -> DealRow:
    """A deal; on a new account unless ``account_id`` or ``contact_id`` is given."""
    n = _next()
    if "account_id" not in overrides and "contact_id" not in overrides:
        overrides["account_id"] = make_account(uow).id
    values: dict[str, Any] = {
        "name": f"Deal {n}",
        "stage": "qualification",
        "status": "open",
        "amount": Decimal("1000.00"),
        "currency": "USD",
    }
    values.update(overrides)
    row = DealRow(**values)
    uow.session.add(row)
    uow.commit()
    return row


def make_note(
    uow: UnitOfWork, record: RecordKey, *, body: str = "A note", **overrides: Any
) -> NoteRow:
    """A note with its timeline entry, as the notes service writes them."""
    when = overrides.pop("created_at", BASE_TIME)
    row = NoteRow(
        record_kind=record[0], record_id=record[1], body=body, created_at=when, updated_at=when
    )
    for key, value in overrides.items():
        setattr(row, key, value)
    uow.session.add(row)
    uow.session.flush()
    uow.session.add(
        ActivityRow(
            record_kind=record[0],
            record_id=record[1],
            kind="note",
            ref_id=row.id,
            occurred_at=when,
            summary=body.splitlines()[0][:300] if body else "",
        )
    )
    uow.commit()
    return row


def make_mail_account(uow: UnitOfWork, **overrides: Any) -> MailAccountRow:
    n = _next()
    values: dict[str, Any] = {
        "user_id": 1,
        "provider": "gmail",
        "email": f"rep{n}@tenant.example.com",
        "display_name": f"Rep {n}",
        # As connected through Connect Gmail: the five scopes inboxcrm asks for.
        "scopes": list(GMAIL_SCOPES),
    }
    values.update(overrides)
    row = MailAccountRow(**values)
    uow.session.add(row)
    uow.commit()
    return row


def make_thread(uow: UnitOfWork, mail_account: MailAccountRow, **overrides: Any) -> EmailThreadRow:
    n = _next()
    values: dict[str, Any] = {
        "mail_account_id": mail_account.id,
        "provider_thread_id": f"thread{n:012x}",
        "subject": f"Subject {n}",
    }
    values.update(overrides)
    row = EmailThreadRow(**values)
    uow.session.add(row)
    uow.commit()
    return row


def message_key(uow: UnitOfWork, values: dict[str, Any]) -> int:
    """The tenant-wide identity row of a message with these column values (created if absent):
    messages with the same Message-ID and sender share it, as colleagues' copies do."""
    key = dedup_key_of(values)
    return claim_message_keys(uow.session, [key])[key]


def make_email_message(
    uow: UnitOfWork,
    *,
    mail_account: MailAccountRow | None = None,
    thread: EmailThreadRow | None = None,
    link_to: Iterable[RecordKey] = (),
    attachments: Iterable[dict[str, Any]] = (),
    match_reason: str = "address",
    match_detail: str | None = None,
    **overrides: Any,
) -> EmailMessageRow:
    """A stored message (with attachment metadata), on the timeline of each ``link_to`` record."""
    n = _next()
    if mail_account is None:
        mail_account = (
            uow.session.get(MailAccountRow, thread.mail_account_id) if thread is not None else None
        ) or make_mail_account(uow)
    if thread is None:
        thread = make_thread(uow, mail_account)
    values: dict[str, Any] = {
        "mail_account_id": mail_account.id,
        "thread_id": thread.id,
        "provider_message_id": f"msg{n:013x}",
        "message_id_header": f"<m{n}@mail.example.org>",
        "from_address": f"sender{n}@example.org",
        "from_name": f"Sender {n}",
        "to_addresses": [mail_account.email],
        "subject": thread.subject,
        "sent_at": BASE_TIME + timedelta(minutes=n),
        "direction": "inbound",
        "snippet": f"Snippet of message {n}",
        "body_text": f"Body of message {n}",
    }
    values.update(overrides)
    if "message_key_id" not in values:
        values["message_key_id"] = message_key(uow, values)
    row = EmailMessageRow(**values)
    uow.session.add(row)
    uow.session.flush()
    for spec in attachments:
        uow.session.add(EmailAttachmentRow(message_id=row.id, **spec))
    for kind, record_id in link_to:
        uow.session.add(
            ActivityRow(
                record_kind=kind,
                record_id=record_id,
                kind="email",
                ref_id=row.message_key_id,
                occurred_at=row.sent_at,
                summary=row.subject[:300],
                match_reason=match_reason,
                match_detail=match_detail if match_detail is not None else row.from_address,
            )
        )
    uow.commit()
    return row


def make_email_history(
    uow: UnitOfWork,
    record: RecordKey,
    count: int,
    *,
    start: datetime = BASE_TIME,
    step: timedelta = timedelta(minutes=7),
) -> MailAccountRow:
    """``count`` messages in one thread, each on ``record``'s timeline; bulk inserted (fast)."""
    account = make_mail_account(uow)
    thread = make_thread(uow, account)
    messages = [
        {
            "mail_account_id": account.id,
            "thread_id": thread.id,
            "provider_message_id": f"bulk{thread.id}-{i}",
            "message_id_header": f"<bulk{thread.id}-{i}@mail.example.org>",
            "from_address": "sender@example.org",
            "to_addresses": [account.email],
            "cc_addresses": [],
            "bcc_addresses": [],
            "references": [],
            "labels": [],
            "subject": f"Message {i}",
            "sent_at": start + step * i,
            "direction": "inbound",
            "snippet": f"snippet {i}",
        }
        for i in range(count)
    ]
    keys = claim_message_keys(uow.session, [dedup_key_of(m) for m in messages])
    for m in messages:
        m["message_key_id"] = keys[dedup_key_of(m)]
    uow.session.execute(insert(EmailMessageRow), messages)
    stored = uow.session.execute(
        EmailMessageRow.__table__.select()
        .with_only_columns(
            EmailMessageRow.message_key_id, EmailMessageRow.sent_at, EmailMessageRow.subject
        )
        .where(EmailMessageRow.thread_id == thread.id)
    ).all()
    uow.session.execute(
        insert(ActivityRow),
        [
            {
                "record_kind": record[0],
                "record_id": record[1],
                "kind": "email",
                "ref_id": message_id,
                "occurred_at": sent_at,
                "summary": subject,
                "match_reason": "address",
                "match_detail": "sender@example.org",
            }
            for message_id, sent_at, subject in stored
        ],
    )
    uow.commit()
    return account
