"""What the composer starts with: the sender's mailboxes and addresses, and the recipients and
subject of a new message or a reply (read only; sending itself is :mod:`.sending`).

A reply is prefilled only from a message of one of the user's own mailboxes (the composer never
shows another mailbox's mail): to the sender of an inbound message (or the recipients of an
outbound one), and for "Reply all" every other recipient too, less the account's own addresses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailAccountRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import NotFound
from inboxcrm.domain.outgoing_mail import reply_subject
from inboxcrm.services.identity import Principal
from inboxcrm.services.records import get_record
from inboxcrm.services.sending import own_addresses, sending_default

__all__ = [
    "ComposeDefaults",
    "SenderChoice",
    "compose_defaults",
    "outbound_of_entry",
    "sender_choices",
]


@dataclass(frozen=True)
class SenderChoice:
    mail_account_id: int
    email: str
    from_addresses: tuple[str, ...]


@dataclass
class ComposeDefaults:
    senders: list[SenderChoice]
    mail_account_id: int | None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    reply_to_message_id: str | None = None
    track: bool = False


def sender_choices(uow: UnitOfWork, principal: Principal) -> list[SenderChoice]:
    """The user's connected accounts that can send (Gmail, or IMAP/POP3 with an SMTP server)
    and the From addresses each may use."""
    rows = uow.session.scalars(
        select(MailAccountRow)
        .where(
            MailAccountRow.user_id == principal.user_id,
            MailAccountRow.status == "connected",
        )
        .order_by(MailAccountRow.id)
    )
    return [
        SenderChoice(row.id, row.email, tuple(own_addresses(row)))
        for row in rows
        if row.provider == "gmail" or (row.settings or {}).get("smtp")
    ]


def compose_defaults(
    uow: UnitOfWork,
    principal: Principal,
    record_kind: str,
    record_id: int,
    *,
    reply_to: str | None = None,
    mail_account_id: int | None = None,
    reply_all: bool = False,
) -> ComposeDefaults:
    record = get_record(uow, record_kind, record_id)
    senders = sender_choices(uow, principal)
    defaults = ComposeDefaults(
        senders=senders,
        mail_account_id=senders[0].mail_account_id if senders else None,
        track=sending_default(uow, principal.user_id),
    )
    if not reply_to:
        defaults.to = list(record.emails[:1])
        return defaults
    owned = {s.mail_account_id: s for s in senders}
    query = select(EmailMessageRow).where(
        EmailMessageRow.provider_message_id == reply_to,
        EmailMessageRow.mail_account_id.in_(list(owned)),
        EmailMessageRow.deleted_at.is_(None),
    )
    if mail_account_id is not None:
        query = query.where(EmailMessageRow.mail_account_id == mail_account_id)
    message = uow.session.scalars(query.limit(1)).first()
    if message is None:
        raise NotFound("no such message in your mailboxes")
    own = {try_normalize_email(a) for a in owned[message.mail_account_id].from_addresses}
    if message.direction == "inbound" and message.from_address:
        to = [message.from_address]
    else:
        to = list(message.to_addresses or [])
    cc: list[str] = []
    if reply_all:
        for address in [*(message.to_addresses or []), *(message.cc_addresses or [])]:
            if address not in to and address not in cc and try_normalize_email(address) not in own:
                cc.append(address)
    defaults.mail_account_id = message.mail_account_id
    defaults.to = [a for a in to if try_normalize_email(a) not in own] or to
    defaults.cc = cc
    defaults.subject = reply_subject(message.subject or "")
    defaults.reply_to_message_id = message.provider_message_id
    return defaults


def outbound_of_entry(uow: UnitOfWork, record_kind: str, record_id: int, entry_id: int) -> int:
    """The outbound message a record's "Not sent" timeline entry stands for."""
    from inboxcrm.adapters.db.tenant_tables import ActivityRow
    from inboxcrm.services.sending_records import OUTBOUND_KIND

    entry = uow.session.get(ActivityRow, entry_id)
    if (
        entry is None
        or entry.kind != OUTBOUND_KIND
        or entry.record_kind != record_kind
        or entry.record_id != record_id
    ):
        raise NotFound("no unsent message on this record")
    return entry.ref_id
