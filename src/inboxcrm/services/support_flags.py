"""Flagging one message or thread for support: the mailbox owner's time-limited consent.

The owner of the mailbox that holds a stored message (or thread) flags it with a reason for a
limited time (1 hour to 30 days, 72 hours by default); flagging again replaces the live flag
(new reason, new expiry). The owner withdraws it at any time. Both are audited
(``support_flag.create``, ``support_flag.withdraw``; the reason is not copied into the log).

The staff read path (:mod:`inboxcrm.services.support_reads`, under a tenant admin's support grant)
asks :func:`live_flag_of_message` / :func:`live_flag_of_thread` whether a live flag names the
message or its thread, refuses (403) every other message of the mailbox and audits each read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.support_flag_tables import SupportFlagRow
from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow, MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.roles import require_write
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal

__all__ = [
    "DEFAULT_HOURS",
    "MAX_HOURS",
    "NoLiveFlag",
    "SupportFlag",
    "TargetKind",
    "flag_for_support",
    "flagged_by",
    "live_flag_of_message",
    "live_flag_of_thread",
    "live_flags",
    "staff_may_read",
    "withdraw_support_flag",
]

TargetKind = Literal["email_message", "email_thread"]
DEFAULT_HOURS = 72
MAX_HOURS = 24 * 30


class NoLiveFlag(NotFound):
    """Withdrawing a flag from a message or thread that has no live one (404)."""

    code = "no_live_support_flag"


@dataclass(frozen=True)
class SupportFlag:
    id: int
    target: str
    reason: str
    expires_at: datetime
    created_at: datetime


def _owned_target(uow: UnitOfWork, principal: Principal, kind: TargetKind, item_id: int) -> int:
    row: EmailMessageRow | EmailThreadRow | None
    if kind == "email_message":
        row = uow.session.get(EmailMessageRow, item_id)
    else:
        row = uow.session.get(EmailThreadRow, item_id)
    if row is None:
        raise NotFound(f"no {kind.replace('_', ' ')} {item_id}")
    account = uow.session.get(MailAccountRow, row.mail_account_id)
    if account is None or account.user_id != principal.user_id:
        raise PermissionDenied("only the mailbox owner may flag its mail for support")
    return row.mail_account_id


def _live(session: Session, kind: str, item_id: int, now: datetime) -> list[SupportFlagRow]:
    return list(
        session.scalars(
            select(SupportFlagRow).where(
                SupportFlagRow.target_kind == kind,
                SupportFlagRow.target_id == item_id,
                SupportFlagRow.withdrawn_at.is_(None),
                SupportFlagRow.expires_at > now,
            )
        )
    )


def flag_for_support(
    uow: UnitOfWork,
    principal: Principal,
    kind: TargetKind,
    item_id: int,
    *,
    reason: str,
    hours: int = DEFAULT_HOURS,
    ip: str | None = None,
) -> SupportFlag:
    """Let support staff read this message (or thread) for ``hours``, for ``reason``."""
    require_write(principal.role)
    text = " ".join(reason.split())
    if not text:
        raise InvalidInput("say why support should read this", field="reason")
    if len(text) > 500:
        raise InvalidInput("the reason is longer than 500 characters", field="reason")
    if not 1 <= hours <= MAX_HOURS:
        raise InvalidInput(f"hours must be between 1 and {MAX_HOURS}", field="hours")
    account_id = _owned_target(uow, principal, kind, item_id)
    now = utcnow()
    for old in _live(uow.session, kind, item_id, now):
        old.withdrawn_at = now
    row = SupportFlagRow(
        target_kind=kind,
        target_id=item_id,
        mail_account_id=account_id,
        created_by_user_id=principal.user_id,
        reason=text,
        expires_at=now + timedelta(hours=hours),
        created_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    record_event(
        uow,
        action="support_flag.create",
        actor_user_id=principal.user_id,
        target=f"{kind}:{item_id}",
        ip=ip,
        details={"flag_id": row.id, "hours": hours, "mail_account_id": account_id},
    )
    uow.commit()
    return SupportFlag(row.id, f"{kind}:{item_id}", row.reason, row.expires_at, row.created_at)


def withdraw_support_flag(
    uow: UnitOfWork, principal: Principal, kind: TargetKind, item_id: int, *, ip: str | None = None
) -> int:
    """End the live flag of this message (or thread); returns how many flags ended."""
    require_write(principal.role)
    _owned_target(uow, principal, kind, item_id)
    now = utcnow()
    live = _live(uow.session, kind, item_id, now)
    if not live:
        raise NoLiveFlag("this is not flagged for support")
    for row in live:
        row.withdrawn_at = now
    record_event(
        uow,
        action="support_flag.withdraw",
        actor_user_id=principal.user_id,
        target=f"{kind}:{item_id}",
        ip=ip,
        details={"flags": len(live)},
    )
    uow.commit()
    return len(live)


def staff_may_read(session: Session, message_id: int, now: datetime | None = None) -> bool:
    """Whether a live flag names this stored message or its thread (the staff read path)."""
    return live_flag_of_message(session, message_id, now) is not None


def live_flag_of_message(
    session: Session, message_id: int, now: datetime | None = None
) -> int | None:
    """The id of a live flag naming this stored message or its thread, or None."""
    message = session.get(EmailMessageRow, message_id)
    if message is None:
        return None
    moment = now or utcnow()
    return session.scalar(
        select(SupportFlagRow.id)
        .where(
            or_(
                (SupportFlagRow.target_kind == "email_message")
                & (SupportFlagRow.target_id == message.id),
                (SupportFlagRow.target_kind == "email_thread")
                & (SupportFlagRow.target_id == message.thread_id),
            ),
            SupportFlagRow.mail_account_id == message.mail_account_id,
            SupportFlagRow.withdrawn_at.is_(None),
            SupportFlagRow.expires_at > moment,
        )
        .limit(1)
    )


def live_flag_of_thread(
    session: Session, thread_id: int, now: datetime | None = None
) -> int | None:
    """The id of a live flag naming this whole thread, or None."""
    thread = session.get(EmailThreadRow, thread_id)
    if thread is None:
        return None
    return session.scalar(
        select(SupportFlagRow.id)
        .where(
            SupportFlagRow.target_kind == "email_thread",
            SupportFlagRow.target_id == thread.id,
            SupportFlagRow.mail_account_id == thread.mail_account_id,
            SupportFlagRow.withdrawn_at.is_(None),
            SupportFlagRow.expires_at > (now or utcnow()),
        )
        .limit(1)
    )


def live_flags(session: Session, now: datetime | None = None) -> list[SupportFlagRow]:
    """Every live flag of the tenant, newest first."""
    return list(
        session.scalars(
            select(SupportFlagRow)
            .where(
                SupportFlagRow.withdrawn_at.is_(None),
                SupportFlagRow.expires_at > (now or utcnow()),
            )
            .order_by(SupportFlagRow.id.desc())
        )
    )


def flagged_by(session: Session, user_id: int, now: datetime | None = None) -> frozenset[str]:
    """The targets (``email_message:ID``, ``email_thread:ID``) of ``user_id``'s live flags."""
    return frozenset(
        f"{row.target_kind}:{row.target_id}"
        for row in live_flags(session, now)
        if row.created_by_user_id == user_id
    )
