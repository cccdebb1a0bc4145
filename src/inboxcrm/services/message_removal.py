"""Removing one synced message, or a whole thread, from the CRM; Gmail is not touched.

Who: the owner of the mailbox that holds the copy, or a tenant owner/admin. What is removed is
that mailbox's stored copy (a colleague's copy of the same email, in their own mailbox, is
theirs to remove; the timeline entry stays while any copy is left).

One unit of work does all of it (on SQLite with ``secure_delete`` on, so deleted content is
zeroed as it goes), then the database is rewritten before the answer goes out
(:func:`inboxcrm.services.vacuum.vacuum_database`: SQLite ``VACUUM``; on PostgreSQL ``VACUUM
FULL`` of the touched tables, ``ANALYZE``, the statistics catalog and a checkpoint), so that
right after the removal neither a row nor a database file holds the subject, the body or the
headers:

1. the copies' attachments (metadata), the copies themselves, and the thread row when no copy
   is left in it (a thread removal always deletes it);
2. what inboxcrm wrote of them when they were sent from the CRM (``outbound_messages`` with its
   attachments and tracking events), and their support flags (whose reasons describe them);
3. their timeline entries and tenant-wide identities, unless another mailbox still holds the
   email (:func:`~inboxcrm.sync.message_keys.release_message_keys`);
4. the ledger row of each message becomes ``skipped`` with the reason ``removed_by_user`` and no
   detail (a row is added for a message the ledger did not know, such as one sent from the
   CRM). A full sync leaves existing ledger rows alone, an incremental sync skips ids the ledger
   knows, and a back-fill reopens only ``no_match``/``never_log`` rows: no later sync stores the
   message again. Only its provider ids stay, which is what keeps it out;
5. the audit entry ``email_message.remove`` or ``email_thread.remove`` (ids and counts only).

New messages that arrive later in a removed thread are synced as usual. If a long transaction
elsewhere still sees the deleted rows for :data:`VACUUM_DEADLINE_SECONDS`, PostgreSQL cannot drop
them yet: the removal stands (``files_clean`` is false in the answer, and the log says so), and
the hourly retention purge's vacuum finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Engine, delete, exists, select

from inboxcrm.adapters.db.compaction import zero_deleted_content
from inboxcrm.adapters.db.sending_tables import OutboundMessageRow
from inboxcrm.adapters.db.support_flag_tables import SupportFlagRow
from inboxcrm.adapters.db.tenant_tables import (
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
)
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import NotFound, PermissionDenied
from inboxcrm.domain.roles import is_admin
from inboxcrm.providers.base import MessageRef
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.services.vacuum import vacuum_database
from inboxcrm.sync import ledger
from inboxcrm.sync.message_keys import release_message_keys

logger = logging.getLogger(__name__)

__all__ = [
    "REMOVED_BY_USER",
    "TOUCHED_TABLES",
    "VACUUM_DEADLINE_SECONDS",
    "RemovalPorts",
    "RemovalResult",
    "remove_email_message",
    "remove_email_thread",
]

REMOVED_BY_USER = "removed_by_user"
"""The ledger's skip reason of a message a user removed from the CRM."""

VACUUM_DEADLINE_SECONDS = 15.0
"""How long a removal waits for transactions elsewhere that still see the deleted rows."""

TOUCHED_TABLES = (
    "email_messages",
    "email_attachments",
    "email_threads",
    "email_message_keys",
    "activities",
    "mail_sync_ledger",
    "outbound_messages",
    "outbound_attachments",
    "tracking_events",
    "support_flags",
)


@dataclass(frozen=True)
class RemovalPorts:
    """What removal uses: the tenant's unit of work, and its engine and slug (for the vacuum)."""

    uow: Callable[[], UnitOfWork]
    engine: Callable[[], Engine]
    tenant: str = ""


@dataclass(frozen=True)
class RemovalResult:
    target: str
    mail_account_id: int
    messages: int
    timeline_entries_kept: bool
    """True when another mailbox still holds the email, so its timeline entry stays."""
    files_clean: bool = True
    """False when PostgreSQL could not yet drop the deleted row versions (see the docstring)."""


def _check_may_remove(uow: UnitOfWork, principal: Principal, account_id: int) -> None:
    account = uow.session.get(MailAccountRow, account_id)
    if account is None:
        raise NotFound("no such mailbox")
    if account.user_id != principal.user_id and not is_admin(principal.role):
        raise PermissionDenied("only the mailbox owner or an admin may remove its mail")


def _remove(
    uow: UnitOfWork,
    account_id: int,
    rows: list[EmailMessageRow],
    thread_ids: set[int],
    *,
    drop_threads: bool,
) -> bool:
    session = uow.session
    zero_deleted_content(session)
    ids = [r.id for r in rows]
    provider_ids = [r.provider_message_id for r in rows]
    key_ids = {r.message_key_id for r in rows}
    thread_of = {r.thread_id: r for r in rows}
    provider_threads = {
        t.id: t.provider_thread_id
        for t in session.scalars(select(EmailThreadRow).where(EmailThreadRow.id.in_(thread_ids)))
    }
    refs = [
        MessageRef(id=r.provider_message_id, thread_id=provider_threads.get(r.thread_id, ""))
        for r in rows
    ]
    session.execute(delete(EmailAttachmentRow).where(EmailAttachmentRow.message_id.in_(ids)))
    session.execute(delete(EmailMessageRow).where(EmailMessageRow.id.in_(ids)))
    if provider_ids:
        session.execute(
            delete(OutboundMessageRow).where(
                OutboundMessageRow.mail_account_id == account_id,
                OutboundMessageRow.provider_message_id.in_(provider_ids),
            )
        )
    session.execute(
        delete(SupportFlagRow).where(
            SupportFlagRow.target_kind == "email_message", SupportFlagRow.target_id.in_(ids)
        )
    )
    for thread_id in thread_ids | set(thread_of):
        left = session.scalar(select(exists().where(EmailMessageRow.thread_id == thread_id)))
        if drop_threads or not left:
            session.execute(delete(EmailThreadRow).where(EmailThreadRow.id == thread_id))
            session.execute(
                delete(SupportFlagRow).where(
                    SupportFlagRow.target_kind == "email_thread",
                    SupportFlagRow.target_id == thread_id,
                )
            )
    ledger.add_pending(session, account_id, refs, outcome="skipped")
    ledger.record_outcomes(
        session, account_id, [(ref.id, "skipped", REMOVED_BY_USER, None) for ref in refs]
    )
    released = release_message_keys(session, key_ids)
    return released < len(key_ids)


def _finish(
    uow: UnitOfWork,
    principal: Principal,
    *,
    target: str,
    account_id: int,
    messages: int,
    kept: bool,
    ip: str | None,
) -> RemovalResult:
    record_event(
        uow,
        action=target.split(":", 1)[0] + ".remove",
        actor_user_id=principal.user_id,
        target=target,
        ip=ip,
        details={"mail_account_id": account_id, "messages": messages},
    )
    uow.commit()
    logger.info(
        "%s of mail account %s removed from the CRM by user %s (%d messages)",
        target,
        account_id,
        principal.user_id,
        messages,
    )
    return RemovalResult(
        target=target, mail_account_id=account_id, messages=messages, timeline_entries_kept=kept
    )


def _vacuumed(ports: RemovalPorts, result: RemovalResult) -> RemovalResult:
    clean = vacuum_database(
        ports.engine(), ports.tenant, TOUCHED_TABLES, deadline_seconds=VACUUM_DEADLINE_SECONDS
    )
    if not clean:
        logger.warning(
            "%s of mail account %s: deleted rows still seen elsewhere; the next purge vacuums",
            result.target,
            result.mail_account_id,
        )
    return replace(result, files_clean=clean)


def remove_email_message(
    ports: RemovalPorts, principal: Principal, message_id: int, *, ip: str | None = None
) -> RemovalResult:
    """Delete one stored copy and its traces, and keep it out of every later sync."""
    with ports.uow() as uow:
        row = uow.session.get(EmailMessageRow, message_id)
        if row is None:
            raise NotFound(f"no email message {message_id}")
        account_id = row.mail_account_id
        _check_may_remove(uow, principal, account_id)
        kept = _remove(uow, account_id, [row], {row.thread_id}, drop_threads=False)
        result = _finish(
            uow,
            principal,
            target=f"email_message:{message_id}",
            account_id=account_id,
            messages=1,
            kept=kept,
            ip=ip,
        )
    return _vacuumed(ports, result)


def remove_email_thread(
    ports: RemovalPorts, principal: Principal, thread_id: int, *, ip: str | None = None
) -> RemovalResult:
    """Delete every stored message of one thread (of one mailbox) and the thread itself."""
    with ports.uow() as uow:
        thread = uow.session.get(EmailThreadRow, thread_id)
        if thread is None:
            raise NotFound(f"no email thread {thread_id}")
        account_id = thread.mail_account_id
        _check_may_remove(uow, principal, account_id)
        rows = list(
            uow.session.scalars(
                select(EmailMessageRow).where(EmailMessageRow.thread_id == thread_id)
            )
        )
        kept = _remove(uow, account_id, rows, {thread_id}, drop_threads=True)
        result = _finish(
            uow,
            principal,
            target=f"email_thread:{thread_id}",
            account_id=account_id,
            messages=len(rows),
            kept=kept,
            ip=ip,
        )
    return _vacuumed(ports, result)
