"""Support staff reading the mail a mailbox owner flagged for support, and nothing else of it.

Two consents meet here:

1. A tenant admin's support grant lets staff into the tenant at all (read-only, time-limited;
   :mod:`inboxcrm.services.support_access`). Under a grant staff see records, but no mail: the
   members' read paths give a staff reader no mailbox (:func:`inboxcrm.services.mail_sharing.
   mail_viewer`), so timelines, bodies and message contents show them no email.
2. The mailbox owner's support flag names one message or one thread for a limited time
   (:mod:`inboxcrm.services.support_flags`). Only through this module, and only while a flag
   lives, do staff read that message (its headers and bodies) or that thread.

The reads:

- :func:`list_flagged`: the live flags (target, reason, expiry, the message ids they open);
- :func:`read_flagged_message`: one message, when a live flag names it or its thread;
- :func:`read_flagged_thread`: the messages of a thread, when a live flag names the whole thread.

Each is for staff only (anyone else: PermissionDenied). Every message or thread read is audited
in the tenant's log as ``support_flag.read`` (actor kind ``staff``; target, flag id and the
mailbox in the details); every refused read of a message or thread is audited as
``support_flag.read`` with the outcome ``denied``, and answers 403 whether the message exists or
not, so staff learn nothing of unflagged mail. Under the ``live`` storage policy the content is
fetched from Gmail as for a member (:func:`inboxcrm.services.live_mail.fetch_live_content`),
never stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow, MailAccountRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import PermissionDenied
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.services.live_mail import NoLongerViewable, fetch_live_content
from inboxcrm.services.support_flags import (
    live_flag_of_message,
    live_flag_of_thread,
    live_flags,
)
from inboxcrm.sync.ingest import load_tenant_mail_settings

logger = logging.getLogger(__name__)

__all__ = [
    "FlaggedItem",
    "FlaggedMessage",
    "NotFlagged",
    "list_flagged",
    "read_flagged_message",
    "read_flagged_thread",
]


class NotFlagged(PermissionDenied):
    """Staff asked for mail that no live support flag names."""

    code = "not_flagged_for_support"


@dataclass(frozen=True)
class FlaggedItem:
    """One live flag as staff see it."""

    flag_id: int
    target: str
    mail_account_id: int
    reason: str
    expires_at: datetime
    message_ids: list[int]


@dataclass(frozen=True)
class FlaggedMessage:
    id: int
    thread_id: int
    provider_message_id: str
    subject: str
    from_address: str | None
    from_name: str | None
    to: list[str]
    cc: list[str]
    sent_at: datetime
    direction: str
    body_text: str | None
    body_html: str | None  # as stored; the web layer sanitises it
    source: str  # "stored" or "live"


def _require_staff(principal: Principal) -> None:
    if principal.via != "staff":
        raise PermissionDenied("only support staff read mail flagged for support")


def _refuse(uow: UnitOfWork, principal: Principal, target: str, ip: str | None) -> NotFlagged:
    record_event(
        uow,
        action="support_flag.read",
        actor_user_id=principal.user_id,
        actor_kind="staff",
        target=target,
        outcome="denied",
        ip=ip,
    )
    uow.commit()
    logger.info("staff user %s refused %s: no live support flag", principal.user_id, target)
    return NotFlagged("the mailbox owner has not flagged this for support, or the flag ended")


def _audit_read(
    uow: UnitOfWork,
    principal: Principal,
    target: str,
    *,
    flag_id: int,
    account_id: int,
    messages: int,
    ip: str | None,
) -> None:
    record_event(
        uow,
        action="support_flag.read",
        actor_user_id=principal.user_id,
        actor_kind="staff",
        target=target,
        ip=ip,
        details={"flag_id": flag_id, "mail_account_id": account_id, "messages": messages},
    )
    uow.commit()


@dataclass(frozen=True)
class _Pending:
    """A message whose content must still be fetched from Gmail (``live`` policy)."""

    account_id: int
    message_id: int
    provider_id: str


def _view(
    uow: UnitOfWork, row: EmailMessageRow, policy: str
) -> tuple[FlaggedMessage, _Pending | None]:
    stored = row.body_text is not None or row.body_html is not None
    view = FlaggedMessage(
        id=row.id,
        thread_id=row.thread_id,
        provider_message_id=row.provider_message_id,
        subject=row.subject,
        from_address=row.from_address,
        from_name=row.from_name,
        to=list(row.to_addresses),
        cc=list(row.cc_addresses),
        sent_at=row.sent_at,
        direction=row.direction,
        body_text=row.body_text,
        body_html=row.body_html,
        source="stored",
    )
    if policy != "live" or stored:
        return view, None
    account = uow.session.get(MailAccountRow, row.mail_account_id)
    if account is None or account.status == "disconnected":
        raise NoLongerViewable(
            "this message's mailbox was disconnected, so its content is no longer available"
        )
    return view, _Pending(account.id, row.id, row.provider_message_id)


def _completed(
    runtime: Runtime, tenant: str, view: FlaggedMessage, pending: _Pending | None
) -> FlaggedMessage:
    if pending is None:
        return view
    content = fetch_live_content(
        runtime, tenant, pending.account_id, pending.message_id, pending.provider_id
    )
    return replace(
        view,
        subject=content.subject or view.subject,
        body_text=content.body_text,
        body_html=content.body_html,
        source="live",
    )


def list_flagged(runtime: Runtime, principal: Principal) -> list[FlaggedItem]:
    """The tenant's live support flags, newest first (staff only)."""
    _require_staff(principal)
    items = []
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        for flag in live_flags(uow.session):
            if flag.target_kind == "email_thread":
                ids = list(
                    uow.session.scalars(
                        select(EmailMessageRow.id)
                        .where(
                            EmailMessageRow.thread_id == flag.target_id,
                            EmailMessageRow.mail_account_id == flag.mail_account_id,
                            EmailMessageRow.deleted_at.is_(None),
                        )
                        .order_by(EmailMessageRow.sent_at, EmailMessageRow.id)
                    )
                )
            else:
                ids = [flag.target_id]
            items.append(
                FlaggedItem(
                    flag_id=flag.id,
                    target=f"{flag.target_kind}:{flag.target_id}",
                    mail_account_id=flag.mail_account_id,
                    reason=flag.reason,
                    expires_at=flag.expires_at,
                    message_ids=ids,
                )
            )
    return items


def read_flagged_message(
    runtime: Runtime, principal: Principal, message_id: int, *, ip: str | None = None
) -> FlaggedMessage:
    """One message a live flag names (itself or its thread); audited; 403 otherwise."""
    _require_staff(principal)
    target = f"email_message:{message_id}"
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        row = uow.session.get(EmailMessageRow, message_id)
        flag_id = live_flag_of_message(uow.session, message_id) if row is not None else None
        if row is None or row.deleted_at is not None or flag_id is None:
            raise _refuse(uow, principal, target, ip)
        policy, _, _ = load_tenant_mail_settings(uow.session)
        view, pending = _view(uow, row, policy)
        _audit_read(
            uow,
            principal,
            target,
            flag_id=flag_id,
            account_id=row.mail_account_id,
            messages=1,
            ip=ip,
        )
    return _completed(runtime, principal.tenant_slug, view, pending)


def read_flagged_thread(
    runtime: Runtime, principal: Principal, thread_id: int, *, ip: str | None = None
) -> list[FlaggedMessage]:
    """Every message of a thread a live flag names as a whole, oldest first; audited."""
    _require_staff(principal)
    target = f"email_thread:{thread_id}"
    with runtime.tenant_uow(principal.tenant_slug) as uow:
        flag_id = live_flag_of_thread(uow.session, thread_id)
        if flag_id is None:
            raise _refuse(uow, principal, target, ip)
        rows = list(
            uow.session.scalars(
                select(EmailMessageRow)
                .where(EmailMessageRow.thread_id == thread_id, EmailMessageRow.deleted_at.is_(None))
                .order_by(EmailMessageRow.sent_at, EmailMessageRow.id)
            )
        )
        policy, _, _ = load_tenant_mail_settings(uow.session)
        views = [_view(uow, row, policy) for row in rows]
        thread = uow.session.get(EmailThreadRow, thread_id)
        _audit_read(
            uow,
            principal,
            target,
            flag_id=flag_id,
            account_id=thread.mail_account_id if thread is not None else 0,
            messages=len(rows),
            ip=ip,
        )
    return [_completed(runtime, principal.tenant_slug, view, pending) for view, pending in views]
