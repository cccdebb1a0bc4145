"""Use cases of Leads, Contacts and Accounts: list, search, get, create, update, delete.

Each write is one function that takes the tenant's unit of work and the acting principal and
commits inside. Reads return frozen dataclasses (:class:`Lead`, :class:`Contact`,
:class:`Account`), never ORM rows. Inputs are pydantic models (``*Create`` for a new record,
``*Patch`` for PATCH semantics: only the fields that were set change; ``emails`` replaces the
whole list). Deleting is a soft delete: the record disappears from every read (404 afterwards).

Record email addresses live in ``record_emails`` in canonical form; an address may belong to
several records, but not twice to one.

An edit of a Contact or Account marks the fields it set as the user's
(:func:`inboxcrm.services.field_sources.mark_user_fields`): the Google Contacts import never
overwrites them. A contact imported from Google shows ``source == "google"`` (and
``source_deleted_at`` once every Google contact it came from was deleted there).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, and_, delete, exists, func, inspect, or_, select
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
)
from inboxcrm.services.audit import record_event
from inboxcrm.services.contact_sources import contact_sources
from inboxcrm.services.field_sources import mark_user_fields
from inboxcrm.services.identity import Principal
from inboxcrm.services.pagination import DEFAULT_LIMIT, Page, check_limit, page_by_id
from inboxcrm.services.record_search import search_conditions
from inboxcrm.services.retention import hide_record
from inboxcrm.services.retention import restore_record as retention_restore

logger = logging.getLogger(__name__)

__all__ = [
    "SORT_KEYS",
    "Account",
    "AccountCreate",
    "AccountPatch",
    "Contact",
    "ContactCreate",
    "ContactPatch",
    "Lead",
    "LeadCreate",
    "LeadPatch",
    "SortedPage",
    "check_parent",
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
    "list_sorted",
    "record_alive",
    "require_record",
    "restore_record",
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
    source: str | None = None
    """``google`` for a contact the Google Contacts import created or matched, else None."""
    source_deleted_at: datetime | None = None
    """When Google reported the contact deleted (it stays in the CRM, marked), else None."""

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
_V = TypeVar("_V", Lead, Contact, Account)

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


def _is_live(session: Session, kind: RecordKind, record_id: int) -> bool:
    row_cls = _ROWS[kind]
    found = session.scalar(
        select(row_cls.id).where(row_cls.id == record_id, row_cls.deleted_at.is_(None))
    )
    return found is not None


def require_record(uow: UnitOfWork, kind: str, record_id: int) -> None:
    """Raise NotFound unless record ``kind``/``record_id`` exists and is not deleted."""
    if kind not in _ROWS:
        raise InvalidInput(f"unknown record kind {kind!r}", field="record_kind")
    if not _is_live(uow.session, kind, record_id):
        raise NotFound(f"no {kind} with id {record_id}")


def check_parent(session: Session, kind: RecordKind, record_id: int | None) -> None:
    """InvalidInput on field ``{kind}_id`` unless ``record_id`` is None or a live ``kind``."""
    if record_id is not None and not _is_live(session, kind, record_id):
        raise InvalidInput(f"no {kind} with id {record_id}", field=f"{kind}_id")


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


def _not_null(names: Iterable[str], patch: BaseModel) -> None:
    for name in names:
        if name in patch.model_fields_set and getattr(patch, name) is None:
            raise InvalidInput(f"{name} cannot be null", field=name)


def restore_record(
    uow: UnitOfWork, principal: Principal, kind: str, record_id: int, *, grace_days: int
) -> Lead | Contact | Account:
    """Bring back a deleted record within the grace period (admins); returns it."""
    retention_restore(uow, principal, kind, record_id, grace_days=grace_days)
    return get_record(uow, kind, record_id)


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
# One list/get/create/update/delete for the three kinds, driven by a table per kind


def _keep_values(session: Session, values: dict[str, Any]) -> None:
    """The input models' own rules are all a kind needs."""


@dataclass(frozen=True)
class _KindTable(Generic[_R, _V]):
    """What the shared operations need to know about one record kind."""

    kind: RecordKind
    row_cls: type[_R]
    view_cls: type[_V]
    #: Fields that a patch may not set to null.
    not_null: tuple[str, ...]
    #: Checks field values about to be written and puts them in normal form (in place).
    clean: Callable[[Session, dict[str, Any]], None] = _keep_values
    #: View fields that are not columns of the row, per row id.
    extra_view_fields: Callable[[Session, Sequence[_R]], dict[int, dict[str, Any]]] | None = None


def _columns(row: Any) -> dict[str, Any]:
    """The row's column values by attribute name."""
    return {attr.key: getattr(row, attr.key) for attr in inspect(row).mapper.column_attrs}


def _views(session: Session, table: _KindTable[_R, _V], rows: Sequence[_R]) -> list[_V]:
    """Views of ``rows``: the fields named like the row's columns, the emails and any extras."""
    emails = _emails_by_record(session, table.kind, (r.id for r in rows))
    extra = table.extra_view_fields(session, rows) if table.extra_view_fields else {}
    names = {f.name for f in fields(table.view_cls)}
    return [
        table.view_cls(
            **{name: value for name, value in _columns(r).items() if name in names},
            emails=tuple(emails.get(r.id, ())),
            **extra.get(r.id, {}),
        )
        for r in rows
    ]


def _list(
    uow: UnitOfWork,
    table: _KindTable[_R, _V],
    q: str | None,
    email: str | None,
    cursor: str | None,
    limit: int,
    _where: Sequence[ColumnElement[bool]] = (),
    **equal_to: Any,
) -> Page[_V]:
    """Live records by id; ``q`` searches; ``email``, ``equal_to`` (unless None), ``_where``
    filter."""
    row_cls = table.row_cls
    conditions = search_conditions(uow.session, table.kind, row_cls.id, q)
    conditions += _email_condition(table.kind, row_cls.id, email)
    conditions += list(_where)
    conditions += [getattr(row_cls, k) == v for k, v in equal_to.items() if v is not None]
    query = select(row_cls).where(row_cls.deleted_at.is_(None), *conditions)
    rows, next_cursor = page_by_id(
        uow.session, query, row_cls.id, f"{table.kind}s", cursor=cursor, limit=limit
    )
    return Page(_views(uow.session, table, rows), next_cursor)


def _domain_part(text: str | None) -> list[ColumnElement[bool]]:
    """Accounts whose domain contains ``text`` (case-insensitive; wildcards are literal)."""
    term = (text or "").strip().lower().removeprefix("www.")
    if not term:
        return []
    return [AccountRow.domain.ilike(like_pattern(term), escape="\\")]


#: Orders a list can be sorted by (UI column headers): name, last update, creation.
SORT_KEYS = ("name", "updated", "created")


def _sort_columns(table: _KindTable[Any, Any], key: str) -> list[Any]:
    row_cls: Any = table.row_cls
    if key == "updated":
        return [row_cls.updated_at]
    if key == "created":
        return [row_cls.created_at]
    if table.kind == "account":
        return [func.lower(AccountRow.name)]
    return [func.lower(row_cls.last_name), func.lower(row_cls.first_name)]


@dataclass(frozen=True)
class SortedPage(Generic[_V]):
    """One numbered page of a sorted list (``page`` counts from 1)."""

    items: list[_V]
    page: int
    pages: int
    total: int


def list_sorted(
    uow: UnitOfWork,
    kind: RecordKind,
    *,
    sort: str,
    descending: bool = False,
    page: int = 1,
    per_page: int = DEFAULT_LIMIT,
    q: str | None = None,
    domain_contains: str | None = None,
    **equal_to: Any,
) -> SortedPage[Any]:
    """Live records of ``kind`` sorted by ``sort`` (one of :data:`SORT_KEYS`), one numbered page.

    Filters as the ``list_*`` functions; pages by offset, which a person paging through a list
    sorted by name expects (page 3 of 7), unlike the API's cursors.
    """
    if sort not in SORT_KEYS:
        raise InvalidInput(f"sort by one of {', '.join(SORT_KEYS)}", field="sort")
    check_limit(per_page)
    table: _KindTable[Any, Any] = _TABLES[kind]
    row_cls = table.row_cls
    conditions = search_conditions(uow.session, table.kind, row_cls.id, q)
    conditions += [getattr(row_cls, k) == v for k, v in equal_to.items() if v is not None]
    if kind == "account":
        conditions += _domain_part(domain_contains)
    where = [row_cls.deleted_at.is_(None), *conditions]
    total = int(uow.session.scalar(select(func.count()).select_from(row_cls).where(*where)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    order = [*_sort_columns(table, sort), row_cls.id]
    query = (
        select(row_cls)
        .where(*where)
        .order_by(*(c.desc() if descending else c.asc() for c in order))
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    rows = list(uow.session.scalars(query))
    return SortedPage(_views(uow.session, table, rows), page, pages, total)


def _get(uow: UnitOfWork, table: _KindTable[_R, _V], record_id: int) -> _V:
    row = _live_row(uow.session, table.row_cls, table.kind, record_id)
    return _views(uow.session, table, [row])[0]


def _create(
    uow: UnitOfWork,
    principal: Principal,
    table: _KindTable[_R, _V],
    data: LeadCreate | ContactCreate | AccountCreate,
) -> _V:
    emails = normalize_record_emails(data.emails)
    values = data.model_dump(exclude={"emails"})
    if table.kind != "account":  # an account's name is required by its input model
        _require_name(values["first_name"], values["last_name"], emails, table.kind)
    table.clean(uow.session, values)
    row = table.row_cls(**values, owner_user_id=principal.user_id)
    uow.session.add(row)
    uow.session.flush()
    _replace_emails(uow.session, table.kind, row.id, emails)
    _commit(uow, f"the {table.kind}")
    logger.info("%s %s created by user %s", table.kind, row.id, principal.user_id)
    return _get(uow, table, row.id)


def _update(
    uow: UnitOfWork,
    principal: Principal,
    table: _KindTable[_R, _V],
    record_id: int,
    patch: LeadPatch | ContactPatch | AccountPatch,
) -> _V:
    row = _live_row(uow.session, table.row_cls, table.kind, record_id)
    _not_null(table.not_null, patch)
    values = {name: getattr(patch, name) for name in patch.model_fields_set - {"emails"}}
    table.clean(uow.session, values)
    for name, value in values.items():
        setattr(row, name, value)
    if table.kind in ("contact", "account"):
        mark_user_fields(uow.session, table.kind, row.id, patch.model_fields_set)
    emails = None if patch.emails is None else normalize_record_emails(patch.emails)
    if emails is not None:
        _replace_emails(uow.session, table.kind, row.id, emails)
    if table.kind != "account":
        if emails is None:
            emails = _emails_by_record(uow.session, table.kind, [row.id]).get(row.id, [])
        columns = _columns(row)
        _require_name(columns["first_name"], columns["last_name"], emails, table.kind)
    row.updated_at = utcnow()
    _commit(uow, f"{table.kind} {record_id}")
    logger.info("%s %s updated by user %s", table.kind, record_id, principal.user_id)
    return _get(uow, table, record_id)


def _delete(
    uow: UnitOfWork, principal: Principal, table: _KindTable[_R, _V], record_id: int
) -> None:
    """Soft delete: the record, its timeline and the mail only it showed disappear from every
    read at once; an admin can restore them within the grace period (services.retention)."""
    row = _live_row(uow.session, table.row_cls, table.kind, record_id)
    now = utcnow()
    row.deleted_at = now
    hidden = hide_record(uow.session, table.kind, record_id, now)
    record_event(
        uow,
        action="record.delete",
        actor_user_id=principal.user_id,
        target=f"{table.kind}:{record_id}",
        details={"messages_hidden": hidden},
    )
    _commit(uow, f"{table.kind} {record_id}")
    logger.info(
        "%s %s deleted by user %s in tenant %s",
        table.kind,
        record_id,
        principal.user_id,
        principal.tenant_slug,
    )


def _clean_contact(session: Session, values: dict[str, Any]) -> None:
    if "account_id" in values:
        check_parent(session, "account", values["account_id"])


def _account_names(session: Session, rows: Sequence[ContactRow]) -> dict[int, dict[str, Any]]:
    """Each contact's ``account_name`` (None without an account or when it is deleted)."""
    account_ids = {r.account_id for r in rows if r.account_id is not None}
    names: dict[int, str] = {}
    if account_ids:
        query = select(AccountRow.id, AccountRow.name).where(
            AccountRow.id.in_(account_ids), AccountRow.deleted_at.is_(None)
        )
        names = {row.id: row.name for row in session.execute(query)}
    return {
        r.id: {"account_name": names.get(r.account_id) if r.account_id is not None else None}
        for r in rows
    }


def _contact_extras(session: Session, rows: Sequence[ContactRow]) -> dict[int, dict[str, Any]]:
    """Each contact's account name and where it came from (see :class:`Contact`)."""
    extras = _account_names(session, rows)
    for contact_id, source in contact_sources(session, [r.id for r in rows]).items():
        extras[contact_id].update(source=source.source, source_deleted_at=source.deleted_at)
    return extras


def _clean_account(session: Session, values: dict[str, Any]) -> None:
    if "domain" in values:
        values["domain"] = normalize_domain(values["domain"]) if values["domain"] else None


_LEADS = _KindTable(
    kind="lead",
    row_cls=LeadRow,
    view_cls=Lead,
    not_null=("first_name", "last_name", "status", "emails"),
)
_CONTACTS = _KindTable(
    kind="contact",
    row_cls=ContactRow,
    view_cls=Contact,
    not_null=("first_name", "last_name", "emails"),
    clean=_clean_contact,
    extra_view_fields=_contact_extras,
)
_ACCOUNTS = _KindTable(
    kind="account",
    row_cls=AccountRow,
    view_cls=Account,
    not_null=("name", "emails"),
    clean=_clean_account,
)


_TABLES: dict[RecordKind, _KindTable[Any, Any]] = {
    "lead": _LEADS,
    "contact": _CONTACTS,
    "account": _ACCOUNTS,
}

# ---------------------------------------------------------------------------------------------
# Leads


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
    return _list(uow, _LEADS, q, email, cursor, limit, status=status, owner_user_id=owner_user_id)


def get_lead(uow: UnitOfWork, lead_id: int) -> Lead:
    return _get(uow, _LEADS, lead_id)


def create_lead(uow: UnitOfWork, principal: Principal, data: LeadCreate) -> Lead:
    return _create(uow, principal, _LEADS, data)


def update_lead(uow: UnitOfWork, principal: Principal, lead_id: int, patch: LeadPatch) -> Lead:
    return _update(uow, principal, _LEADS, lead_id, patch)


def delete_lead(uow: UnitOfWork, principal: Principal, lead_id: int) -> None:
    _delete(uow, principal, _LEADS, lead_id)


# ---------------------------------------------------------------------------------------------
# Contacts


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
    return _list(
        uow, _CONTACTS, q, email, cursor, limit, account_id=account_id, owner_user_id=owner_user_id
    )


def get_contact(uow: UnitOfWork, contact_id: int) -> Contact:
    return _get(uow, _CONTACTS, contact_id)


def create_contact(uow: UnitOfWork, principal: Principal, data: ContactCreate) -> Contact:
    return _create(uow, principal, _CONTACTS, data)


def update_contact(
    uow: UnitOfWork, principal: Principal, contact_id: int, patch: ContactPatch
) -> Contact:
    return _update(uow, principal, _CONTACTS, contact_id, patch)


def delete_contact(uow: UnitOfWork, principal: Principal, contact_id: int) -> None:
    _delete(uow, principal, _CONTACTS, contact_id)


# ---------------------------------------------------------------------------------------------
# Accounts


def list_accounts(
    uow: UnitOfWork,
    *,
    q: str | None = None,
    domain: str | None = None,
    domain_contains: str | None = None,
    owner_user_id: int | None = None,
    email: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Account]:
    """Accounts by id; ``q`` searches name, domain, industry and emails.

    ``domain`` is an exact (normalised) domain; ``domain_contains`` any part of one, as typed
    into a filter box ("wayne" finds ``wayne-enterprises.example``).
    """
    domain = None if domain is None else normalize_domain(domain)
    return _list(
        uow,
        _ACCOUNTS,
        q,
        email,
        cursor,
        limit,
        domain=domain,
        owner_user_id=owner_user_id,
        _where=_domain_part(domain_contains),
    )


def get_account(uow: UnitOfWork, account_id: int) -> Account:
    return _get(uow, _ACCOUNTS, account_id)


def create_account(uow: UnitOfWork, principal: Principal, data: AccountCreate) -> Account:
    return _create(uow, principal, _ACCOUNTS, data)


def update_account(
    uow: UnitOfWork, principal: Principal, account_id: int, patch: AccountPatch
) -> Account:
    return _update(uow, principal, _ACCOUNTS, account_id, patch)


def delete_account(uow: UnitOfWork, principal: Principal, account_id: int) -> None:
    _delete(uow, principal, _ACCOUNTS, account_id)
