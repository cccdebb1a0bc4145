"""What the mailbox owner may do in Gmail to one synced message or thread: archive, mark read,
mark unread.

These are the only changes inboxcrm ever makes to a mailbox's messages besides its own
"Synced to inboxcrm" label, and only on the owner's explicit action:

- **archive** removes the ``INBOX`` label; **mark read** removes ``UNREAD``; **mark unread**
  adds ``UNREAD``. Nothing else of the message or the mailbox changes.
- A message goes through ``messages.modify`` (5 quota units), a thread through
  ``threads.modify`` (10 units, every message of the thread).
- Only the owner of the mailbox that holds the copy may act on it (not an admin, not a
  colleague holding a copy of the same email in their own mailbox: they act on their copy).

One call runs in three steps, so that no database transaction stays open during the request to
Gmail: (1) a unit of work checks the caller and reads the provider ids; (2) the Gmail request;
(3) a unit of work copies the label change onto the stored copies and records the action in
the audit log (``email_message.archive``, ``email_message.mark_read``,
``email_message.mark_unread``, and ``email_thread.*`` alike). A Gmail refusal is recorded with
the outcome ``failure`` and raised to the caller; the stored labels then stay as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow, MailAccountRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import Conflict, InboxCrmError, NotFound, PermissionDenied
from inboxcrm.domain.roles import require_write
from inboxcrm.providers.base import MailboxClient
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIONS",
    "LabelAction",
    "LabelActionResult",
    "MessageActionPorts",
    "act_on_message",
    "act_on_thread",
]

LabelAction = Literal["archive", "mark_read", "mark_unread"]

ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "archive": ((), ("INBOX",)),
    "mark_read": ((), ("UNREAD",)),
    "mark_unread": (("UNREAD",), ()),
}
"""Each action's (labels added, labels removed)."""


@dataclass(frozen=True)
class MessageActionPorts:
    """What the actions use, handed in by the caller (the web layer builds it)."""

    uow: Callable[[], UnitOfWork]
    mailbox: Callable[[int], MailboxClient]


@dataclass(frozen=True)
class LabelActionResult:
    action: str
    target: str
    mail_account_id: int
    messages: int
    labels: list[str]
    """The labels of the (first) stored copy after the change."""


@dataclass(frozen=True)
class _Target:
    account_id: int
    provider_id: str
    stored_ids: list[int]


def _owned_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccountRow:
    account = uow.session.get(MailAccountRow, account_id)
    if account is None:
        raise NotFound("no such mailbox")
    if account.user_id != principal.user_id:
        raise PermissionDenied("only the owner of the mailbox may change this message in Gmail")
    if account.provider != "gmail":
        raise Conflict("only messages of a Gmail mailbox can be changed in the mailbox")
    if account.status == "disconnected":
        raise Conflict("the mailbox is disconnected; connect it again first")
    return account


def _message_target(uow: UnitOfWork, principal: Principal, message_id: int) -> _Target:
    row = uow.session.get(EmailMessageRow, message_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no email message {message_id}")
    _owned_account(uow, principal, row.mail_account_id)
    return _Target(row.mail_account_id, row.provider_message_id, [row.id])


def _thread_target(uow: UnitOfWork, principal: Principal, thread_id: int) -> _Target:
    thread = uow.session.get(EmailThreadRow, thread_id)
    if thread is None:
        raise NotFound(f"no email thread {thread_id}")
    _owned_account(uow, principal, thread.mail_account_id)
    ids = list(
        uow.session.scalars(
            select(EmailMessageRow.id)
            .where(EmailMessageRow.thread_id == thread.id)
            .order_by(EmailMessageRow.sent_at, EmailMessageRow.id)
        )
    )
    return _Target(thread.mail_account_id, thread.provider_thread_id, ids)


def _apply_locally(uow: UnitOfWork, ids: list[int], action: LabelAction) -> list[str]:
    add, remove = ACTIONS[action]
    first: list[str] | None = None
    for row in uow.session.scalars(
        select(EmailMessageRow).where(EmailMessageRow.id.in_(ids)).order_by(EmailMessageRow.id)
    ):
        labels = [label for label in row.labels or [] if label not in remove]
        labels += [label for label in add if label not in labels]
        row.labels = labels
        if first is None:
            first = labels
    return first or []


def _act(
    ports: MessageActionPorts,
    principal: Principal,
    action: LabelAction,
    *,
    kind: Literal["email_message", "email_thread"],
    item_id: int,
    ip: str | None,
) -> LabelActionResult:
    if action not in ACTIONS:
        raise NotFound(f"no action {action}")
    require_write(principal.role)
    with ports.uow() as uow:
        if kind == "email_message":
            target = _message_target(uow, principal, item_id)
        else:
            target = _thread_target(uow, principal, item_id)
    add, remove = ACTIONS[action]
    audit_target = f"{kind}:{item_id}"
    try:
        mailbox = ports.mailbox(target.account_id)
        if kind == "email_message":
            mailbox.modify_message(target.provider_id, add=add, remove=remove)
        else:
            mailbox.modify_thread(target.provider_id, add=add, remove=remove)
    except InboxCrmError as exc:
        with ports.uow() as uow:
            record_event(
                uow,
                action=f"{kind}.{action}",
                actor_user_id=principal.user_id,
                target=audit_target,
                outcome="failure",
                ip=ip,
                details={"mail_account_id": target.account_id, "error": exc.code},
            )
            uow.commit()
        raise
    with ports.uow() as uow:
        labels = _apply_locally(uow, target.stored_ids, action)
        record_event(
            uow,
            action=f"{kind}.{action}",
            actor_user_id=principal.user_id,
            target=audit_target,
            ip=ip,
            details={"mail_account_id": target.account_id, "messages": len(target.stored_ids)},
        )
        uow.commit()
    logger.info(
        "%s %s of mail account %s by user %s: %s",
        kind,
        item_id,
        target.account_id,
        principal.user_id,
        action,
    )
    return LabelActionResult(
        action=action,
        target=audit_target,
        mail_account_id=target.account_id,
        messages=len(target.stored_ids),
        labels=labels,
    )


def act_on_message(
    ports: MessageActionPorts,
    principal: Principal,
    message_id: int,
    action: LabelAction,
    *,
    ip: str | None = None,
) -> LabelActionResult:
    """Archive, mark read or mark unread one stored message in its owner's Gmail."""
    return _act(ports, principal, action, kind="email_message", item_id=message_id, ip=ip)


def act_on_thread(
    ports: MessageActionPorts,
    principal: Principal,
    thread_id: int,
    action: LabelAction,
    *,
    ip: str | None = None,
) -> LabelActionResult:
    """Archive, mark read or mark unread a whole stored thread in its owner's Gmail."""
    return _act(ports, principal, action, kind="email_thread", item_id=thread_id, ip=ip)
