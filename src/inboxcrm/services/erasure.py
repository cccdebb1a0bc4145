"""Deletion on request (GDPR Art. 17): erase a person by address, or a record, for good.

``POST /api/v1/erasure-requests`` (admins) with ``{"address": ...}`` or ``{"record": {type, id}}``.
One unit of work does all of it, then the database is vacuumed:

1. The addresses to erase: the one given, or every address of the given record.
2. Records: the given record, and every record whose only address is an erased one (a person
   known by that address alone, including contacts that auto-creation made), are hard-deleted
   with their notes, deals and timeline entries. A record that also has other addresses (a
   company account, say) keeps them and loses only the erased one.
3. Mail: every stored message in which an erased address takes part (From, To, Cc, Bcc), and
   every message the deleted records' timelines showed that no other live record shows, is
   hard-deleted with its attachments, timeline entries and sync-ledger rows; sync-ledger rows
   that mention the address are deleted too; the address is removed from the attendees of
   stored meetings (services.meetings.erase_attendee).
4. The addresses go on the never-log list, so the sync never stores their mail again.
5. An ``erasure_requests`` row and an ``erasure.request`` audit entry record what was deleted
   (counts only: neither holds the address, and the never-log list is the one place it stays,
   as it must to keep the promise of step 4).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select

from inboxcrm.adapters.db.privacy_tables import ErasureRequestRow
from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ActivityRow,
    ContactRow,
    EmailMessageRow,
    LeadRow,
    MailLedgerRow,
    NeverLogEntryRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import InvalidInput, NotFound
from inboxcrm.domain.roles import require_admin
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.services.meetings import erase_attendee
from inboxcrm.services.retention import delete_messages, delete_record_rows

logger = logging.getLogger(__name__)

__all__ = ["ErasureResult", "erase", "list_erasure_requests"]

_ROWS: dict[str, type[LeadRow] | type[ContactRow] | type[AccountRow]] = {
    "lead": LeadRow,
    "contact": ContactRow,
    "account": AccountRow,
}


@dataclass(frozen=True)
class ErasureResult:
    id: int
    subject: str
    status: str
    deleted: dict[str, int]
    never_log_added: int
    created_at: Any


def _addresses_of(session: Any, kind: str, record_id: int) -> list[str]:
    return list(
        session.scalars(
            select(RecordEmailRow.email).where(
                RecordEmailRow.record_kind == kind, RecordEmailRow.record_id == record_id
            )
        )
    )


def _mentions(column: Any, address: str) -> Any:
    """SQL: the JSON list (or text) ``column`` holds ``address`` (case-insensitively)."""
    return func.lower(cast(column, String)).like(f'%"{address}"%')


def _messages_with(session: Any, address: str) -> list[int]:
    query = select(EmailMessageRow.id).where(
        or_(
            func.lower(EmailMessageRow.from_address) == address,
            _mentions(EmailMessageRow.to_addresses, address),
            _mentions(EmailMessageRow.cc_addresses, address),
            _mentions(EmailMessageRow.bcc_addresses, address),
        )
    )
    return list(session.scalars(query))


def _only_shown_on(session: Any, records: list[tuple[str, int]]) -> list[int]:
    """Messages (every mailbox's copy) the records' timelines show that no other live record
    shows. An ``email`` entry points at the message's tenant-wide identity."""
    found: list[int] = []
    keys = set(records)
    for kind, record_id in records:
        message_key_ids = session.scalars(
            select(ActivityRow.ref_id).where(
                ActivityRow.record_kind == kind,
                ActivityRow.record_id == record_id,
                ActivityRow.kind == "email",
            )
        )
        for message_key_id in message_key_ids:
            links = session.execute(
                select(ActivityRow.record_kind, ActivityRow.record_id).where(
                    ActivityRow.kind == "email", ActivityRow.ref_id == message_key_id
                )
            ).all()
            others = [(k, i) for k, i in links if (k, i) not in keys]
            alive = [
                (k, i)
                for k, i in others
                if session.scalar(
                    select(_ROWS[k].id).where(_ROWS[k].id == i, _ROWS[k].deleted_at.is_(None))
                )
                is not None
            ]
            if not alive:
                found.extend(
                    session.scalars(
                        select(EmailMessageRow.id).where(
                            EmailMessageRow.message_key_id == message_key_id
                        )
                    )
                )
    return found


def erase(
    runtime: Runtime,
    principal: Principal,
    *,
    address: str | None = None,
    record: tuple[str, int] | None = None,
    ip: str | None = None,
) -> ErasureResult:
    """Erase an address or a record (exactly one of them); see the module docstring."""
    from inboxcrm.services.vacuum import vacuum_tenant_database

    require_admin(principal.role)
    if (address is None) == (record is None):
        raise InvalidInput("give either an address or a record", field="address")
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        session = uow.session
        if address is not None:
            canonical = try_normalize_email(address)
            if canonical is None:
                raise InvalidInput(f"not an email address: {address!r}", field="address")
            addresses = [canonical]
            subject = "address"
            doomed: list[tuple[str, int]] = []
        else:
            assert record is not None
            kind, record_id = record
            if kind not in _ROWS:
                raise InvalidInput(f"unknown record kind {kind!r}", field="record")
            if session.get(_ROWS[kind], record_id) is None:
                raise NotFound(f"no {kind} with id {record_id}")
            addresses = _addresses_of(session, kind, record_id)
            subject = f"{kind}:{record_id}"
            doomed = [(kind, record_id)]
        for canonical in addresses:
            holders = session.execute(
                select(RecordEmailRow.record_kind, RecordEmailRow.record_id).where(
                    RecordEmailRow.email == canonical
                )
            ).all()
            for kind, record_id in holders:
                own = _addresses_of(session, kind, record_id)
                if set(own) <= set(addresses) and (kind, record_id) not in doomed:
                    doomed.append((kind, record_id))
        message_ids = set(_only_shown_on(session, doomed))
        for canonical in addresses:
            message_ids.update(_messages_with(session, canonical))
        messages = delete_messages(session, sorted(message_ids))
        ledger_rows = 0
        for canonical in addresses:
            result = session.execute(
                delete(MailLedgerRow).where(func.lower(MailLedgerRow.detail).contains(canonical))
            )
            ledger_rows += int(getattr(result, "rowcount", 0) or 0)
        for kind in _ROWS:
            ids = [i for k, i in doomed if k == kind]
            if ids:
                delete_record_rows(session, kind, ids)
        removed_addresses = session.execute(
            delete(RecordEmailRow).where(RecordEmailRow.email.in_(addresses))
        )
        meetings = sum(erase_attendee(uow, canonical) for canonical in addresses)
        known = set(
            session.scalars(
                select(NeverLogEntryRow.entry).where(NeverLogEntryRow.entry.in_(addresses))
            )
        )
        added = [a for a in addresses if a not in known]
        session.add_all(
            NeverLogEntryRow(entry=a, created_by_user_id=principal.user_id) for a in added
        )
        deleted = {
            "records": len(doomed),
            "messages": messages,
            "addresses": len(addresses),
            "record_addresses": int(getattr(removed_addresses, "rowcount", 0) or 0),
            "ledger_rows": ledger_rows,
            "meetings": meetings,
        }
        row = ErasureRequestRow(
            requested_by_user_id=principal.user_id,
            subject=subject,
            status="done",
            deleted={**deleted, "never_log_added": len(added)},
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        record_event(
            uow,
            action="erasure.request",
            actor_user_id=principal.user_id,
            target=f"erasure_request:{row.id}",
            ip=ip,
            details={"subject": subject, **deleted, "never_log_added": len(added)},
        )
        uow.commit()
        result_view = ErasureResult(
            id=row.id,
            subject=subject,
            status=row.status,
            deleted=deleted,
            never_log_added=len(added),
            created_at=row.created_at,
        )
    vacuum_tenant_database(runtime, principal.tenant_slug)
    logger.info(
        "erasure request %s in tenant %s: %s", result_view.id, principal.tenant_slug, deleted
    )
    return result_view


def list_erasure_requests(runtime: Runtime, principal: Principal) -> list[ErasureResult]:
    """The tenant's erasure requests, newest first (admins)."""
    require_admin(principal.role)
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        rows = uow.session.scalars(
            select(ErasureRequestRow).order_by(ErasureRequestRow.id.desc()).limit(100)
        ).all()
        return [
            ErasureResult(
                id=r.id,
                subject=r.subject,
                status=r.status,
                deleted={k: v for k, v in (r.deleted or {}).items() if k != "never_log_added"},
                never_log_added=int((r.deleted or {}).get("never_log_added", 0)),
                created_at=r.created_at,
            )
            for r in rows
        ]
