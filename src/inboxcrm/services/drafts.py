"""AI drafts a human must approve: request, edit, approve & send, or discard.

The flow:

1. :func:`create_draft`: the requester (write rights, owner of the sending mailbox, the record
   exists) asks for a draft. The context is built in one place
   (:mod:`inboxcrm.services.drafts_context`: the record's fields and open deals, at most the last
   N readable messages of the chosen thread with this record, bodies cut). The unit of work is
   closed before the provider is called (a slow provider holds no transaction); the provider —
   Anthropic Claude when ``ANTHROPIC_API_KEY`` is set, else the offline drafter ("not AI") —
   writes subject and body. The draft is stored ``pending_approval`` with the ids of the messages
   it was given, and shown on the record's timeline (``ai_draft``).
2. :func:`update_draft` edits subject and body while the draft is pending.
3. :func:`approve_draft` is the only way a draft is sent: a user with write rights who owns the
   sending mailbox (an API token acts as its user, no more) approves it. A conditional update
   moves it from ``pending_approval`` to ``approving`` (so two approvals race to one send), stores
   who approved and the SHA-256 of the approved subject and body, and then sends through
   :func:`inboxcrm.services.sending.send_message` — the ordinary send path, with the draft's id.
   A message Gmail did not take is kept as a failed outbound message (retry it in the messages
   API); the draft is then ``approved``, else ``sent``.
4. :func:`discard_draft` ends a pending draft without sending anything.

A ``POST /api/v1/messages`` with a draft's text is an ordinary new message: the draft stays
pending. Draft bodies are never logged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import update
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.sending_tables import DraftRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow, MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.outgoing_mail import check_header_text
from inboxcrm.domain.roles import is_admin, require_write
from inboxcrm.providers.ai.base import DraftingProvider
from inboxcrm.services.audit import record_event
from inboxcrm.services.drafts_context import build_draft_context
from inboxcrm.services.identity import Principal
from inboxcrm.services.mail_sharing import MailViewer
from inboxcrm.services.records import require_record
from inboxcrm.services.sending import OutboundView, SendingPorts, get_outbound, send_message
from inboxcrm.services.sending_input import MAX_BODY_CHARS, MessageRequest, RecordRef

__all__ = [
    "DRAFT_KIND",
    "DraftPatch",
    "DraftRequest",
    "DraftView",
    "DraftingPorts",
    "approve_draft",
    "create_draft",
    "discard_draft",
    "get_draft",
    "text_hash",
    "update_draft",
]

logger = logging.getLogger(__name__)

DRAFT_KIND = "ai_draft"


class DraftRequest(BaseModel):
    """``POST /api/v1/drafts``."""

    model_config = ConfigDict(extra="forbid")

    record: RecordRef
    mail_account_id: int = Field(ge=1, le=2**31 - 1)
    reply_to_message_id: str | None = Field(default=None, max_length=100)
    instructions: str | None = Field(default=None, max_length=2000)


class DraftPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=998)
    body_text: str | None = Field(default=None, max_length=MAX_BODY_CHARS)


@dataclass(frozen=True)
class DraftingPorts:
    sending: SendingPorts
    provider: DraftingProvider
    viewer: Callable[[], MailViewer]
    max_messages: int
    body_chars: int


@dataclass(frozen=True)
class DraftView:
    id: int
    status: str
    subject: str
    body_text: str
    provider: str
    model: str | None
    context_message_ids: list[str]
    record_kind: str
    record_id: int
    mail_account_id: int
    reply_to_message_id: str | None
    to: list[str]
    requested_by_user_id: int
    approved_by_user_id: int | None
    approved_at: datetime | None
    approved_text_hash: str | None
    outbound_message_id: int | None
    created_at: datetime


def _view(row: DraftRow) -> DraftView:
    return DraftView(
        id=row.id,
        status=row.status,
        subject=row.subject,
        body_text=row.body_text,
        provider=row.provider,
        model=row.model,
        context_message_ids=list(row.context_message_ids or []),
        record_kind=row.record_kind,
        record_id=row.record_id,
        mail_account_id=row.mail_account_id,
        reply_to_message_id=row.reply_to_message_id,
        to=list(row.to_addresses or []),
        requested_by_user_id=row.requested_by_user_id,
        approved_by_user_id=row.approved_by_user_id,
        approved_at=row.approved_at,
        approved_text_hash=row.approved_text_hash,
        outbound_message_id=row.outbound_message_id,
        created_at=row.created_at,
    )


def text_hash(subject: str, body_text: str) -> str:
    """The SHA-256 of an approved text (what the audit log records)."""
    return hashlib.sha256(f"{subject}\n\n{body_text}".encode()).hexdigest()


def _sending_account(
    ports: SendingPorts, principal: Principal, account_id: int
) -> tuple[MailAccountRow, str]:
    with ports.uow() as uow:
        account = uow.session.get(MailAccountRow, account_id)
        if account is None or account.user_id != principal.user_id:
            raise NotFound(f"no mail account {account_id} of yours")
        if account.status == "disconnected":
            raise Conflict(f"mail account {account_id} is disconnected; connect it again first")
        return account, account.display_name or principal.display_name or principal.email


def create_draft(ports: DraftingPorts, principal: Principal, request: DraftRequest) -> DraftView:
    """Ask the provider for a draft (step 1 of the module docstring)."""
    require_write(principal.role)
    account, sender_name = _sending_account(ports.sending, principal, request.mail_account_id)
    viewer = ports.viewer()
    with ports.sending.uow() as uow:
        require_record(uow, request.record.type, request.record.id)
        built = build_draft_context(
            uow,
            viewer,
            record_kind=request.record.type,
            record_id=request.record.id,
            account=account,
            reply_to_message_id=request.reply_to_message_id,
            max_messages=ports.max_messages,
            body_chars=ports.body_chars,
            sender_name=sender_name,
            instructions=(request.instructions or "").strip(),
        )
    text = ports.provider.draft(built.context)
    with ports.sending.uow() as uow:
        row = DraftRow(
            record_kind=request.record.type,
            record_id=request.record.id,
            mail_account_id=account.id,
            requested_by_user_id=principal.user_id,
            reply_to_message_id=request.reply_to_message_id,
            instructions=(request.instructions or "").strip(),
            to_addresses=built.to,
            subject=text.subject[:998].replace("\r", " ").replace("\n", " "),
            body_text=text.body_text,
            status="pending_approval",
            provider=text.provider,
            model=text.model,
            context_message_ids=built.message_ids,
        )
        uow.session.add(row)
        uow.session.flush()
        uow.session.add(
            ActivityRow(
                record_kind=row.record_kind,
                record_id=row.record_id,
                kind=DRAFT_KIND,
                ref_id=row.id,
                occurred_at=row.created_at,
                summary=f"Draft awaiting approval: {row.subject or '(no subject)'}"[:300],
            )
        )
        record_event(
            uow,
            action="draft.created",
            actor_user_id=principal.user_id,
            target=f"draft:{row.id}",
            details={
                "record": f"{row.record_kind}:{row.record_id}",
                "provider": row.provider,
                "model": row.model,
                "context_message_ids": list(built.message_ids),
            },
        )
        uow.commit()
        logger.info(
            "draft %s by %s (%d context messages) for %s %s in tenant %s",
            row.id,
            row.provider,
            len(built.message_ids),
            row.record_kind,
            row.record_id,
            ports.sending.tenant,
        )
        return _view(row)


def _load(uow_session: Session, draft_id: int) -> DraftRow:
    row = uow_session.get(DraftRow, draft_id)
    if row is None:
        raise NotFound(f"no draft {draft_id}")
    return row


def _may_see(uow_session: Session, principal: Principal, row: DraftRow) -> None:
    if row.requested_by_user_id == principal.user_id or is_admin(principal.role):
        return
    account = uow_session.get(MailAccountRow, row.mail_account_id)
    if account is None or account.user_id != principal.user_id:
        raise NotFound(f"no draft {row.id}")


def get_draft(ports: SendingPorts, principal: Principal, draft_id: int) -> DraftView:
    with ports.uow() as uow:
        row = _load(uow.session, draft_id)
        _may_see(uow.session, principal, row)
        return _view(row)


def update_draft(
    ports: SendingPorts, principal: Principal, draft_id: int, patch: DraftPatch
) -> DraftView:
    """Edit subject and body of a pending draft (step 2)."""
    require_write(principal.role)
    with ports.uow() as uow:
        row = _load(uow.session, draft_id)
        _may_see(uow.session, principal, row)
        if row.status != "pending_approval":
            raise Conflict(f"draft {draft_id} is {row.status}; only pending drafts can be edited")
        if patch.subject is not None:
            row.subject = check_header_text(patch.subject, "subject")
        if patch.body_text is not None:
            row.body_text = patch.body_text
        record_event(
            uow,
            action="draft.edited",
            actor_user_id=principal.user_id,
            target=f"draft:{row.id}",
            details={"text_hash": text_hash(row.subject, row.body_text)},
        )
        uow.commit()
        return _view(row)


def _end_timeline_entry(uow_session: Session, draft_id: int) -> None:
    uow_session.execute(
        update(ActivityRow)
        .where(ActivityRow.kind == DRAFT_KIND, ActivityRow.ref_id == draft_id)
        .values(deleted_at=utcnow())
    )


def approve_draft(
    ports: SendingPorts, principal: Principal, draft_id: int
) -> tuple[DraftView, OutboundView | None]:
    """Approve and send (step 3). Approving again returns the first approval's outcome."""
    require_write(principal.role)
    with ports.uow() as uow:
        row = _load(uow.session, draft_id)
        _may_see(uow.session, principal, row)
        account = uow.session.get(MailAccountRow, row.mail_account_id)
        if account is None or account.user_id != principal.user_id:
            raise PermissionDenied("only the owner of the sending mailbox may approve this draft")
        digest = text_hash(row.subject, row.body_text)
        claimed = uow.session.execute(
            update(DraftRow)
            .where(DraftRow.id == draft_id, DraftRow.status == "pending_approval")
            .values(
                status="approving",
                approved_by_user_id=principal.user_id,
                approved_at=utcnow(),
                approved_text_hash=digest,
            )
        )
        if getattr(claimed, "rowcount", 0) == 1:
            record_event(
                uow,
                action="draft.approved",
                actor_user_id=principal.user_id,
                target=f"draft:{draft_id}",
                details={"approved_text_hash": digest, "via": principal.via},
            )
        uow.commit()
        if getattr(claimed, "rowcount", 0) != 1:
            uow.session.refresh(row)
            if row.status == "discarded":
                raise Conflict(f"draft {draft_id} was discarded")
            message = (
                get_outbound(uow, principal, row.outbound_message_id)
                if row.outbound_message_id
                else None
            )
            return _view(row), message
        request = MessageRequest.model_validate(
            {
                "mail_account_id": row.mail_account_id,
                "to": list(row.to_addresses or []),
                "subject": row.subject,
                "body_text": row.body_text,
                "reply_to_message_id": row.reply_to_message_id,
                "record": {"type": row.record_kind, "id": row.record_id},
            }
        )
    try:
        message = send_message(ports, principal, request, draft_id=draft_id)
    except InvalidInput:
        with ports.uow() as uow:
            uow.session.execute(
                update(DraftRow)
                .where(DraftRow.id == draft_id, DraftRow.status == "approving")
                .values(status="pending_approval", approved_by_user_id=None, approved_at=None)
            )
            uow.commit()
        raise
    with ports.uow() as uow:
        row = _load(uow.session, draft_id)
        row.status = "sent" if message.status == "sent" else "approved"
        row.outbound_message_id = message.id
        _end_timeline_entry(uow.session, draft_id)
        uow.commit()
        logger.info(
            "draft %s approved by user %s in tenant %s: message %s %s",
            draft_id,
            principal.user_id,
            ports.tenant,
            message.id,
            message.status,
        )
        return _view(row), message


def discard_draft(ports: SendingPorts, principal: Principal, draft_id: int) -> DraftView:
    """End a pending draft without sending (step 4)."""
    require_write(principal.role)
    with ports.uow() as uow:
        row = _load(uow.session, draft_id)
        _may_see(uow.session, principal, row)
        if row.status == "discarded":
            return _view(row)
        if row.status != "pending_approval":
            raise Conflict(f"draft {draft_id} is {row.status}; it can no longer be discarded")
        row.status = "discarded"
        _end_timeline_entry(uow.session, draft_id)
        record_event(
            uow, action="draft.discarded", actor_user_id=principal.user_id, target=f"draft:{row.id}"
        )
        uow.commit()
        return _view(row)
