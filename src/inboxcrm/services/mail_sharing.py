"""Mail sharing inside a tenant: what each member may read of colleagues' synced mail.

The rules are in :mod:`inboxcrm.domain.sharing`; this module stores the choices and applies them
whenever someone reads mail.

Stored (NULL everywhere means "the default"):

- ``tenant_settings.max_sharing`` / ``max_sharing_detail``: the tenant maximum (admins);
  default ``tenant`` / ``everything``.
- ``mail_accounts.sharing`` / ``sharing_detail``: the owner's choice for a mailbox;
  default ``tenant`` / ``everything`` (colleagues keep seeing what they saw before sharing
  levels existed, until the owner or an admin restricts it).
- ``email_threads.sharing`` / ``sharing_detail``: the owner's override for one thread.

Reading: :func:`mail_viewer` finds the reader's team (control plane), :func:`read_scope` loads the
tenant maximum and every mailbox's choice (a tenant has few mailboxes) and gives a
:class:`ReadScope`: an SQL condition that keeps mail the reader may not see out of a query (so
pages stay full) and the detail the reader gets of each visible message. Nothing is cached across
requests, so a changed setting applies to the next read. Support staff under a grant are readers
of no mailbox: they read only what an owner flagged for support, through
:mod:`inboxcrm.services.support_reads`.

One email held by several colleagues' mailboxes is one timeline entry with a copy per mailbox;
each copy is judged by its own mailbox's (and thread's) sharing. A reader sees the entry when
any copy is visible to them, at the most permissive detail among the copies they may see (see
:mod:`inboxcrm.services.timeline`, which also prefers the reader's own copy).

Write paths (each one function, one unit of work): :func:`set_tenant_maximum` (admins),
:func:`set_account_sharing` and :func:`set_thread_sharing` (the mailbox owner; 422 above the
tenant maximum).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from inboxcrm.adapters.db.control_tables import MembershipRow
from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
    TenantSettingsRow,
)
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import NotFound, PermissionDenied
from inboxcrm.domain.roles import require_admin, require_write
from inboxcrm.domain.sharing import (
    DEFAULT_ACCOUNT_LEVEL,
    DEFAULT_MAXIMUM,
    Detail,
    Relation,
    SharingLevel,
    Visibility,
    check_within,
    clamp,
    detail_seen,
    effective_level,
    open_visibilities,
    parse_detail,
    parse_visibility,
)
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal

__all__ = [
    "AccountSharing",
    "MailViewer",
    "ReadScope",
    "ThreadSharing",
    "account_sharing",
    "mail_viewer",
    "read_scope",
    "set_account_sharing",
    "set_tenant_maximum",
    "set_thread_sharing",
    "tenant_maximum",
    "thread_sharing",
]

logger = logging.getLogger(__name__)

EMAIL_KIND = "email"

#: Sentinel for "leave this value as it is" in the setters (None means "back to the default").
KEEP: Any = object()


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailViewer:
    """A reader of mail: their user id and the other members of their team in this tenant."""

    user_id: int
    teammate_ids: frozenset[int] = frozenset()
    staff: bool = False
    """Support staff: they see no mail here, only what an owner flagged for support
    (services.support_reads)."""


def mail_viewer(runtime: Runtime, principal: Principal) -> MailViewer:
    """The principal as a reader of mail; teammates share its non-empty ``team`` (control plane).

    Support staff (``via == "staff"``) are readers of no mailbox."""
    if principal.via == "staff":
        return MailViewer(principal.user_id, staff=True)
    me = aliased(MembershipRow)
    mate = aliased(MembershipRow)
    query = (
        select(mate.user_id)
        .join(me, and_(me.tenant_id == mate.tenant_id, me.team == mate.team))
        .where(
            me.tenant_id == principal.tenant_id,
            me.user_id == principal.user_id,
            me.team.is_not(None),
            me.team != "",
            mate.user_id != principal.user_id,
        )
    )
    with runtime.control_uow() as uow:
        mates = frozenset(uow.session.scalars(query))
    return MailViewer(principal.user_id, mates)


def _visibility(value: str | None) -> Visibility | None:
    try:
        return Visibility(value) if value else None
    except ValueError:
        return None


def _detail(value: str | None) -> Detail | None:
    try:
        return Detail(value) if value else None
    except ValueError:
        return None


def _account_level(visibility: str | None, detail: str | None) -> SharingLevel:
    return SharingLevel(
        _visibility(visibility) or DEFAULT_ACCOUNT_LEVEL.visibility,
        _detail(detail) or DEFAULT_ACCOUNT_LEVEL.detail,
    )


def tenant_maximum(uow: UnitOfWork) -> SharingLevel:
    """The most a mailbox owner of this tenant may share."""
    row = uow.session.execute(
        select(TenantSettingsRow.max_sharing, TenantSettingsRow.max_sharing_detail).where(
            TenantSettingsRow.id == 1
        )
    ).first()
    if row is None:
        return DEFAULT_MAXIMUM
    return SharingLevel(
        _visibility(row.max_sharing) or DEFAULT_MAXIMUM.visibility,
        _detail(row.max_sharing_detail) or DEFAULT_MAXIMUM.detail,
    )


@dataclass(frozen=True)
class _Mailbox:
    relation: Relation
    level: SharingLevel  # as the owner chose it (not yet clamped)


@dataclass(frozen=True)
class ReadScope:
    """What one reader may see of the tenant's mail, as of now (build one per request)."""

    viewer: MailViewer
    maximum: SharingLevel
    mailboxes: Mapping[int, _Mailbox]

    def relation(self, account_id: int) -> Relation:
        box = self.mailboxes.get(account_id)
        return box.relation if box is not None else Relation.OTHER

    def is_owner(self, account_id: int) -> bool:
        return self.relation(account_id) is Relation.OWNER

    def visible(
        self,
        account_id: ColumnElement[int] | InstrumentedAttribute[int],
        thread_visibility: ColumnElement[str | None] | InstrumentedAttribute[str | None],
    ) -> ColumnElement[bool]:
        """An SQL condition: a message of mailbox ``account_id`` whose thread override is
        ``thread_visibility`` may be seen by this reader (at some detail)."""
        clauses: list[ColumnElement[bool]] = []
        own = sorted(i for i, m in self.mailboxes.items() if m.relation is Relation.OWNER)
        if own:
            clauses.append(account_id.in_(own))
        for relation in (Relation.TEAM, Relation.OTHER):
            allowed = open_visibilities(relation, self.maximum)
            if not allowed:
                continue
            values = sorted(v.value for v in allowed)
            boxes = {i: m for i, m in self.mailboxes.items() if m.relation is relation}
            shared = sorted(i for i, m in boxes.items() if m.level.visibility in allowed)
            unshared = sorted(i for i, m in boxes.items() if m.level.visibility not in allowed)
            if shared:  # shared unless the thread is overridden to something narrower
                clauses.append(
                    and_(
                        account_id.in_(shared),
                        or_(thread_visibility.is_(None), thread_visibility.in_(values)),
                    )
                )
            if unshared:  # hidden unless the thread is overridden to something wider
                clauses.append(and_(account_id.in_(unshared), thread_visibility.in_(values)))
        return or_(*clauses) if clauses else false()

    def entry_visible(self) -> ColumnElement[bool]:
        """An SQL condition on a timeline entry (a query on ``activities``): not an email, or
        an email of which some mailbox still holds a copy this reader may see.

        An email entry points at the message's tenant-wide identity; each mailbox holding the
        message has its own copy under its owner's sharing, and one visible copy is enough.
        """
        copy_visible = (
            select(EmailMessageRow.id)
            .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
            .where(
                EmailMessageRow.message_key_id == ActivityRow.ref_id,
                EmailMessageRow.deleted_at.is_(None),
                self.visible(EmailMessageRow.mail_account_id, EmailThreadRow.sharing),
            )
            .exists()
        )
        return or_(ActivityRow.kind != EMAIL_KIND, copy_visible)

    def detail_for(
        self, account_id: int, thread_visibility: str | None, thread_detail: str | None
    ) -> Detail | None:
        """What this reader sees of a message (None: it is hidden from them)."""
        box = self.mailboxes.get(account_id)
        if box is None:
            return None
        level = effective_level(
            box.level, _visibility(thread_visibility), _detail(thread_detail), self.maximum
        )
        return detail_seen(box.relation, level)


def read_scope(uow: UnitOfWork, viewer: MailViewer) -> ReadScope:
    """Load the tenant maximum and every mailbox's sharing for ``viewer`` (none for staff)."""
    if viewer.staff:
        return ReadScope(viewer, tenant_maximum(uow), {})
    rows = uow.session.execute(
        select(
            MailAccountRow.id,
            MailAccountRow.user_id,
            MailAccountRow.sharing,
            MailAccountRow.sharing_detail,
        )
    )
    mailboxes: dict[int, _Mailbox] = {}
    for account_id, owner_id, visibility, detail in rows:
        if owner_id == viewer.user_id:
            relation = Relation.OWNER
        elif owner_id in viewer.teammate_ids:
            relation = Relation.TEAM
        else:
            relation = Relation.OTHER
        mailboxes[account_id] = _Mailbox(relation, _account_level(visibility, detail))
    return ReadScope(viewer, tenant_maximum(uow), mailboxes)


# -- the owner's and the admin's choices --------------------------------------------------------


@dataclass(frozen=True)
class AccountSharing:
    """A mailbox's sharing: as chosen (None = default), as in force, and the tenant maximum."""

    account_id: int
    visibility: Visibility | None
    detail: Detail | None
    effective: SharingLevel
    maximum: SharingLevel


@dataclass(frozen=True)
class ThreadSharing:
    """A thread's override (None = as its mailbox), the level in force, and the tenant maximum."""

    thread_id: int
    account_id: int
    visibility: Visibility | None
    detail: Detail | None
    effective: SharingLevel
    maximum: SharingLevel


def _parse_choice(
    visibility: str | None, detail: str | None
) -> tuple[Visibility | None, Detail | None]:
    """Parsed values of a setter's arguments (None for "default" and for :data:`KEEP`)."""
    new_visibility = (
        None if visibility is None or visibility is KEEP else parse_visibility(visibility)
    )
    new_detail = None if detail is None or detail is KEEP else parse_detail(detail)
    return new_visibility, new_detail


def _owned_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccountRow:
    row = uow.session.get(MailAccountRow, account_id)
    if row is None:
        raise NotFound(f"no mail account {account_id}")
    if row.user_id != principal.user_id:
        raise PermissionDenied("only the mailbox's owner chooses how its mail is shared")
    return row


def _account_view(row: MailAccountRow, maximum: SharingLevel) -> AccountSharing:
    return AccountSharing(
        account_id=row.id,
        visibility=_visibility(row.sharing),
        detail=_detail(row.sharing_detail),
        effective=clamp(_account_level(row.sharing, row.sharing_detail), maximum),
        maximum=maximum,
    )


def account_sharing(uow: UnitOfWork, principal: Principal, account_id: int) -> AccountSharing:
    """A mailbox's sharing (its owner only)."""
    return _account_view(_owned_account(uow, principal, account_id), tenant_maximum(uow))


def set_account_sharing(
    uow: UnitOfWork,
    principal: Principal,
    account_id: int,
    *,
    visibility: str | None = KEEP,
    detail: str | None = KEEP,
) -> AccountSharing:
    """The owner chooses who sees the mailbox's mail and how much; None restores the default.

    InvalidInput (422) for a value above the tenant maximum.
    """
    require_write(principal.role)
    row = _owned_account(uow, principal, account_id)
    maximum = tenant_maximum(uow)
    new_visibility, new_detail = _parse_choice(visibility, detail)
    check_within(new_visibility, new_detail, maximum)
    if visibility is not KEEP:
        row.sharing = new_visibility.value if new_visibility else None
    if detail is not KEEP:
        row.sharing_detail = new_detail.value if new_detail else None
    record_event(
        uow,
        action="sharing.account",
        actor_user_id=principal.user_id,
        target=f"mail_account:{row.id}",
        details={"visibility": row.sharing, "detail": row.sharing_detail},
    )
    uow.commit()
    logger.info(
        "sharing of mail account %s in tenant %s set to %s/%s",
        row.id, uow.tenant, row.sharing, row.sharing_detail,
    )  # fmt: skip
    return _account_view(row, maximum)


def _owned_thread(
    uow: UnitOfWork, principal: Principal, thread_id: int
) -> tuple[EmailThreadRow, MailAccountRow]:
    found = uow.session.execute(
        select(EmailThreadRow, MailAccountRow)
        .join(MailAccountRow, MailAccountRow.id == EmailThreadRow.mail_account_id)
        .where(EmailThreadRow.id == thread_id)
    ).first()
    if found is None:
        raise NotFound(f"no email thread {thread_id}")
    thread, account = found
    if account.user_id != principal.user_id:
        raise PermissionDenied("only the mailbox's owner chooses how a thread is shared")
    return thread, account


def _thread_view(
    thread: EmailThreadRow, account: MailAccountRow, maximum: SharingLevel
) -> ThreadSharing:
    visibility, detail = _visibility(thread.sharing), _detail(thread.sharing_detail)
    level = _account_level(account.sharing, account.sharing_detail)
    return ThreadSharing(
        thread_id=thread.id,
        account_id=account.id,
        visibility=visibility,
        detail=detail,
        effective=effective_level(level, visibility, detail, maximum),
        maximum=maximum,
    )


def thread_sharing(uow: UnitOfWork, principal: Principal, thread_id: int) -> ThreadSharing:
    """A thread's sharing override (the mailbox owner only)."""
    thread, account = _owned_thread(uow, principal, thread_id)
    return _thread_view(thread, account, tenant_maximum(uow))


def set_thread_sharing(
    uow: UnitOfWork,
    principal: Principal,
    thread_id: int,
    *,
    visibility: str | None = KEEP,
    detail: str | None = KEEP,
) -> ThreadSharing:
    """The owner overrides one thread's sharing; None goes back to the mailbox's level."""
    require_write(principal.role)
    thread, account = _owned_thread(uow, principal, thread_id)
    maximum = tenant_maximum(uow)
    new_visibility, new_detail = _parse_choice(visibility, detail)
    check_within(new_visibility, new_detail, maximum)
    if visibility is not KEEP:
        thread.sharing = new_visibility.value if new_visibility else None
    if detail is not KEEP:
        thread.sharing_detail = new_detail.value if new_detail else None
    record_event(
        uow,
        action="sharing.thread",
        actor_user_id=principal.user_id,
        target=f"email_thread:{thread.id}",
        details={"visibility": thread.sharing, "detail": thread.sharing_detail},
    )
    uow.commit()
    logger.info(
        "sharing of email thread %s in tenant %s set to %s/%s",
        thread.id, uow.tenant, thread.sharing, thread.sharing_detail,
    )  # fmt: skip
    return _thread_view(thread, account, maximum)


def set_tenant_maximum(
    uow: UnitOfWork,
    principal: Principal,
    *,
    visibility: str | None = KEEP,
    detail: str | None = KEEP,
) -> SharingLevel:
    """Admins set the most any mailbox owner may share; None restores the default.

    Owners' stored choices are kept: a lower maximum clamps them when mail is read, and raising
    it again brings them back.
    """
    require_admin(principal.role)
    new_visibility, new_detail = _parse_choice(visibility, detail)
    row = uow.session.get(TenantSettingsRow, 1)
    if row is None:
        row = TenantSettingsRow(id=1, mail_storage_policy="full", contact_autocreate="off")
        uow.session.add(row)
    if visibility is not KEEP:
        row.max_sharing = new_visibility.value if new_visibility else None
    if detail is not KEEP:
        row.max_sharing_detail = new_detail.value if new_detail else None
    record_event(
        uow,
        action="sharing.tenant_maximum",
        actor_user_id=principal.user_id,
        target="tenant_settings",
        details={"visibility": row.max_sharing, "detail": row.max_sharing_detail},
    )
    uow.commit()
    logger.info(
        "mail sharing maximum of tenant %s set to %s/%s",
        uow.tenant, row.max_sharing, row.max_sharing_detail,
    )  # fmt: skip
    return tenant_maximum(uow)
