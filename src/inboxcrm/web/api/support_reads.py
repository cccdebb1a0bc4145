"""``/api/v1/support``: what support staff read of the mail owners flagged for support
(services.support_reads). Staff call with their staff token and ``X-Inboxcrm-Tenant`` under a
live support grant; anyone else gets 403.

GET /support/flagged-mail             the live flags: target, reason, expiry, message ids
GET /support/email-messages/{id}      a message a live flag names (itself or its thread)
GET /support/email-threads/{id}       the messages of a thread a live flag names as a whole

403 ``not_flagged_for_support`` for any other message or thread (existing or not), once the flag
expired or was withdrawn; each read and each refusal is audited (``support_flag.read``).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from inboxcrm.services import support_reads
from inboxcrm.web.api.exports import client_ip
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep
from inboxcrm.web.ui.mail_html import sanitize_mail_html

router = APIRouter(prefix="/support", tags=["privacy"])


class FlaggedItemOut(BaseModel):
    flag_id: int
    target: str
    mail_account_id: int
    reason: str
    expires_at: datetime
    message_ids: list[int]


class FlaggedList(BaseModel):
    items: list[FlaggedItemOut]
    next_cursor: str | None = None


class FlaggedMessageOut(BaseModel):
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
    body_html: str | None  # sanitised
    source: str


class FlaggedThreadOut(BaseModel):
    id: int
    messages: list[FlaggedMessageOut]


def _message_out(message: support_reads.FlaggedMessage) -> FlaggedMessageOut:
    return FlaggedMessageOut(
        id=message.id,
        thread_id=message.thread_id,
        provider_message_id=message.provider_message_id,
        subject=message.subject,
        from_address=message.from_address,
        from_name=message.from_name,
        to=message.to,
        cc=message.cc,
        sent_at=message.sent_at,
        direction=message.direction,
        body_text=message.body_text,
        body_html=sanitize_mail_html(message.body_html) if message.body_html else None,
        source=message.source,
    )


@router.get("/flagged-mail", response_model=FlaggedList)
def list_flagged_mail(principal: CurrentPrincipal, runtime: RuntimeDep) -> FlaggedList:
    """The mail that mailbox owners flagged for support, while the flags live (staff only)."""
    items = support_reads.list_flagged(runtime, principal)
    return FlaggedList(
        items=[
            FlaggedItemOut(
                flag_id=i.flag_id,
                target=i.target,
                mail_account_id=i.mail_account_id,
                reason=i.reason,
                expires_at=i.expires_at,
                message_ids=i.message_ids,
            )
            for i in items
        ]
    )


@router.get("/email-messages/{id}", response_model=FlaggedMessageOut)
def read_flagged_message(
    principal: CurrentPrincipal, runtime: RuntimeDep, request: Request, message_id: ResourceId
) -> FlaggedMessageOut:
    """Read one message flagged for support (staff only; audited)."""
    message = support_reads.read_flagged_message(
        runtime, principal, message_id, ip=client_ip(request)
    )
    return _message_out(message)


@router.get("/email-threads/{id}", response_model=FlaggedThreadOut)
def read_flagged_thread(
    principal: CurrentPrincipal, runtime: RuntimeDep, request: Request, thread_id: ResourceId
) -> FlaggedThreadOut:
    """Read a thread flagged for support as a whole (staff only; audited)."""
    messages = support_reads.read_flagged_thread(
        runtime, principal, thread_id, ip=client_ip(request)
    )
    return FlaggedThreadOut(id=thread_id, messages=[_message_out(m) for m in messages])
