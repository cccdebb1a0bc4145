"""Use cases of Leads, Contacts and Accounts: list, search, get, create, update, delete.

Each write is one function that takes the tenant's unit of work and the acting principal and
commits inside. Reads return frozen dataclasses (:class:`Lead`, :class:`Contact`,
:class:`Account`), never ORM rows. Inputs are pydantic models (``*Create`` for a new record,
``*Patch`` for PATCH semantics: only the fields that were set change; ``emails`` replaces the
whole list). Deleting is a soft delete: the record disappears from every read (404 afterwards).

Record email addresses live in ``record_emails`` in canonical form; an address may belong to
several records, but not twice to one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, and_, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import AccountRow, ContactRow, LeadRow, RecordEmailRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.addresses import normalize_email
from inboxcrm.domain.errors import Conflict, InvalidInput, NotFound
from inboxcrm.domain.records import (
    MAX_EMAILS_PER_RECORD,
    LeadStatus,
    RecordKind,
    normalize_domain,
    normalize_record_emails,
    search_terms,
)
from inboxcrm.services.identity import Principal
from inboxcrm.services.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_id_cursor,
    encode_cursor,
)

logger = logging.getLogger(__name__)

__all__ = [
    "Account",
    "AccountCreate",
    "AccountPatch",
    "Contact",
    "ContactCreate",
    "ContactPatch",
    "Lead",
    "LeadCreate",
    "LeadPatch",
    "create_account",
    "create_contact",
    "create_lead",
    "delete_account",
    "delete_contact",
    "delete_lead",
    "get_account",
    "get_contact",
    "get_lead",
    "get_record",
    "like_pattern",
    "list_accounts",
    "list_contacts",
    "list_leads",
    "record_alive",
    "require_record",
    "update_account",
    "update_contact",
    "update_lead",
]

# ---------------------------------------------------------------------------------------------
# Inputs

Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
LongName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
EmailText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]
DomainText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=253)]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Emails = Annotated[list[EmailText], Field(max_length=MAX_EMAILS_PER_RECORD)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LeadCreate(_Input):
    first_name: Name = ""
    last_name: Name = ""
    company: Text200 | None = None
    status: LeadStatus = "new"
    source: ShortText | None = None
    phone: Phone | None = None
    emails: Emails = Field(default_factory=list)


class LeadPatch(_Input):
    first_name: Name | None = None
    last_name: Name | None = None
    company: Text200 | None = None
    status: LeadStatus | None = None
    source: ShortText | None = None
    phone: Phone | None = None
    emails: Emails | None = None


class ContactCreate(_Input):
    first_name: Name = ""
    last_name: Name = ""
    title: Text200 | None = None
    phone: Phone | None = None
    account_id: RowId | None = None
    emails: Emails = Field(default_factory=list)


class ContactPatch(_Input):
    first_name: Name | None = None
    last_name: Name | None = None
    title: Text200 | None = None
    phone: Phone | None = None
    account_id: RowId | None = None
    emails: Emails | None = None


class AccountCreate(_Input):
    name: LongName
    domain: DomainText | None = None
    industry: ShortText | None = None
    phone: Phone | None = None
    emails: Emails = Field(default_factory=list)


class AccountPatch(_Input):
    name: LongName | None = None
    domain: DomainText | None = None
    industry: ShortText | None = None
    phone: Phone | None = None
    emails: Emails | None = None


# ---------------------------------------------------------------------------------------------
# Views


@dataclass(frozen=True)
class Lead:
    id: int
    first_name: str
    last_name: str
    company: str | None
    status: str
    source: str | None
    phone: str | None
    emails: tuple[str, ...]
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def display_name(self) -> str:
        return _display_name(self.first_name, self.last_name, self.emails)


@dataclass(frozen=True)
class Contact:
    id: int
    first_name: str
    last_name: str
    title: str | None
    phone: str | None
    account_id: int | None
    account_name: str | None
    emails: tuple[str, ...]
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def display_name(self) -> str:
        return _display_name(self.first_name, self.last_name, self.emails)


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    domain: str | None
    industry: str | None
    phone: str | None
    emails: tuple[str, ...]
    owner_user_id: int | None
    created_at: datetime
    updated_at: datetime

    @property
    def display_name(self) -> str:
        return self.name


def _display_name(first: str, last: str, emails: Sequence[str]) -> str:
    full = f"{first} {last}".strip()
    return full or (emails[0] if emails else "(no name)")


# ---------------------------------------------------------------------------------------------
# Shared helpers

_R = TypeVar("_R", LeadRow, ContactRow, AccountRow)

_ROWS: dict[RecordKind, type[LeadRow] | type[ContactRow] | type[AccountRow]] = {
    "lead": LeadRow,
    "contact": ContactRow,
    "account": AccountRow,
}


def like_pattern(term: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching ``term`` anywhere (with ``\\`` as escape)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _live_row(session: Session, row_cls: type[_R], kind: RecordKind, record_id: int) -> _R:
    row = session.get(row_cls, record_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no {kind} with id {record_id}")
    return row


def require_record(uow: UnitOfWork, kind: str, record_id: int) -> None:
    """Raise NotFound unless record ``kind``/``record_id`` exists and is not deleted."""
    if kind not in _ROWS:
        raise InvalidInput(f"unknown record kind {kind!r}", field="record_kind")
    row_cls = _ROWS[kind]
    found = uow.session.scalar(
        select(row_cls.id).where(row_cls.id == record_id, row_cls.deleted_at.is_(None))
    )
    if found is None:
        raise NotFound(f"no {kind} with id {record_id}")


def record_alive(kind_column: Any, id_column: Any) -> ColumnElement[bool]:
    """A SQL condition: the record that ``kind_column``/``id_column`` point at is not deleted."""
    return or_(
        *(
            and_(
                kind_column == kind,
                exists().where(row_cls.id == id_column, row_cls.deleted_at.is_(None)),
            )
            for kind, row_cls in _ROWS.items()
        )
    )


def _emails_by_record(
    session: Session, kind: RecordKind, ids: Iterable[int]
) -> dict[int, list[str]]:
    id_list = list(ids)
    found: dict[int, list[str]] = defaultdict(list)
    if not id_list:
        return found
    rows = session.execute(
        select(RecordEmailRow.record_id, RecordEmailRow.email)
        .where(RecordEmailRow.record_kind == kind, RecordEmailRow.record_id.in_(id_list))
        .order_by(RecordEmailRow.record_id, RecordEmailRow.position, RecordEmailRow.id)
    )
    for record_id, email in rows:
        found[record_id].append(email)
    return found


def _replace_emails(session: Session, kind: RecordKind, record_id: int, emails: list[str]) -> None:
    before = set(
        session.scalars(
            select(RecordEmailRow.email).where(
                RecordEmailRow.record_kind == kind, RecordEmailRow.record_id == record_id
            )
        )
    )
    # Addresses new to the record: mail already in the mailboxes is back-filled (see _commit).
    session.info.setdefault("backfill_addresses", []).extend(e for e in emails if e not in before)
    session.execute(
        delete(RecordEmailRow).where(
            RecordEmailRow.record_kind == kind, RecordEmailRow.record_id == record_id
        )
    )
    session.add_all(
        RecordEmailRow(record_kind=kind, record_id=record_id, email=email, position=position)
        for position, email in enumerate(emails)
    )


def _search_condition(
    kind: RecordKind, row_id: Any, columns: Sequence[Any], query: str | None
) -> list[ColumnElement[bool]]:
    """Each word of ``query`` must appear in one of ``columns`` or in one of the emails."""
    conditions: list[ColumnElement[bool]] = []
    for term in search_terms(query):
        pattern = like_pattern(term)
        email_hit = exists().where(
            RecordEmailRow.record_kind == kind,
            RecordEmailRow.record_id == row_id,
            RecordEmailRow.email.ilike(pattern, escape="\\"),
        )
        conditions.append(or_(*(c.ilike(pattern, escape="\\") for c in columns), email_hit))
    return conditions


def _email_condition(kind: RecordKind, row_id: Any, email: str | None) -> list[ColumnElement[bool]]:
    if email is None:
        return []
    canonical = normalize_email(email)
    return [
        exists().where(
            RecordEmailRow.record_kind == kind,
            RecordEmailRow.record_id == row_id,
            RecordEmailRow.email == canonical,
        )
    ]


def _page_rows(
    session: Session,
    row_cls: type[_R],
    kind: RecordKind,
    conditions: list[ColumnElement[bool]],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[_R], str | None]:
    check_limit(limit)
    scope = f"{kind}s"
    after = decode_id_cursor(cursor, scope)
    query = select(row_cls).where(row_cls.deleted_at.is_(None), *conditions)
    if after is not None:
        query = query.where(row_cls.id > after)
    rows = list(session.scalars(query.order_by(row_cls.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(scope, [rows[-1].id]) if more else None)


def _commit(uow: UnitOfWork, what: str) -> None:
    if added := sorted(set(uow.session.info.pop("backfill_addresses", ()))):
        uow.enqueue("inboxcrm.mail.backfill_addresses", tenant=uow.tenant, addresses=added)
    try:
        uow.commit()
    except IntegrityError as exc:
        uow.rollback()
        logger.info("conflict while saving %s: %s", what, exc.orig.__class__.__name__)
        raise Conflict(f"{what} conflicts with a concurrent change; try again") from None


def _require_name(first: str, last: str, emails: Sequence[str], kind: RecordKind) -> None:
    if not (first or last or emails):
        raise InvalidInput(
            f"a {kind} needs a first name, a last name or an email address", field="last_name"
        )


def _not_null(fields: Iterable[str], patch: BaseModel) -> None:
    for name in fields:
        if name in patch.model_fields_set and getattr(patch, name) is None:
            raise InvalidInput(f"{name} cannot be null", field=name)


def _apply_scalars(row: Any, patch: BaseModel, skip: Iterable[str] = ("emails",)) -> None:
    skipped = set(skip)
    for name in patch.model_fields_set - skipped:
        setattr(row, name, getattr(patch, name))


def _soft_delete(
    uow: UnitOfWork, row_cls: type[_R], kind: RecordKind, record_id: int, principal: Principal
) -> None:
    row = _live_row(uow.session, row_cls, kind, record_id)
    row.deleted_at = utcnow()
    _commit(uow, f"{kind} {record_id}")
    logger.info(
        "%s %s deleted by user %s in tenant %s",
        kind,
        record_id,
        principal.user_id,
        principal.tenant_slug,
    )


def get_record(uow: UnitOfWork, kind: str, record_id: int) -> Lead | Contact | Account:
    """Any record by kind and id (for pages that show a record of any kind)."""
    if kind == "lead":
        return get_lead(uow, record_id)
    if kind == "contact":
        return get_contact(uow, record_id)
    if kind == "account":
        return get_account(uow, record_id)
    raise InvalidInput(f"unknown record kind {kind!r}", field="record_kind")


# ---------------------------------------------------------------------------------------------
# Leads


def _lead_views(session: Session, rows: Sequence[LeadRow]) -> list[Lead]:
    emails = _emails_by_record(session, "lead", (r.id for r in rows))
    return [
        Lead(
            id=r.id,
            first_name=r.first_name,
            last_name=r.last_name,
            company=r.company,
            status=r.status,
            source=r.source,
            phone=r.phone,
            emails=tuple(emails.get(r.id, ())),
            owner_user_id=r.owner_user_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def list_leads(
    uow: UnitOfWork,
    *,
    q: str | None = None,
    status: str | None = None,
    owner_user_id: int | None = None,
    email: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Lead]:
    """Leads by id; ``q`` searches names, company and emails; the rest are exact filters."""
    conditions = _search_condition(
        "lead", LeadRow.id, (LeadRow.first_name, LeadRow.last_name, LeadRow.company), q
    )
    conditions += _email_condition("lead", LeadRow.id, email)
    if status is not None:
        conditions.append(LeadRow.status == status)
    if owner_user_id is not None:
        conditions.append(LeadRow.owner_user_id == owner_user_id)
    rows, next_cursor = _page_rows(
        uow.session, LeadRow, "lead", conditions, cursor=cursor, limit=limit
    )
    return Page(_lead_views(uow.session, rows), next_cursor)


def get_lead(uow: UnitOfWork, lead_id: int) -> Lead:
    return _lead_views(uow.session, [_live_row(uow.session, LeadRow, "lead", lead_id)])[0]


def create_lead(uow: UnitOfWork, principal: Principal, data: LeadCreate) -> Lead:
    emails = normalize_record_emails(data.emails)
    _require_name(data.first_name, data.last_name, emails, "lead")
    row = LeadRow(**data.model_dump(exclude={"emails"}), owner_user_id=principal.user_id)
    uow.session.add(row)
    uow.session.flush()
    _replace_emails(uow.session, "lead", row.id, emails)
    _commit(uow, "the lead")
    logger.info("lead %s created by user %s", row.id, principal.user_id)
    return get_lead(uow, row.id)


def update_lead(uow: UnitOfWork, principal: Principal, lead_id: int, patch: LeadPatch) -> Lead:
    row = _live_row(uow.session, LeadRow, "lead", lead_id)
    _not_null(("first_name", "last_name", "status", "emails"), patch)
    _apply_scalars(row, patch)
    if patch.emails is not None:
        emails = normalize_record_emails(patch.emails)
        _replace_emails(uow.session, "lead", row.id, emails)
    else:
        emails = _emails_by_record(uow.session, "lead", [row.id]).get(row.id, [])
    _require_name(row.first_name, row.last_name, emails, "lead")
    row.updated_at = utcnow()
    _commit(uow, f"lead {lead_id}")
    logger.info("lead %s updated by user %s", lead_id, principal.user_id)
    return get_lead(uow, lead_id)


def delete_lead(uow: UnitOfWork, principal: Principal, lead_id: int) -> None:
    _soft_delete(uow, LeadRow, "lead", lead_id, principal)


# ---------------------------------------------------------------------------------------------
# Contacts


def _contact_views(session: Session, rows: Sequence[ContactRow]) -> list[Contact]:
    emails = _emails_by_record(session, "contact", (r.id for r in rows))
    account_ids = {r.account_id for r in rows if r.account_id is not None}
    names: dict[int, str] = {}
    if account_ids:
        query = select(AccountRow.id, AccountRow.name).where(
            AccountRow.id.in_(account_ids), AccountRow.deleted_at.is_(None)
        )
        names = {row.id: row.name for row in session.execute(query)}
    return [
        Contact(
            id=r.id,
            first_name=r.first_name,
            last_name=r.last_name,
            title=r.title,
            phone=r.phone,
            account_id=r.account_id,
            account_name=names.get(r.account_id) if r.account_id is not None else None,
            emails=tuple(emails.get(r.id, ())),
            owner_user_id=r.owner_user_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def _check_account(session: Session, account_id: int | None) -> None:
    if account_id is None:
        return
    found = session.scalar(
        select(AccountRow.id).where(AccountRow.id == account_id, AccountRow.deleted_at.is_(None))
    )
    if found is None:
        raise InvalidInput(f"no account with id {account_id}", field="account_id")


def list_contacts(
    uow: UnitOfWork,
    *,
    q: str | None = None,
    account_id: int | None = None,
    owner_user_id: int | None = None,
    email: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Contact]:
    """Contacts by id; ``q`` searches names, title, the account's name (company) and emails."""
    company = (
        select(AccountRow.name)
        .where(AccountRow.id == ContactRow.account_id)
        .correlate(ContactRow)
        .scalar_subquery()
    )
    conditions = _search_condition(
        "contact",
        ContactRow.id,
        (ContactRow.first_name, ContactRow.last_name, ContactRow.title, company),
        q,
    )
    conditions += _email_condition("contact", ContactRow.id, email)
    if account_id is not None:
        conditions.append(ContactRow.account_id == account_id)
    if owner_user_id is not None:
        conditions.append(ContactRow.owner_user_id == owner_user_id)
    rows, next_cursor = _page_rows(
        uow.session, ContactRow, "contact", conditions, cursor=cursor, limit=limit
    )
    return Page(_contact_views(uow.session, rows), next_cursor)


def get_contact(uow: UnitOfWork, contact_id: int) -> Contact:
    row = _live_row(uow.session, ContactRow, "contact", contact_id)
    return _contact_views(uow.session, [row])[0]


def create_contact(uow: UnitOfWork, principal: Principal, data: ContactCreate) -> Contact:
    emails = normalize_record_emails(data.emails)
    _require_name(data.first_name, data.last_name, emails, "contact")
    _check_account(uow.session, data.account_id)
    row = ContactRow(**data.model_dump(exclude={"emails"}), owner_user_id=principal.user_id)
    uow.session.add(row)
    uow.session.flush()
    _replace_emails(uow.session, "contact", row.id, emails)
    _commit(uow, "the contact")
    logger.info("contact %s created by user %s", row.id, principal.user_id)
    return get_contact(uow, row.id)


def update_contact(
    uow: UnitOfWork, principal: Principal, contact_id: int, patch: ContactPatch
) -> Contact:
    row = _live_row(uow.session, ContactRow, "contact", contact_id)
    _not_null(("first_name", "last_name", "emails"), patch)
    if "account_id" in patch.model_fields_set:
        _check_account(uow.session, patch.account_id)
    _apply_scalars(row, patch)
    if patch.emails is not None:
        emails = normalize_record_emails(patch.emails)
        _replace_emails(uow.session, "contact", row.id, emails)
    else:
        emails = _emails_by_record(uow.session, "contact", [row.id]).get(row.id, [])
    _require_name(row.first_name, row.last_name, emails, "contact")
    row.updated_at = utcnow()
    _commit(uow, f"contact {contact_id}")
    logger.info("contact %s updated by user %s", contact_id, principal.user_id)
    return get_contact(uow, contact_id)


def delete_contact(uow: UnitOfWork, principal: Principal, contact_id: int) -> None:
    _soft_delete(uow, ContactRow, "contact", contact_id, principal)


# ---------------------------------------------------------------------------------------------
# Accounts


def _account_views(session: Session, rows: Sequence[AccountRow]) -> list[Account]:
    emails = _emails_by_record(session, "account", (r.id for r in rows))
    return [
        Account(
            id=r.id,
            name=r.name,
            domain=r.domain,
            industry=r.industry,
            phone=r.phone,
            emails=tuple(emails.get(r.id, ())),
            owner_user_id=r.owner_user_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def list_accounts(
    uow: UnitOfWork,
    *,
    q: str | None = None,
    domain: str | None = None,
    owner_user_id: int | None = None,
    email: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Account]:
    """Accounts by id; ``q`` searches name, domain, industry and emails."""
    conditions = _search_condition(
        "account",
        AccountRow.id,
        (AccountRow.name, AccountRow.domain, AccountRow.industry),
        q,
    )
    conditions += _email_condition("account", AccountRow.id, email)
    if domain is not None:
        conditions.append(AccountRow.domain == normalize_domain(domain))
    if owner_user_id is not None:
        conditions.append(AccountRow.owner_user_id == owner_user_id)
    rows, next_cursor = _page_rows(
        uow.session, AccountRow, "account", conditions, cursor=cursor, limit=limit
    )
    return Page(_account_views(uow.session, rows), next_cursor)


def get_account(uow: UnitOfWork, account_id: int) -> Account:
    row = _live_row(uow.session, AccountRow, "account", account_id)
    return _account_views(uow.session, [row])[0]


def create_account(uow: UnitOfWork, principal: Principal, data: AccountCreate) -> Account:
    emails = normalize_record_emails(data.emails)
    values = data.model_dump(exclude={"emails"})
    values["domain"] = normalize_domain(data.domain) if data.domain else None
    row = AccountRow(**values, owner_user_id=principal.user_id)
    uow.session.add(row)
    uow.session.flush()
    _replace_emails(uow.session, "account", row.id, emails)
    _commit(uow, "the account")
    logger.info("account %s created by user %s", row.id, principal.user_id)
    return get_account(uow, row.id)


def update_account(
    uow: UnitOfWork, principal: Principal, account_id: int, patch: AccountPatch
) -> Account:
    row = _live_row(uow.session, AccountRow, "account", account_id)
    _not_null(("name", "emails"), patch)
    _apply_scalars(row, patch, skip=("emails", "domain"))
    if "domain" in patch.model_fields_set:
        row.domain = normalize_domain(patch.domain) if patch.domain else None
    if patch.emails is not None:
        _replace_emails(uow.session, "account", row.id, normalize_record_emails(patch.emails))
    row.updated_at = utcnow()
    _commit(uow, f"account {account_id}")
    logger.info("account %s updated by user %s", account_id, principal.user_id)
    return get_account(uow, account_id)


def delete_account(uow: UnitOfWork, principal: Principal, account_id: int) -> None:
    _soft_delete(uow, AccountRow, "account", account_id, principal)
