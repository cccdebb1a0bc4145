"""``/api/v1/messages``: compose, reply and send through the user's own Gmail, and retry.

``POST /messages`` answers 201 with the outcome (``status`` ``sent`` or ``failed`` with its
``error``): a message that could not be sent is kept and can be retried (``POST
/messages/{id}/retry``, optionally with edited fields). Bad header values are 422 problem
documents naming the field; a message over Gmail's 35 MiB is a 413.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from inboxcrm.services import sending, tracking
from inboxcrm.services.sending_input import MessageEdit, MessageRequest
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import CurrentPrincipal, TenantUow, WriterPrincipal
from inboxcrm.web.sending_deps import SendingPortsDep

__all__ = ["MessageOut", "router"]

router = APIRouter(prefix="/messages", tags=["messages"])


class RecordOut(BaseModel):
    type: str
    id: int


class TrackingOut(BaseModel):
    """Counted (human) opens and clicks, and the fetches recognised as machines."""

    opens: int
    clicks: int
    proxy_opens: int
    scanner_opens: int
    scanner_clicks: int


class MessageOut(BaseModel):
    """A message written in inboxcrm, sent or not."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    status: str
    provider_message_id: str | None
    thread_id: str | None
    message_id_header: str
    error: str | None
    mail_account_id: int
    record: RecordOut
    from_: str = Field(serialization_alias="from")
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
    draft_id: int | None
    created_at: datetime
    sent_at: datetime | None
    tracking: TrackingOut | None = None


def message_out(
    view: sending.OutboundView, summary: tracking.TrackingSummary | None = None
) -> MessageOut:
    return MessageOut(
        id=view.id,
        status=view.status,
        provider_message_id=view.provider_message_id,
        thread_id=view.thread_id,
        message_id_header=view.message_id_header,
        error=view.error,
        mail_account_id=view.mail_account_id,
        record=RecordOut(type=view.record_kind, id=view.record_id),
        from_=view.from_address,
        to=view.to,
        cc=view.cc,
        bcc=view.bcc,
        subject=view.subject,
        body_text=view.body_text,
        body_html=view.body_html,
        track=view.track,
        opens=view.opens,
        clicks=view.clicks,
        attempts=view.attempts,
        reply_to_message_id=view.reply_to_message_id,
        draft_id=view.draft_id,
        created_at=view.created_at,
        sent_at=view.sent_at,
        tracking=TrackingOut(**asdict(summary)) if summary is not None else None,
    )


@router.post("", status_code=201, response_model=MessageOut, response_model_by_alias=True)
def create_message(
    principal: WriterPrincipal, ports: SendingPortsDep, body: MessageRequest
) -> MessageOut:
    """Compose or reply and send now; the answer says whether it was sent."""
    return message_out(sending.send_message(ports, principal, body))


@router.get("/{id}", response_model=MessageOut, response_model_by_alias=True)
def read_message(principal: CurrentPrincipal, uow: TenantUow, message_id: ResourceId) -> MessageOut:
    view = sending.get_outbound(uow, principal, message_id)
    return message_out(view, tracking.tracking_summary(uow, view.id) if view.track else None)


@router.post("/{id}/retry", response_model=MessageOut, response_model_by_alias=True)
def retry_message(
    principal: WriterPrincipal,
    ports: SendingPortsDep,
    message_id: ResourceId,
    edit: Annotated[MessageEdit | None, Body()] = None,
) -> MessageOut:
    """Send a failed message again (with the given fields changed first)."""
    return message_out(sending.retry_message(ports, principal, message_id, edit))
