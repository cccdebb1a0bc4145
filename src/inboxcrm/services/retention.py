"""Retention: soft delete and restore of records, and the purge that really deletes.

The life of a deleted record and its mail:

1. **Delete** (``DELETE /api/v1/contacts/{id}``, ...; :func:`hide_record`, called by
   ``services.records``): the record gets ``deleted_at``; so do its timeline entries, and every
   email message that no live record's timeline still shows (mail linked only to it). Every list,
   timeline and search leaves rows with ``deleted_at`` out, so all of it is hidden at once.
2. **Restore** (``POST .../{id}/restore``, admins; :func:`restore_record`) within the grace period
   (``INBOXCRM_RECORD_DELETION_GRACE_DAYS``, 90 days): the record, the timeline entries hidden
   with it (same ``deleted_at``) and their messages come back.
3. **Purge** (:func:`purge_tenant`; the hourly job ``inboxcrm.privacy.purge`` and
   ``inboxcrm purge --now``): records deleted longer ago than the grace period (any deleted record
   with ``--force``) are hard-deleted with their addresses, notes, deals and timeline entries, and
   so are hidden messages no live record shows any more (with attachments, sync-ledger rows and
   empty threads). Disconnected mailboxes whose ``purge_after`` passed
   (``INBOXCRM_ACCOUNT_PURGE_DAYS``, 30 days; any with ``--force``) lose all their synced mail.
   Closed tenants past that period lose their whole database.
4. **Vacuum** (:mod:`inboxcrm.services.vacuum`): after a purge that deleted anything the tenant
   database is compacted, so that the deleted bytes are gone from its files, not only unlinked.

Each purge writes one ``retention.purge`` entry to the tenant's audit log with the counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, text, tuple_, update
from sqlalchemy.orm import Session, aliased

from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.privacy_tables import RetentionStateRow
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
    MailLedgerRow,
    NoteRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import InvalidInput, NotFound
from inboxcrm.domain.roles import require_admin
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.sync.message_keys import release_message_keys

logger = logging.getLogger(__name__)

__all__ = [
    "PurgeReport",
    "hide_record",
    "purge_all",
    "purge_tenant",
    "restore_record",
]

EMAIL = "email"
_CHUNK = 500
_ROWS: dict[str, type[LeadRow] | type[ContactRow] | type[AccountRow]] = {
    "lead": LeadRow,
    "contact": ContactRow,
    "account": AccountRow,
}


@dataclass
class PurgeReport:
    """What one tenant's purge deleted."""

    tenant: str
    records: int = 0
    messages: int = 0
    accounts: int = 0
    tenant_dropped: bool = False
    vacuumed: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def deleted_anything(self) -> bool:
        return bool(self.records or self.messages or self.accounts or self.tenant_dropped)


def _row_class(kind: str) -> type[LeadRow] | type[ContactRow] | type[AccountRow]:
    row_cls = _ROWS.get(kind)
    if row_cls is None:
        raise InvalidInput(f"unknown record kind {kind!r}", field="record_kind")
    return row_cls


def _shown_on_live_record(message_key_id: Any) -> ColumnElement[bool]:
    """SQL: some live timeline entry of a live record shows the email ``message_key_id``
    (an ``email`` entry points at the message's tenant-wide identity, not at one copy)."""
    link = aliased(ActivityRow)
    alive = [
        and_(
            link.record_kind == kind,
            exists().where(row_cls.id == link.record_id, row_cls.deleted_at.is_(None)),
        )
        for kind, row_cls in _ROWS.items()
    ]
    return exists().where(
        link.kind == EMAIL,
        link.ref_id == message_key_id,
        link.deleted_at.is_(None),
        or_(*alive),
    )


def hide_record(session: Session, kind: str, record_id: int, now: datetime) -> int:
    """Hide a just soft-deleted record's timeline entries and the mail only it showed.

    The record's row must already carry ``deleted_at`` (flushed). Returns how many messages were
    hidden. The caller commits.
    """
    session.flush()
    session.execute(
        update(ActivityRow)
        .where(
            ActivityRow.record_kind == kind,
            ActivityRow.record_id == record_id,
            ActivityRow.deleted_at.is_(None),
        )
        .values(deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    shown_here = select(ActivityRow.ref_id).where(
        ActivityRow.record_kind == kind,
        ActivityRow.record_id == record_id,
        ActivityRow.kind == EMAIL,
    )
    hidden = session.execute(
        update(EmailMessageRow)
        .where(
            EmailMessageRow.message_key_id.in_(shown_here),
            EmailMessageRow.deleted_at.is_(None),
            ~_shown_on_live_record(EmailMessageRow.message_key_id),
        )
        .values(deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(hidden, "rowcount", 0) or 0)


def restore_record(
    uow: UnitOfWork, principal: Principal, kind: str, record_id: int, *, grace_days: int
) -> int:
    """Bring back a record deleted less than ``grace_days`` ago, with its timeline and mail.

    Admins only. Returns how many messages came back. NotFound when there is no such deleted
    record (never deleted, already purged, or past the grace period).
    """
    require_admin(principal.role)
    row_cls = _row_class(kind)
    row: Any = uow.session.get(row_cls, record_id)
    if row is None or row.deleted_at is None:
        raise NotFound(f"no deleted {kind} with id {record_id}")
    deleted_at = row.deleted_at
    if deleted_at < utcnow() - timedelta(days=grace_days):
        raise NotFound(f"{kind} {record_id} was deleted more than {grace_days} days ago")
    row.deleted_at = None
    uow.session.flush()
    entries = (
        ActivityRow.record_kind == kind,
        ActivityRow.record_id == record_id,
        ActivityRow.deleted_at == deleted_at,
    )
    messages = select(ActivityRow.ref_id).where(*entries, ActivityRow.kind == EMAIL)
    restored = uow.session.execute(
        update(EmailMessageRow)
        .where(
            EmailMessageRow.message_key_id.in_(messages), EmailMessageRow.deleted_at.is_not(None)
        )
        .values(deleted_at=None)
        .execution_options(synchronize_session=False)
    )
    uow.session.execute(
        update(ActivityRow)
        .where(*entries)
        .values(deleted_at=None)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(restored, "rowcount", 0) or 0)
    record_event(
        uow,
        action="record.restore",
        actor_user_id=principal.user_id,
        target=f"{kind}:{record_id}",
        details={"messages": count},
    )
    uow.commit()
    logger.info(
        "%s %s restored by user %s in tenant %s", kind, record_id, principal.user_id, uow.tenant
    )
    return count


# -- purge --------------------------------------------------------------------------------------


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def delete_messages(session: Session, message_ids: list[int]) -> int:
    """Hard-delete messages (copies) with their attachments and sync-ledger rows, the threads
    left empty, and the identities no copy points at any more with their timeline entries (an
    email copied in another mailbox keeps its entries). The caller commits."""
    deleted = 0
    threads: set[int] = set()
    key_ids: set[int] = set()
    for chunk in _chunks(message_ids):
        found = session.execute(
            select(
                EmailMessageRow.mail_account_id,
                EmailMessageRow.provider_message_id,
                EmailMessageRow.thread_id,
                EmailMessageRow.message_key_id,
            ).where(EmailMessageRow.id.in_(chunk))
        ).all()
        threads.update(t for _, _, t, _ in found)
        key_ids.update(k for _, _, _, k in found)
        if found:
            session.execute(
                delete(MailLedgerRow).where(
                    tuple_(MailLedgerRow.mail_account_id, MailLedgerRow.provider_message_id).in_(
                        [(a, p) for a, p, _, _ in found]
                    )
                )
            )
        session.execute(delete(EmailAttachmentRow).where(EmailAttachmentRow.message_id.in_(chunk)))
        result = session.execute(delete(EmailMessageRow).where(EmailMessageRow.id.in_(chunk)))
        deleted += int(getattr(result, "rowcount", 0) or 0)
    release_message_keys(session, key_ids)
    empty = [
        t
        for t in threads
        if session.scalar(select(EmailMessageRow.id).where(EmailMessageRow.thread_id == t).limit(1))
        is None
    ]
    for chunk in _chunks(empty):
        session.execute(delete(EmailThreadRow).where(EmailThreadRow.id.in_(chunk)))
    return deleted


def delete_record_rows(session: Session, kind: str, record_ids: list[int]) -> None:
    """Hard-delete records with their addresses, notes, deals and timeline entries."""
    row_cls = _row_class(kind)
    for chunk in _chunks(record_ids):
        for table in (RecordEmailRow, NoteRow, ActivityRow):
            session.execute(
                delete(table).where(table.record_kind == kind, table.record_id.in_(chunk))
            )
        if kind == "account":
            session.execute(delete(DealRow).where(DealRow.account_id.in_(chunk)))
        elif kind == "contact":
            session.execute(delete(DealRow).where(DealRow.contact_id.in_(chunk)))
        session.execute(delete(row_cls).where(row_cls.id.in_(chunk)))


def _purge_records(session: Session, cutoff: datetime, report: PurgeReport) -> None:
    for kind, row_cls in _ROWS.items():
        ids = list(
            session.scalars(
                select(row_cls.id).where(
                    row_cls.deleted_at.is_not(None), row_cls.deleted_at <= cutoff
                )
            )
        )
        if ids:
            delete_record_rows(session, kind, ids)
            report.records += len(ids)
            report.counts[f"{kind}s"] = len(ids)
    doomed = list(
        session.scalars(
            select(EmailMessageRow.id).where(
                EmailMessageRow.deleted_at.is_not(None),
                EmailMessageRow.deleted_at <= cutoff,
                ~_shown_on_live_record(EmailMessageRow.message_key_id),
            )
        )
    )
    report.messages += delete_messages(session, doomed)


def _purge_accounts(session: Session, moment: datetime, force: bool, report: PurgeReport) -> None:
    query = select(MailAccountRow).where(MailAccountRow.status == "disconnected")
    if not force:
        query = query.where(
            MailAccountRow.purge_after.is_not(None), MailAccountRow.purge_after <= moment
        )
    for account in session.scalars(query).all():
        message_ids = list(
            session.scalars(
                select(EmailMessageRow.id).where(EmailMessageRow.mail_account_id == account.id)
            )
        )
        report.messages += delete_messages(session, message_ids)
        session.execute(delete(EmailThreadRow).where(EmailThreadRow.mail_account_id == account.id))
        session.execute(delete(MailLedgerRow).where(MailLedgerRow.mail_account_id == account.id))
        account.access_token_enc = None
        account.refresh_token_enc = None
        account.history_id = None
        account.sync_progress = {}
        account.sync_phase = "idle"
        account.last_error = None
        account.purge_after = None
        report.accounts += 1


def purge_tenant(
    runtime: Runtime, slug: str, *, force: bool = False, now: datetime | None = None
) -> PurgeReport:
    """Purge what is due in tenant ``slug`` (everything deleted or disconnected with ``force``),
    then vacuum its database if anything went."""
    from inboxcrm.services.export import expire_exports
    from inboxcrm.services.vacuum import vacuum_tenant_database

    moment = now or utcnow()
    settings = runtime.settings
    cutoff = moment if force else moment - timedelta(days=settings.record_deletion_grace_days)
    report = PurgeReport(slug)
    with runtime.tenant_uow(slug) as uow:
        if uow.session.get_bind().dialect.name == "sqlite":
            uow.session.execute(text("PRAGMA secure_delete = ON"))  # zero what is deleted
        _purge_records(uow.session, cutoff, report)
        _purge_accounts(uow.session, moment, force, report)
        report.counts["exports_expired"] = expire_exports(uow, moment)
        state = uow.session.get(RetentionStateRow, 1)
        if state is None:
            state = RetentionStateRow(id=1, vacuum_pending=False)
            uow.session.add(state)
        must_vacuum = report.deleted_anything or state.vacuum_pending
        state.vacuum_pending = must_vacuum
        state.last_purge_at = moment
        if report.deleted_anything:
            record_event(
                uow,
                action="retention.purge",
                actor_user_id=None,
                actor_kind="system",
                target=None,
                details={
                    "records": report.records,
                    "messages": report.messages,
                    "accounts": report.accounts,
                    "forced": force,
                },
            )
        uow.commit()
    if must_vacuum:
        report.vacuumed = vacuum_tenant_database(runtime, slug)
        if report.vacuumed:
            with runtime.tenant_uow(slug) as uow:
                done = uow.session.get(RetentionStateRow, 1)
                if done is not None:
                    done.vacuum_pending = False
                    uow.commit()
        logger.info(
            "purged %d records, %d messages and %d mailboxes in tenant %s",
            report.records, report.messages, report.accounts, slug,
        )  # fmt: skip
    return report


def _drop_closed_tenant(runtime: Runtime, tenant: TenantRow) -> PurgeReport:
    runtime.tenants.drop_database(tenant.slug)
    with runtime.control_uow() as uow:
        row = uow.session.get(TenantRow, tenant.id)
        if row is not None:
            row.status = "purged"
            row.database_ready = False
        record_event(
            uow,
            action="tenant.purge",
            actor_user_id=None,
            actor_kind="system",
            target=f"tenant:{tenant.id}",
        )
        uow.commit()
    logger.info("database of closed tenant %s deleted", tenant.slug)
    return PurgeReport(tenant.slug, tenant_dropped=True)


def purge_all(
    runtime: Runtime,
    *,
    tenant: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> list[PurgeReport]:
    """Purge every tenant (or one): open tenants as :func:`purge_tenant`, closed tenants past
    ``INBOXCRM_ACCOUNT_PURGE_DAYS`` (any closed one with ``force``) by deleting their database.

    A tenant that fails is logged and skipped, so one broken database does not stop the rest.
    """
    moment = now or utcnow()
    closed_cutoff = moment - timedelta(days=runtime.settings.account_purge_days)
    with runtime.control_uow() as uow:
        query = select(TenantRow).order_by(TenantRow.id)
        if tenant is not None:
            query = query.where(TenantRow.slug == tenant)
        rows = list(uow.session.scalars(query))
    if tenant is not None and not rows:
        raise NotFound(f"no tenant {tenant!r}")
    reports: list[PurgeReport] = []
    for row in rows:
        try:
            if row.status == "closed":
                if force or (row.closed_at is not None and row.closed_at <= closed_cutoff):
                    reports.append(_drop_closed_tenant(runtime, row))
            elif row.status == "active" and row.database_ready:
                reports.append(purge_tenant(runtime, row.slug, force=force, now=moment))
        except Exception:
            if tenant is not None:
                raise
            logger.exception("purge failed in tenant %s", row.slug)
    return reports
