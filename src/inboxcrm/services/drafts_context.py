"""The one place that decides what a drafting provider may see.

:func:`build_draft_context` gathers, for one record and (optionally) one message to answer:

- the record's own fields (name, title, company, domain, status — never other records') and its
  open deals;
- at most the last ``INBOXCRM_AI_CONTEXT_MESSAGES`` messages of the chosen thread — the thread of
  the answered message, in the sender's own mailbox — that are on this record's timeline and that
  the requesting user may read in full under the mail sharing rules
  (:mod:`inboxcrm.services.mail_sharing`); each body cut to ``INBOXCRM_AI_BODY_CHARS``.

Nothing else: no other thread (even with the same contact), no other record's mail, no other
tenant's data. The ids of the messages given are returned with the context and stored on the
draft.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    DealRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
)
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.mail_parsing import html_to_text
from inboxcrm.domain.outgoing_mail import reply_subject
from inboxcrm.domain.sharing import Detail
from inboxcrm.providers.ai.base import ContextMessage, DraftContext
from inboxcrm.services.mail_sharing import MailViewer, read_scope
from inboxcrm.services.records import get_record

__all__ = ["BuiltContext", "build_draft_context"]

_FIELDS = ("first_name", "last_name", "title", "company", "status", "domain", "industry", "name")


@dataclass(frozen=True)
class BuiltContext:
    context: DraftContext
    message_ids: list[str]
    to: list[str]
    reply_to_message_id: str | None


def _record_fields(record: object) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name in _FIELDS:
        value = getattr(record, name, None)
        if value:
            fields[name] = str(value)
    account_name = getattr(record, "account_name", None)
    if account_name:
        fields["account"] = str(account_name)
    return fields


def _open_deals(uow: UnitOfWork, kind: str, record_id: int) -> list[dict[str, str]]:
    if kind == "lead":
        return []
    column = DealRow.account_id if kind == "account" else DealRow.contact_id
    deals = uow.session.scalars(
        select(DealRow)
        .where(column == record_id, DealRow.status == "open", DealRow.deleted_at.is_(None))
        .order_by(DealRow.id)
        .limit(10)
    )
    return [
        {
            "name": d.name,
            "stage": d.stage,
            "amount": f"{d.amount} {d.currency}" if d.amount is not None else "",
            "close_date": d.close_date.isoformat() if d.close_date else "",
        }
        for d in deals
    ]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " […]"


def build_draft_context(
    uow: UnitOfWork,
    viewer: MailViewer,
    *,
    record_kind: str,
    record_id: int,
    account: MailAccountRow,
    reply_to_message_id: str | None,
    max_messages: int,
    body_chars: int,
    sender_name: str,
    instructions: str = "",
) -> BuiltContext:
    record = get_record(uow, record_kind, record_id)
    messages: list[ContextMessage] = []
    to = list(record.emails[:1])
    subject = ""
    if reply_to_message_id:
        target = uow.session.execute(
            select(EmailMessageRow, EmailThreadRow)
            .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
            .where(
                EmailMessageRow.mail_account_id == account.id,
                EmailMessageRow.provider_message_id == reply_to_message_id,
                EmailMessageRow.deleted_at.is_(None),
            )
        ).first()
        if target is None:
            raise InvalidInput(
                f"{reply_to_message_id!r} is not a message of this mailbox",
                field="reply_to_message_id",
            )
        message, thread = target
        scope = read_scope(uow, viewer)
        if scope.detail_for(message.mail_account_id, thread.sharing, thread.sharing_detail) != (
            Detail.EVERYTHING
        ):
            raise InvalidInput("you may not read that message in full", field="reply_to_message_id")
        on_record = (
            select(ActivityRow.ref_id)
            .where(
                ActivityRow.record_kind == record_kind,
                ActivityRow.record_id == record_id,
                ActivityRow.kind == "email",
                ActivityRow.deleted_at.is_(None),
            )
            .scalar_subquery()
        )
        rows = list(
            uow.session.scalars(
                select(EmailMessageRow)
                .where(
                    EmailMessageRow.thread_id == thread.id,
                    EmailMessageRow.deleted_at.is_(None),
                    EmailMessageRow.sent_at <= message.sent_at,
                    EmailMessageRow.message_key_id.in_(on_record),
                )
                .order_by(EmailMessageRow.sent_at.desc(), EmailMessageRow.id.desc())
                .limit(max_messages)
            )
        )
        for row in reversed(rows):
            if scope.detail_for(row.mail_account_id, thread.sharing, thread.sharing_detail) != (
                Detail.EVERYTHING
            ):
                continue
            body = row.body_text or (html_to_text(row.body_html) if row.body_html else "")
            messages.append(
                ContextMessage(
                    provider_message_id=row.provider_message_id,
                    direction="outbound" if row.direction == "outbound" else "inbound",
                    sender=row.from_address or "",
                    sent_at=row.sent_at,
                    subject=row.subject or "",
                    body=_cut(body or row.snippet or "", body_chars),
                )
            )
        subject = reply_subject(message.subject or "")
        if message.direction == "inbound" and message.from_address:
            to = [message.from_address]
        elif message.to_addresses:
            to = list(message.to_addresses)
    context = DraftContext(
        record_kind=record_kind,
        record_name=record.display_name,
        record_fields=_record_fields(record),
        open_deals=_open_deals(uow, record_kind, record_id),
        messages=messages,
        sender_name=sender_name,
        instructions=instructions,
        reply_subject=subject,
    )
    return BuiltContext(context, [m.provider_message_id for m in messages], to, reply_to_message_id)
