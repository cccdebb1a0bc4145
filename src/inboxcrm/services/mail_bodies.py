"""One stored message's body, as a reader may see it (the record page's "Load images").

The timeline (:mod:`inboxcrm.services.timeline`) shows bodies a page at a time; this reads one
message again by id, under the same mail sharing rules (:mod:`inboxcrm.services.mail_sharing`):
a message the reader may not see at all is NotFound (its existence is not revealed), one they
may see only in part comes back without bodies. Read-only; no unit of work is committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import NotFound
from inboxcrm.domain.sharing import Detail
from inboxcrm.services.mail_sharing import MailViewer, read_scope

__all__ = ["MessageBody", "readable_body"]


@dataclass(frozen=True)
class MessageBody:
    """A message's bodies as the reader may see them (None where withheld or absent)."""

    message_id: int
    detail: Detail
    body_html: str | None
    body_text: str | None
    snippet: str | None


def readable_body(uow: UnitOfWork, viewer: MailViewer, message_id: int) -> MessageBody:
    """The body of message ``message_id`` as ``viewer`` may see it; NotFound if hidden or gone."""
    row = uow.session.execute(
        select(
            EmailMessageRow.mail_account_id,
            EmailMessageRow.body_html,
            EmailMessageRow.body_text,
            EmailMessageRow.snippet,
            EmailThreadRow.sharing,
            EmailThreadRow.sharing_detail,
        )
        .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
        .where(EmailMessageRow.id == message_id, EmailMessageRow.deleted_at.is_(None))
    ).first()
    if row is None:
        raise NotFound("no such message")
    detail = read_scope(uow, viewer).detail_for(
        row.mail_account_id, row.sharing, row.sharing_detail
    )
    if detail is None:
        raise NotFound("no such message")
    if not detail.shows_content:
        return MessageBody(message_id, detail, None, None, None)
    return MessageBody(message_id, detail, row.body_html, row.body_text, row.snippet)
