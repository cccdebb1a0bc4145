"""The consent log: who granted or withdrew access to which mailbox, when, from where, for what.

Entries are only ever added (never changed or deleted, not even when the account's mail is
purged), inside the unit of work of the change they record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import ConsentLogRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.services.audit import record_event

__all__ = ["ConsentAction", "ConsentEntry", "consent_history", "record_consent"]

ConsentAction = Literal["connect", "grant", "disconnect", "revoked"]
"""``grant``: an incremental authorization added scopes to a connected mailbox (the entry
lists the scopes it added)."""


@dataclass(frozen=True)
class ConsentEntry:
    id: int
    user_id: int
    actor_user_id: int | None
    mail_account_id: int | None
    provider: str
    account_email: str
    action: str
    scopes: tuple[str, ...]
    ip: str | None
    occurred_at: datetime


def record_consent(
    uow: UnitOfWork,
    *,
    user_id: int,
    actor_user_id: int | None,
    mail_account_id: int | None,
    provider: str,
    account_email: str,
    action: ConsentAction,
    scopes: Sequence[str],
    ip: str | None = None,
    user_agent: str | None = None,
) -> None:
    """Append one consent-log entry; saved when the caller commits ``uow``."""
    uow.session.add(
        ConsentLogRow(
            user_id=user_id,
            actor_user_id=actor_user_id,
            mail_account_id=mail_account_id,
            provider=provider,
            account_email=account_email,
            action=action,
            scopes=list(scopes),
            ip=(ip or None) and ip[:64],
            user_agent=(user_agent or None) and user_agent[:300],
            occurred_at=utcnow(),
        )
    )
    record_event(
        uow,
        action=f"mail_account.{action}",
        actor_user_id=actor_user_id,
        actor_kind="user" if actor_user_id is not None else "system",
        target=f"mail_account:{mail_account_id}" if mail_account_id is not None else None,
        ip=ip,
        details={"provider": provider, "owner_user_id": user_id, "scopes": sorted(scopes)},
    )


def consent_history(uow: UnitOfWork, *, account_email: str | None = None) -> list[ConsentEntry]:
    """Every entry, oldest first (optionally for one mailbox address)."""
    query = select(ConsentLogRow).order_by(ConsentLogRow.id)
    if account_email is not None:
        query = query.where(ConsentLogRow.account_email == account_email)
    return [
        ConsentEntry(
            id=row.id,
            user_id=row.user_id,
            actor_user_id=row.actor_user_id,
            mail_account_id=row.mail_account_id,
            provider=row.provider,
            account_email=row.account_email,
            action=row.action,
            scopes=tuple(row.scopes),
            ip=row.ip,
            occurred_at=row.occurred_at,
        )
        for row in uow.session.scalars(query)
    ]
