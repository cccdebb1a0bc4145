"""In-app notifications for one user of a tenant (account revoked, sync finished or failed, ...).

:func:`notify` adds a notification inside the caller's unit of work, so it is committed (or rolled
back) together with the change it reports. Reading and marking as read are the user's own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import NotificationRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import NotFound
from inboxcrm.services.pagination import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_id_cursor,
    encode_cursor,
)

__all__ = [
    "Notification",
    "count_unread",
    "list_notifications",
    "mark_notification_read",
    "notify",
]

logger = logging.getLogger(__name__)

_CURSOR_SCOPE = "notifications"
_TITLE_MAX = 300


@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    link: str | None = None
    """A path inside the app the notification points at (a record page), or None."""

    @property
    def read(self) -> bool:
        return self.read_at is not None


def _out(row: NotificationRow) -> Notification:
    return Notification(
        id=row.id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        created_at=row.created_at,
        read_at=row.read_at,
        link=row.link,
    )


def notify(
    uow: UnitOfWork,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    *,
    link: str | None = None,
) -> Notification:
    """Add a notification for ``user_id``; it is saved when the caller commits ``uow``.

    ``link`` is an app-relative path (``/contacts/7``); anything else is dropped.
    """
    safe_link = link if link and link.startswith("/") and not link.startswith("//") else None
    row = NotificationRow(
        user_id=user_id,
        kind=kind[:40],
        title=title[:_TITLE_MAX],
        body=body,
        link=safe_link[:300] if safe_link else None,
    )
    uow.session.add(row)
    uow.session.flush()
    logger.info("notification %s (%s) for user %s in tenant %s", row.id, kind, user_id, uow.tenant)
    return _out(row)


def list_notifications(
    uow: UnitOfWork,
    user_id: int,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    unread_only: bool = False,
) -> Page[Notification]:
    """The user's notifications, newest first."""
    check_limit(limit)
    last_id = decode_id_cursor(cursor, _CURSOR_SCOPE)
    query = select(NotificationRow).where(NotificationRow.user_id == user_id)
    if unread_only:
        query = query.where(NotificationRow.read_at.is_(None))
    if last_id is not None:
        query = query.where(NotificationRow.id < last_id)
    rows = list(uow.session.scalars(query.order_by(NotificationRow.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(_CURSOR_SCOPE, [rows[-1].id]) if more and rows else None
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)


def count_unread(uow: UnitOfWork, user_id: int, *, at_most: int = 99) -> int:
    """How many of the user's notifications are unread, counted up to ``at_most``."""
    unread = (
        select(NotificationRow.id)
        .where(NotificationRow.user_id == user_id, NotificationRow.read_at.is_(None))
        .limit(at_most)
        .subquery()
    )
    return int(uow.session.scalar(select(func.count()).select_from(unread)) or 0)


def mark_notification_read(uow: UnitOfWork, user_id: int, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (idempotent); NotFound for anyone else's."""
    row = uow.session.get(NotificationRow, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no notification {notification_id}")
    if row.read_at is None:
        row.read_at = utcnow()
        uow.commit()
    return _out(row)
