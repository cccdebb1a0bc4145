"""Sending mail from the CRM through the user's own Gmail: compose, reply, retry.

The flow of one send (:func:`send_message`):

1. **Check the request** (:mod:`inboxcrm.services.sending_input`): every header value is free of
   CR/LF, control characters, line separators and encoded words hiding them; each address value
   is exactly one address. Anything else is a 422 naming the field; nothing has been stored yet.
2. **Check the rights** in one unit of work: the sender owns the mail account (connected Gmail),
   may write CRM data, the record exists; ``from`` is the account's address or one of its
   verified send-as aliases; a reply's target is a stored message of that mailbox (its Gmail
   thread id, Message-ID and References are taken from the stored, parsed copy and rebuilt as
   clean ``<id@domain>`` lists, never copied raw; the subject gets "Re: " exactly once).
3. **Keep the message** as an ``outbound_messages`` row with status ``sending``, its attachments
   and a Message-ID of inboxcrm's making, and commit. From here on nothing is lost: a crash, a
   refusal or an outage leaves a message that can be retried or edited.
4. **Build and send** (:func:`deliver`): the MIME message (:mod:`inboxcrm.domain.outgoing_mail`;
   with tracking, links rewritten to ``/t/c/<token>`` and a pixel ``/t/o/<token>`` added, see
   :mod:`inboxcrm.services.tracking_links`), re-read to prove it carries exactly the expected
   headers and recipients, then ``messages.send`` through the mailbox's quota gate (100 units),
   with ``threadId`` for a reply; over 4 MiB through the upload endpoint, at most 35 MiB.
   Transient failures (429, 5xx, timeouts) are retried a few times with backoff; before each
   retry, and before any retry the user asks for later, the mailbox is searched for the
   message's Message-ID so a send that Gmail did accept is never repeated.
5. **Record the outcome** in one unit of work: sent → the Gmail ids on the outbound row, the
   message stored like synced mail and on the record's timeline at once
   (:mod:`inboxcrm.services.sending_records`; the sync later finds the same Gmail id and adds
   nothing); failed → status ``failed`` with the error, and a "Not sent" timeline entry.

:func:`retry_message` sends a failed message again (optionally edited first); a message that is
already sent is returned as it is. Message bodies are never logged.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from inboxcrm.adapters.db.sending_tables import (
    OutboundAttachmentRow,
    OutboundMessageRow,
    SendingPreferencesRow,
)
from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow, MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProviderAuthError,
    ProviderError,
    ProviderTransientError,
)
from inboxcrm.domain.outgoing_mail import (
    MAX_MESSAGE_BYTES,
    OutgoingAttachment,
    OutgoingMessage,
    Recipient,
    build_message,
    clean_message_ids,
    collapse_reply_prefix,
    parse_recipient,
    reply_subject,
    verify_headers,
)
from inboxcrm.domain.roles import is_admin, require_mail_integration, require_write
from inboxcrm.providers.base import MailboxClient, MessageRef
from inboxcrm.services.audit import record_event
from inboxcrm.services.identity import Principal
from inboxcrm.services.records import require_record
from inboxcrm.services.sending_input import (
    MessageEdit,
    MessageRequest,
    MessageTooLarge,
    PreparedMessage,
    prepare_edit,
    prepare_request,
)
from inboxcrm.services.sending_records import record_failed_entry, store_sent_copy
from inboxcrm.services.tracking_links import (
    TrackingSigner,
    rewrite_html_links,
    rewrite_text_links,
    text_to_html,
)

__all__ = [
    "OutboundView",
    "SendingPorts",
    "deliver",
    "get_outbound",
    "retry_message",
    "send_message",
    "sending_default",
    "set_sending_default",
]

logger = logging.getLogger(__name__)

SEND_ATTEMPTS = 3


@dataclass(frozen=True)
class SendingPorts:
    """What sending uses, handed in by the caller (the web layer builds it from the runtime)."""

    tenant: str
    uow: Callable[[], UnitOfWork]
    mailbox: Callable[[int], MailboxClient]
    signer: TrackingSigner
    public_url: str
    sleep: Callable[[float], None] = time.sleep
    backoff_seconds: float = 1.0


@dataclass(frozen=True)
class OutboundView:
    id: int
    status: str
    provider_message_id: str | None
    thread_id: str | None
    message_id_header: str
    error: str | None
    mail_account_id: int
    record_kind: str
    record_id: int
    from_address: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body_text: str
    body_html: str | None
    track: bool
    opens: int
    clicks: int
    attempts: int
    reply_to_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    draft_id: int | None


def _view(row: OutboundMessageRow) -> OutboundView:
    return OutboundView(
        id=row.id,
        status=row.status,
        provider_message_id=row.provider_message_id,
        thread_id=row.provider_thread_id,
        message_id_header=row.message_id_header,
        error=row.error,
        mail_account_id=row.mail_account_id,
        record_kind=row.record_kind,
        record_id=row.record_id,
        from_address=row.from_address,
        to=list(row.to_addresses or []),
        cc=list(row.cc_addresses or []),
        bcc=list(row.bcc_addresses or []),
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
        track=row.track,
        opens=row.opens,
        clicks=row.clicks,
        attempts=row.attempts,
        reply_to_message_id=row.reply_to_message_id,
        created_at=row.created_at,
        sent_at=row.sent_at,
        draft_id=row.draft_id,
    )


# -- preferences ---------------------------------------------------------------------------------


def sending_default(uow: UnitOfWork, user_id: int) -> bool:
    """Whether ``user_id`` tracks opens and clicks unless told otherwise (off by default)."""
    row = uow.session.get(SendingPreferencesRow, user_id)
    return bool(row and row.track_by_default)


def set_sending_default(uow: UnitOfWork, principal: Principal, *, track: bool) -> bool:
    require_write(principal.role)
    row = uow.session.get(SendingPreferencesRow, principal.user_id)
    if row is None:
        row = SendingPreferencesRow(user_id=principal.user_id)
        uow.session.add(row)
    row.track_by_default = track
    uow.commit()
    logger.info("tracking default of user %s set to %s", principal.user_id, track)
    return track


# -- composing -----------------------------------------------------------------------------------


def _owned_account(uow: UnitOfWork, principal: Principal, account_id: int) -> MailAccountRow:
    row = uow.session.get(MailAccountRow, account_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound(f"no mail account {account_id} of yours")
    if row.provider != "gmail" and not (row.settings or {}).get("smtp"):
        raise InvalidInput(
            "this account has no SMTP server; add one under Setup → Email to send from it",
            field="mail_account_id",
        )
    if row.status != "connected":
        raise Conflict(f"mail account {account_id} is {row.status}; connect it again first")
    return row


def own_addresses(account: MailAccountRow) -> list[str]:
    """The account's address and its verified send-as aliases (as the last sync saw them)."""
    aliases = [str(a) for a in (account.settings or {}).get("send_as") or []]
    return list(dict.fromkeys([account.email, *aliases]))


def _choose_sender(
    ports: SendingPorts, account: MailAccountRow, wanted: Recipient | None
) -> Recipient:
    if wanted is None:
        return parse_recipient(account.email, "from")
    canonical = try_normalize_email(wanted.address)
    known = {try_normalize_email(a) for a in own_addresses(account)}
    if canonical not in known:
        # An alias added since the last sync: ask Gmail (verified aliases only).
        fresh = {try_normalize_email(a) for a in ports.mailbox(account.id).list_send_as()}
        if canonical not in fresh:
            raise InvalidInput(
                f"{wanted.address} is not this account's address or a verified send-as alias",
                field="from",
            )
    return wanted


@dataclass(frozen=True)
class _ReplyContext:
    provider_thread_id: str
    in_reply_to: str | None
    references: list[str]
    subject: str


def _reply_context(uow: UnitOfWork, account_id: int, provider_message_id: str) -> _ReplyContext:
    row = uow.session.execute(
        select(EmailMessageRow, EmailThreadRow.provider_thread_id)
        .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
        .where(
            EmailMessageRow.mail_account_id == account_id,
            EmailMessageRow.provider_message_id == provider_message_id,
            EmailMessageRow.deleted_at.is_(None),
        )
    ).first()
    if row is None:
        raise InvalidInput(
            f"{provider_message_id!r} is not a message of this mailbox",
            field="reply_to_message_id",
        )
    message, thread_id = row
    parent = clean_message_ids([message.message_id_header])
    references = clean_message_ids([*(message.references or []), *parent])
    return _ReplyContext(
        provider_thread_id=thread_id,
        in_reply_to=parent[0] if parent else None,
        references=references,
        subject=message.subject or "",
    )


def _new_message_id(sender: Recipient) -> str:
    return f"<inboxcrm.{secrets.token_hex(12)}@{sender.domain.lower()}>"


def send_message(
    ports: SendingPorts,
    principal: Principal,
    request: MessageRequest,
    *,
    draft_id: int | None = None,
) -> OutboundView:
    """Compose and send (see the module docstring); the outcome is in the view's status.

    ``draft_id`` is set only by :func:`inboxcrm.services.drafts.approve_draft`. Needs the Mail
    Integration permission, checked before anything else.
    """
    require_write(principal.role)
    require_mail_integration(principal.mail_integration)
    prepared = prepare_request(request)
    outbound_id = _store_outbound(ports, principal, request, prepared, draft_id)
    return deliver(ports, outbound_id)


def _store_outbound(
    ports: SendingPorts,
    principal: Principal,
    request: MessageRequest,
    prepared: PreparedMessage,
    draft_id: int | None = None,
) -> int:
    with ports.uow() as uow:
        require_write(principal.role)
        account = _owned_account(uow, principal, request.mail_account_id)
        require_record(uow, request.record.type, request.record.id)
        sender = _choose_sender(ports, account, prepared.from_address)
        subject = prepared.subject
        reply: _ReplyContext | None = None
        if request.reply_to_message_id:
            reply = _reply_context(uow, account.id, request.reply_to_message_id)
            subject = (
                collapse_reply_prefix(subject) if subject.strip() else reply_subject(reply.subject)
            )
        track = (
            request.track if request.track is not None else sending_default(uow, principal.user_id)
        )
        row = OutboundMessageRow(
            mail_account_id=account.id,
            sender_user_id=principal.user_id,
            record_kind=request.record.type,
            record_id=request.record.id,
            status="sending",
            from_address=sender.address,
            from_name=sender.name or account.display_name or "",
            to_addresses=[v.strip() for v in request.to],
            cc_addresses=[v.strip() for v in request.cc],
            bcc_addresses=[v.strip() for v in request.bcc],
            subject=subject,
            body_text=prepared.body_text,
            body_html=prepared.body_html,
            reply_to_message_id=request.reply_to_message_id,
            in_reply_to=reply.in_reply_to if reply else None,
            references=reply.references if reply else [],
            provider_thread_hint=reply.provider_thread_id if reply else None,
            message_id_header=_new_message_id(sender),
            track=track,
            draft_id=draft_id,
        )
        uow.session.add(row)
        uow.session.flush()
        # The message as it will be built must pass the header check before it is kept.
        preview = _outgoing(ports, row, [])
        verify_headers(build_message(preview), preview)
        for attachment in prepared.attachments:
            uow.session.add(
                OutboundAttachmentRow(
                    outbound_message_id=row.id,
                    filename=attachment.filename,
                    content_type=attachment.content_type,
                    size=len(attachment.content),
                    content=attachment.content,
                )
            )
        uow.commit()
        logger.info(
            "outbound message %s stored for mail account %s in tenant %s (reply=%s, track=%s)",
            row.id,
            account.id,
            ports.tenant,
            reply is not None,
            track,
        )
        return row.id


# -- building and sending ------------------------------------------------------------------------


def _recipient_list(values: list[str], field: str) -> tuple[Recipient, ...]:
    return tuple(parse_recipient(value, field) for value in values)


def _tracked_bodies(
    ports: SendingPorts, row: OutboundMessageRow, recipient: str
) -> tuple[str, str]:
    issued = int(time.time())
    base = ports.public_url.rstrip("/")
    links: dict[str, int] = {}

    def link_url(target: str) -> str:
        index = links.setdefault(target, len(links))
        token = ports.signer.click_token(ports.tenant, row.id, recipient, issued, index, target)
        return f"{base}/t/c/{token}"

    text = rewrite_text_links(row.body_text or "", link_url)
    html = rewrite_html_links(row.body_html or text_to_html(row.body_text or ""), link_url)
    pixel_token = ports.signer.open_token(ports.tenant, row.id, recipient, issued)
    pixel = (
        f'<img src="{base}/t/o/{pixel_token}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0">'
    )
    closing = html.lower().rfind("</body>")
    html = html[:closing] + pixel + html[closing:] if closing >= 0 else html + pixel
    return text, html


def _outgoing(
    ports: SendingPorts, row: OutboundMessageRow, attachments: list[OutboundAttachmentRow]
) -> OutgoingMessage:
    to = _recipient_list(row.to_addresses, "to")
    cc = _recipient_list(row.cc_addresses, "cc")
    bcc = _recipient_list(row.bcc_addresses, "bcc")
    sender = parse_recipient(row.from_address, "from")
    sender = Recipient(name=row.from_name, local=sender.local, domain=sender.domain)
    text, html = row.body_text, row.body_html
    if row.track:
        first = (to or cc or bcc)[0]
        text, html = _tracked_bodies(ports, row, try_normalize_email(first.address) or "")
    return OutgoingMessage(
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=row.subject,
        body_text=text,
        body_html=html,
        message_id=row.message_id_header,
        date=utcnow(),
        in_reply_to=row.in_reply_to,
        references=tuple(row.references or ()),
        attachments=tuple(
            OutgoingAttachment(a.filename, a.content_type, a.content) for a in attachments
        ),
    )


def _send_once_safely(
    ports: SendingPorts, mailbox: MailboxClient, row: OutboundMessageRow, raw: bytes
) -> MessageRef:
    """Send with retries of transient failures, never twice (see step 4)."""
    last: ProviderTransientError | None = None
    for attempt in range(SEND_ATTEMPTS):
        if attempt > 0 or row.attempts > 0:
            try:
                earlier = mailbox.find_sent(row.message_id_header)
            except ProviderTransientError as exc:
                last = exc
                ports.sleep(ports.backoff_seconds * 2**attempt)
                continue
            if earlier is not None:
                logger.info("outbound message %s was already accepted by Gmail", row.id)
                return earlier
        try:
            return mailbox.send(raw, thread_id=row.provider_thread_hint)
        except ProviderTransientError as exc:
            last = exc
            logger.warning(
                "send of outbound message %s failed (attempt %d): %s", row.id, attempt + 1, exc
            )
            if attempt < SEND_ATTEMPTS - 1:
                ports.sleep(ports.backoff_seconds * 2**attempt)
    assert last is not None
    raise last


def deliver(ports: SendingPorts, outbound_id: int) -> OutboundView:
    """Build and send a stored outbound message, then record the outcome (steps 4 and 5)."""
    with ports.uow() as uow:
        row = uow.session.get(OutboundMessageRow, outbound_id)
        if row is None:
            raise NotFound(f"no outbound message {outbound_id}")
        if row.status == "sent":
            return _view(row)
        attachments = list(
            uow.session.scalars(
                select(OutboundAttachmentRow)
                .where(OutboundAttachmentRow.outbound_message_id == row.id)
                .order_by(OutboundAttachmentRow.id)
            )
        )
    outgoing = _outgoing(ports, row, attachments)
    raw = build_message(outgoing)
    error: str | None = None
    ref: MessageRef | None = None
    try:
        verify_headers(raw, outgoing)
        if len(raw) > MAX_MESSAGE_BYTES:
            raise MessageTooLarge(
                f"the message is {len(raw) / 1048576:.1f} MiB; Gmail accepts at most 35 MiB"
            )
        ref = _send_once_safely(ports, ports.mailbox(row.mail_account_id), row, raw)
    except InvalidInput as exc:  # too large, or (after an edit) refused by the header check
        error = exc.message
    except ProviderAuthError as exc:
        # A mail server's refusal names the server and what to change; Gmail's is generic.
        error = (
            exc.message
            if exc.code != ProviderAuthError.code
            else "Gmail refused the account's credentials; connect the mailbox again"
        )
    except ProviderError as exc:
        error = exc.message
    return _record_outcome(ports, outbound_id, ref, error, len(raw))


def _record_outcome(
    ports: SendingPorts, outbound_id: int, ref: MessageRef | None, error: str | None, size: int
) -> OutboundView:
    with ports.uow() as uow:
        row = uow.session.get(OutboundMessageRow, outbound_id)
        assert row is not None
        row.attempts += 1
        if ref is not None:
            now = utcnow()
            row.status = "sent"
            row.error = None
            row.provider_message_id = ref.id
            row.provider_thread_id = ref.thread_id
            row.sent_at = now
            row.email_message_id = store_sent_copy(uow.session, row, size, now)
        else:
            row.status = "failed"
            row.error = error or "the message could not be sent"
            record_failed_entry(uow.session, row)
        record_event(
            uow,
            action="message.sent" if ref is not None else "message.send_failed",
            actor_user_id=row.sender_user_id,
            target=f"message:{row.id}",
            outcome="success" if ref is not None else "failure",
            details={
                "mail_account": row.mail_account_id,
                "record": f"{row.record_kind}:{row.record_id}",
                "draft": row.draft_id,
                "attempt": row.attempts,
                "provider_message_id": row.provider_message_id,
            },
        )
        uow.commit()
        logger.info(
            "outbound message %s %s in tenant %s (attempt %d)",
            row.id,
            row.status,
            ports.tenant,
            row.attempts,
        )
        return _view(row)


# -- reading and retrying ------------------------------------------------------------------------


def _load_visible(uow: UnitOfWork, principal: Principal, outbound_id: int) -> OutboundMessageRow:
    row = uow.session.get(OutboundMessageRow, outbound_id)
    if row is None:
        raise NotFound(f"no message {outbound_id}")
    if row.sender_user_id != principal.user_id:
        account = uow.session.get(MailAccountRow, row.mail_account_id)
        owner = account.user_id if account is not None else None
        if owner != principal.user_id and not is_admin(principal.role):
            raise NotFound(f"no message {outbound_id}")
    return row


def get_outbound(uow: UnitOfWork, principal: Principal, outbound_id: int) -> OutboundView:
    """A message sent (or not) from inboxcrm, for its sender, the mailbox owner or an admin."""
    return _view(_load_visible(uow, principal, outbound_id))


def retry_message(
    ports: SendingPorts,
    principal: Principal,
    outbound_id: int,
    edit: MessageEdit | None = None,
) -> OutboundView:
    """Send a failed message again, after applying ``edit``; a sent message is left alone."""
    changes = prepare_edit(edit) if edit is not None else {}
    with ports.uow() as uow:
        require_write(principal.role)
        require_mail_integration(principal.mail_integration)
        row = _load_visible(uow, principal, outbound_id)
        account = uow.session.get(MailAccountRow, row.mail_account_id)
        if account is None or account.user_id != principal.user_id:
            raise PermissionDenied("only the mailbox owner may send from it")
        if row.status == "sent":
            return _view(row)
        if changes:
            if row.attempts:
                # An edited message is a new message: never mistaken for an earlier attempt.
                row.message_id_header = _new_message_id(parse_recipient(row.from_address, "from"))
            for name, value in changes.items():
                setattr(row, name, value)
            if not (row.to_addresses or row.cc_addresses or row.bcc_addresses):
                raise InvalidInput("a message needs at least one recipient", field="to")
        row.status = "sending"
        record_event(
            uow,
            action="message.retried",
            actor_user_id=principal.user_id,
            target=f"message:{row.id}",
            details={"edited": bool(changes)},
        )
        uow.commit()
    return deliver(ports, outbound_id)
