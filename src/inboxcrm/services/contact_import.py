"""Google Contacts import: one-way and read-only, from a mailbox's Google account into the CRM.

Write paths:

1. :func:`request_contacts_import` (``POST /api/v1/mail-accounts/{id}/contacts-import`` or
   Setup → Email): the mailbox's owner asks; the tenant must have Google Contacts enabled and
   the mailbox must have granted ``contacts.readonly`` (:mod:`inboxcrm.services.google_features`).
   The import's state row says ``queued``, the request is audited and the job
   ``inboxcrm.contacts.import_google`` queued after commit (202).
2. :func:`run_contacts_import` (the job): takes the import's lease (a conditional UPDATE, so two
   jobs of one mailbox never run together; a request meanwhile leaves ``follow_up`` and runs
   once more), lists People connections (``people.connections.list`` with ``personFields``) —
   incrementally with the stored ``syncToken``, or in full (``requestSyncToken``) the first time
   and whenever Google says the token expired (400 ``EXPIRED_SYNC_TOKEN`` / 410) — and applies
   each page in one unit of work, with the counts so far (the progress). The new sync token is
   stored only when the whole listing was applied, so a crash repeats the listing, and the
   links make repeating it harmless. The owner is notified when it is done or failed; the
   outcome is audited.

The merge rule (documented in docs/google-contacts.md):

- A Google person is matched, in this order, by its link (the mailbox + the person's
  ``resourceName``), then by email address (a live CRM Contact with one of the person's
  addresses, the lowest id first); otherwise a Contact is created. People without an email
  address are skipped (counted). Re-imports therefore add no duplicates.
- Each field (``first_name``, ``last_name``, ``title``, ``phone``, ``account_id``, ``emails``)
  has a provenance (:mod:`inboxcrm.services.field_sources`). The import writes a field only when
  its provenance is ``google``, or when it has none and is empty in the CRM; then it marks it
  ``google``. Any CRM edit marks the fields it set ``user``, and the import never touches them
  again. Emails are only ever added (never removed) while ``emails`` is not the user's.
- The organisation becomes the contact's Account: a live Account with that name (case-
  insensitive), or a new one.
- A person deleted in Google (``metadata.deleted`` in an incremental listing, or missing from a
  full one) is never deleted in the CRM: its link is marked deleted and the contact shows
  ``source_deleted_at``. A contact deleted in the CRM is not brought back by an import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.google_contact_tables import ContactImportRow, GoogleContactLinkRow
from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ContactRow,
    MailAccountRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import InboxCrmError, NotFound, ProviderAuthError
from inboxcrm.domain.records import MAX_EMAILS_PER_RECORD
from inboxcrm.domain.roles import is_admin, require_write
from inboxcrm.providers.gmail.people import ExpiredSyncToken, GooglePerson, PeopleClient
from inboxcrm.services.audit import record_event
from inboxcrm.services.field_sources import GOOGLE, USER, field_sources, mark_fields
from inboxcrm.services.google_features import require_feature
from inboxcrm.services.identity import Principal
from inboxcrm.services.notifications import notify

__all__ = [
    "IMPORT_TASK",
    "ContactImport",
    "ImportReport",
    "contacts_import_status",
    "request_contacts_import",
    "run_contacts_import",
]

logger = logging.getLogger(__name__)

IMPORT_TASK = "inboxcrm.contacts.import_google"
LEASE_LIFETIME = timedelta(minutes=20)
MAX_FOLLOW_UPS = 2
_COUNTERS = ("seen", "created", "updated", "unchanged", "deleted", "skipped", "accounts_created")
_FIELDS = ("first_name", "last_name", "title", "phone", "account_id")

PeopleFactory = Callable[[], PeopleClient]


@dataclass(frozen=True)
class ContactImport:
    """The state of a mailbox's latest Google Contacts import (the progress while it runs)."""

    mail_account_id: int
    status: str
    """``never``, ``queued``, ``running``, ``done``, ``failed``, or ``interrupted`` (its worker
    stopped mid-run; nothing is lost: the next import repeats the listing)."""
    mode: str
    counts: dict[str, int]
    error: str | None
    requested_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class ImportReport:
    """What one run did. ``status``: ``done``, ``failed``, ``already_running``, ``not_allowed``."""

    tenant: str
    account_id: int
    status: str
    mode: str = ""
    counts: dict[str, int] | None = None
    error: str | None = None


def _view(account_id: int, row: ContactImportRow | None) -> ContactImport:
    if row is None:
        return ContactImport(account_id, "never", "", {}, None, None, None, None)
    status = row.status
    if status == "running" and (row.lease_expires_at is None or row.lease_expires_at < utcnow()):
        status = "interrupted"  # its worker died; the next request (or retry) starts over
    return ContactImport(
        mail_account_id=account_id,
        status=status,
        mode=row.mode,
        counts={k: int(v) for k, v in (row.counts or {}).items()},
        error=row.error,
        requested_at=row.requested_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _own_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccountRow:
    row = uow.session.get(MailAccountRow, account_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound(f"no mail account {account_id}")
    return row


# -- requesting and reading --------------------------------------------------------------------


def request_contacts_import(
    uow: UnitOfWork, principal: Principal, account_id: int
) -> ContactImport:
    """Queue an import of the caller's mailbox's Google contacts (see the module docstring)."""
    require_write(principal.role)
    account = _own_account(uow, principal, account_id)
    require_feature(uow, account, "contacts")
    state = uow.session.get(ContactImportRow, account_id)
    now = utcnow()
    if state is None:
        state = ContactImportRow(mail_account_id=account_id, status="queued", counts={})
        uow.session.add(state)
    if state.status == "running" and state.lease_expires_at and state.lease_expires_at > now:
        state.follow_up = True
    else:
        state.status = "queued"
        state.error = None
    state.requested_at = now
    state.requested_by_user_id = principal.user_id
    record_event(
        uow,
        action="contacts_import.request",
        actor_user_id=principal.user_id,
        target=f"mail_account:{account_id}",
        details={"provider": "google"},
    )
    uow.enqueue(IMPORT_TASK, tenant=uow.tenant, account_id=account_id)
    uow.commit()
    logger.info(
        "Google contacts import of mail account %s queued in tenant %s", account_id, uow.tenant
    )
    return _view(account_id, state)


def contacts_import_status(uow: UnitOfWork, principal: Principal, account_id: int) -> ContactImport:
    """The latest import of a mailbox (its owner, or an admin)."""
    row = uow.session.get(MailAccountRow, account_id)
    if row is None or (row.user_id != principal.user_id and not is_admin(principal.role)):
        raise NotFound(f"no mail account {account_id}")
    return _view(account_id, uow.session.get(ContactImportRow, account_id))


# -- the job -------------------------------------------------------------------------------------


def _take_lease(runtime: Runtime, tenant: str, account_id: int) -> bool:
    now = utcnow()
    with runtime.tenant_uow(tenant) as uow:
        if uow.session.get(ContactImportRow, account_id) is None:
            uow.session.add(ContactImportRow(mail_account_id=account_id, counts={}))
            uow.session.flush()
        taken = uow.session.execute(
            update(ContactImportRow)
            .where(
                ContactImportRow.mail_account_id == account_id,
                or_(
                    ContactImportRow.status != "running",
                    ContactImportRow.lease_expires_at.is_(None),
                    ContactImportRow.lease_expires_at < now,
                ),
            )
            .values(
                status="running",
                started_at=now,
                finished_at=None,
                error=None,
                counts={},
                follow_up=False,
                lease_expires_at=now + LEASE_LIFETIME,
            )
        )
        uow.commit()
        return bool(getattr(taken, "rowcount", 0) == 1)


def run_contacts_import(
    runtime: Runtime,
    tenant: str,
    account_id: int,
    *,
    people: PeopleFactory | None = None,
) -> ImportReport:
    """Import the mailbox's Google contacts (the job; see the module docstring).

    ``people`` replaces the People client :func:`account_credentials` would give (tests).
    Nothing escapes: failures are recorded on the import and notified.
    """
    if not _take_lease(runtime, tenant, account_id):
        logger.info(
            "contacts import of account %s in tenant %s already running", account_id, tenant
        )
        return ImportReport(tenant, account_id, "already_running")
    report = ImportReport(tenant, account_id, "failed")
    for _ in range(MAX_FOLLOW_UPS + 1):
        report = _run_once(runtime, tenant, account_id, people)
        if not _follow_up_wanted(runtime, tenant, account_id):
            break
        if not _take_lease(runtime, tenant, account_id):
            break
    return report


def _follow_up_wanted(runtime: Runtime, tenant: str, account_id: int) -> bool:
    with runtime.tenant_uow(tenant) as uow:
        state = uow.session.get(ContactImportRow, account_id)
        return bool(state is not None and state.follow_up and state.status != "running")


def _client(runtime: Runtime, tenant: str, account_id: int) -> PeopleClient:
    from inboxcrm.services.google_access import account_credentials

    credentials = account_credentials(runtime, tenant, account_id)
    return PeopleClient(credentials, api_base=runtime.settings.google_api_base)


def _run_once(
    runtime: Runtime, tenant: str, account_id: int, people: PeopleFactory | None
) -> ImportReport:
    counts = dict.fromkeys(_COUNTERS, 0)
    mode = ""
    try:
        with runtime.tenant_uow(tenant) as uow:
            account = uow.session.get(MailAccountRow, account_id)
            state = uow.session.get(ContactImportRow, account_id)
            if account is None or state is None:
                raise NotFound(f"no mail account {account_id}")
            require_feature(uow, account, "contacts")
            owner, token = account.user_id, state.sync_token
        client = people() if people is not None else _client(runtime, tenant, account_id)
        mode = "incremental" if token else "full"
        try:
            new_token = _apply_listing(runtime, tenant, account_id, owner, client, token, counts)
        except ExpiredSyncToken:
            logger.info("People sync token of account %s expired: full import", account_id)
            mode = "full"
            counts = dict.fromkeys(_COUNTERS, 0)
            new_token = _apply_listing(runtime, tenant, account_id, owner, client, None, counts)
    except Exception as exc:
        error = _error_text(exc)
        if isinstance(exc, InboxCrmError):
            logger.warning(
                "contacts import of account %s in tenant %s failed: %s",
                account_id,
                tenant,
                type(exc).__name__,
            )
        else:
            logger.exception(
                "contacts import of account %s in tenant %s crashed", account_id, tenant
            )
        _finish(runtime, tenant, account_id, "failed", mode, counts, None, error)
        return ImportReport(tenant, account_id, "failed", mode, counts, error)
    _finish(runtime, tenant, account_id, "done", mode, counts, new_token, None)
    logger.info(
        "contacts import of account %s in tenant %s done (%s): %s", account_id, tenant, mode, counts
    )
    return ImportReport(tenant, account_id, "done", mode, counts)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ProviderAuthError):
        return "Google refused the mailbox's access (it may have been revoked); connect it again."
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message[:500]
    return f"The import stopped on an unexpected error ({type(exc).__name__})."


def _apply_listing(
    runtime: Runtime,
    tenant: str,
    account_id: int,
    owner: int,
    client: PeopleClient,
    token: str | None,
    counts: dict[str, int],
) -> str | None:
    """Apply every page of one listing, one unit of work per page; the listing's sync token."""
    seen: set[str] = set()
    next_token: str | None = None
    for page in client.iter_connections(token):
        with runtime.tenant_uow(tenant) as uow:
            for person in page.people:
                seen.add(person.resource_name)
                _apply_person(uow.session, account_id, owner, person, counts)
            if page.total is not None and token is None:
                counts["total"] = page.total
            state = uow.session.get(ContactImportRow, account_id)
            if state is not None:
                state.counts = dict(counts)
                state.lease_expires_at = utcnow() + LEASE_LIFETIME
            uow.commit()
        next_token = page.next_sync_token
    if token is None:
        with runtime.tenant_uow(tenant) as uow:
            _mark_missing_deleted(uow.session, account_id, seen, counts)
            uow.commit()
    return next_token


def _finish(
    runtime: Runtime,
    tenant: str,
    account_id: int,
    status: str,
    mode: str,
    counts: dict[str, int],
    token: str | None,
    error: str | None,
) -> None:
    with runtime.tenant_uow(tenant) as uow:
        state = uow.session.get(ContactImportRow, account_id)
        account = uow.session.get(MailAccountRow, account_id)
        if state is None or account is None:
            return
        state.status = status
        state.mode = mode
        state.counts = dict(counts)
        state.error = error
        state.finished_at = utcnow()
        state.lease_expires_at = None
        if token:
            state.sync_token = token
        if status == "done":
            notify(
                uow,
                account.user_id,
                "contacts_import_completed",
                f"Google contacts of {account.email} imported",
                f"{counts.get('created', 0)} contacts created, {counts.get('updated', 0)} "
                f"updated, {counts.get('deleted', 0)} marked deleted in Google, "
                f"{counts.get('skipped', 0)} skipped.",
                link="/contacts",
            )
        else:
            notify(
                uow,
                account.user_id,
                "contacts_import_failed",
                f"Importing the Google contacts of {account.email} failed",
                error or "",
                link="/setup/email",
            )
        record_event(
            uow,
            action=f"contacts_import.{'complete' if status == 'done' else 'fail'}",
            actor_user_id=None,
            actor_kind="system",
            target=f"mail_account:{account_id}",
            outcome="success" if status == "done" else "failure",
            details={"mode": mode, **{k: int(v) for k, v in counts.items()}},
        )
        uow.commit()


# -- applying one person ------------------------------------------------------------------------


def _names(person: GooglePerson) -> tuple[str, str]:
    first, last = person.given_name, person.family_name
    if not first and not last and person.display_name:
        first, _, last = person.display_name.partition(" ")
    return first[:100], last[:100]


def _contact_by_email(session: Session, emails: Iterable[str]) -> ContactRow | None:
    return session.scalar(
        select(ContactRow)
        .join(
            RecordEmailRow,
            (RecordEmailRow.record_kind == "contact") & (RecordEmailRow.record_id == ContactRow.id),
        )
        .where(RecordEmailRow.email.in_(list(emails)), ContactRow.deleted_at.is_(None))
        .order_by(ContactRow.id)
        .limit(1)
    )


def _account_for(session: Session, name: str, owner: int, counts: dict[str, int]) -> int:
    found = session.scalar(
        select(AccountRow.id)
        .where(func.lower(AccountRow.name) == name.lower(), AccountRow.deleted_at.is_(None))
        .order_by(AccountRow.id)
        .limit(1)
    )
    if found is not None:
        return int(found)
    account = AccountRow(name=name[:200], owner_user_id=owner)
    session.add(account)
    session.flush()
    mark_fields(session, "account", account.id, ["name"], GOOGLE)
    counts["accounts_created"] += 1
    return account.id


def _emails_of(session: Session, contact_id: int) -> list[str]:
    return list(
        session.scalars(
            select(RecordEmailRow.email)
            .where(RecordEmailRow.record_kind == "contact", RecordEmailRow.record_id == contact_id)
            .order_by(RecordEmailRow.position, RecordEmailRow.id)
        )
    )


def _add_emails(session: Session, contact_id: int, emails: Iterable[str]) -> bool:
    have = _emails_of(session, contact_id)
    added = False
    for email in emails:
        if email in have or len(have) >= MAX_EMAILS_PER_RECORD:
            continue
        session.add(
            RecordEmailRow(
                record_kind="contact", record_id=contact_id, email=email, position=len(have)
            )
        )
        have.append(email)
        added = True
    return added


def _person_values(person: GooglePerson) -> dict[str, Any]:
    """The contact columns a person gives (``account_id`` is resolved only when written)."""
    first, last = _names(person)
    return {"first_name": first, "last_name": last, "title": person.title, "phone": person.phone}


def _apply_person(
    session: Session, account_id: int, owner: int, person: GooglePerson, counts: dict[str, int]
) -> None:
    counts["seen"] += 1
    link = session.scalar(
        select(GoogleContactLinkRow).where(
            GoogleContactLinkRow.mail_account_id == account_id,
            GoogleContactLinkRow.resource_name == person.resource_name,
        )
    )
    now = utcnow()
    if person.deleted:
        if link is not None and link.deleted_at is None:
            link.deleted_at = now
            counts["deleted"] += 1
        else:
            counts["unchanged"] += 1
        return
    if not person.emails or not person.resource_name:
        counts["skipped"] += 1
        return
    contact = session.get(ContactRow, link.contact_id) if link is not None else None
    if contact is not None and contact.deleted_at is not None:
        # Deleted in the CRM: an import does not bring it back.
        if link is not None:
            link.etag, link.deleted_at = person.etag, None
        counts["skipped"] += 1
        return
    if (
        link is not None
        and contact is not None
        and link.etag == person.etag
        and not link.deleted_at
    ):
        counts["unchanged"] += 1
        return
    if contact is None:
        contact = _contact_by_email(session, person.emails)
    if contact is None:
        contact_id = _create_contact(session, owner, person, counts)
        counts["created"] += 1
    else:
        contact_id = contact.id
        if _merge_into(session, contact, person, owner, counts):
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    if link is None:
        link = GoogleContactLinkRow(
            mail_account_id=account_id, resource_name=person.resource_name, contact_id=contact_id
        )
        session.add(link)
    link.contact_id = contact_id
    link.etag = person.etag
    link.deleted_at = None
    session.flush()


def _create_contact(
    session: Session, owner: int, person: GooglePerson, counts: dict[str, int]
) -> int:
    values = _person_values(person)
    if person.organization:
        values["account_id"] = _account_for(session, person.organization, owner, counts)
    row = ContactRow(**values, owner_user_id=owner)
    session.add(row)
    session.flush()
    _add_emails(session, row.id, person.emails)
    marked = [name for name, value in values.items() if value not in (None, "")] + ["emails"]
    mark_fields(session, "contact", row.id, marked, GOOGLE)
    return row.id


def _merge_into(
    session: Session, contact: ContactRow, person: GooglePerson, owner: int, counts: dict[str, int]
) -> bool:
    """Apply the merge rule to an existing contact; True when something changed."""
    sources = field_sources(session, "contact", contact.id)
    values = _person_values(person)
    changed: list[str] = []
    marked: set[str] = set()
    for name in _FIELDS:
        if name == "account_id" and not person.organization:
            continue
        current = getattr(contact, name)
        source = sources.get(name)
        if not (source == GOOGLE or (source is None and current in (None, ""))):
            continue  # the user's (edited, or filled in before the import met the contact)
        if name == "account_id":
            new: Any = _account_for(session, person.organization or "", owner, counts)
        else:
            new = values[name]
        if source is None and new in (None, ""):
            continue  # nothing to fill in
        if new is None and name in ("first_name", "last_name"):
            new = ""
        marked.add(name)
        if current != new:
            setattr(contact, name, new)
            changed.append(name)
    emails_changed = False
    if sources.get("emails") != USER:
        emails_changed = _add_emails(session, contact.id, person.emails)
        if emails_changed:
            marked.add("emails")
    mark_fields(session, "contact", contact.id, marked, GOOGLE)
    if changed or emails_changed:
        contact.updated_at = utcnow()
    return bool(changed or emails_changed)


def _mark_missing_deleted(
    session: Session, account_id: int, seen: set[str], counts: dict[str, int]
) -> None:
    """After a full listing: linked people Google no longer lists were deleted there."""
    now = utcnow()
    links = session.scalars(
        select(GoogleContactLinkRow).where(
            GoogleContactLinkRow.mail_account_id == account_id,
            GoogleContactLinkRow.deleted_at.is_(None),
        )
    )
    for link in links:
        if link.resource_name not in seen:
            link.deleted_at = now
            counts["deleted"] += 1
