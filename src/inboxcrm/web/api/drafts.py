"""``/api/v1/drafts``: AI drafts a human approves before anything is sent.

``POST /drafts`` → 201 ``{"id", "status": "pending_approval", "subject", "body_text",
"provider": "anthropic"|"offline", "model", "context_message_ids"}``; ``GET``/``PATCH
/drafts/{id}`` (subject and body, while pending); ``POST /drafts/{id}/approve`` sends it through
the ordinary send path and answers ``{"status": "sent", "message": {...}}``;
``POST /drafts/{id}/discard``. A refused provider key is a 502 problem (``ai_key_refused``).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from inboxcrm.services import drafts
from inboxcrm.web.api.messages import MessageOut, message_out
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import CurrentPrincipal, WriterPrincipal
from inboxcrm.web.sending_deps import DraftingPortsDep, SendingPortsDep

__all__ = ["DraftOut", "router"]

router = APIRouter(prefix="/drafts", tags=["drafts"])


class RecordOut(BaseModel):
    type: str
    id: int


class DraftOut(BaseModel):
    id: int
    status: str
    subject: str
    body_text: str
    provider: str
    model: str | None
    ai: bool
    """False for the offline drafter: its text is "not AI"."""
    context_message_ids: list[str]
    record: RecordOut
    mail_account_id: int
    reply_to_message_id: str | None
    to: list[str]
    approved_by_user_id: int | None
    approved_at: datetime | None
    approved_text_hash: str | None
    message_id: int | None
    created_at: datetime


class ApprovalOut(BaseModel):
    status: str
    draft: DraftOut
    message: MessageOut | None


def draft_out(view: drafts.DraftView) -> DraftOut:
    return DraftOut(
        id=view.id,
        status=view.status,
        subject=view.subject,
        body_text=view.body_text,
        provider=view.provider,
        model=view.model,
        ai=view.provider != "offline",
        context_message_ids=view.context_message_ids,
        record=RecordOut(type=view.record_kind, id=view.record_id),
        mail_account_id=view.mail_account_id,
        reply_to_message_id=view.reply_to_message_id,
        to=view.to,
        approved_by_user_id=view.approved_by_user_id,
        approved_at=view.approved_at,
        approved_text_hash=view.approved_text_hash,
        message_id=view.outbound_message_id,
        created_at=view.created_at,
    )


@router.post("", status_code=201, response_model=DraftOut)
def create_draft(
    principal: WriterPrincipal, ports: DraftingPortsDep, body: drafts.DraftRequest
) -> DraftOut:
    return draft_out(drafts.create_draft(ports, principal, body))


@router.get("/{id}", response_model=DraftOut)
def read_draft(
    principal: CurrentPrincipal, ports: SendingPortsDep, draft_id: ResourceId
) -> DraftOut:
    return draft_out(drafts.get_draft(ports, principal, draft_id))


@router.patch("/{id}", response_model=DraftOut)
def edit_draft(
    principal: WriterPrincipal,
    ports: SendingPortsDep,
    draft_id: ResourceId,
    patch: drafts.DraftPatch,
) -> DraftOut:
    return draft_out(drafts.update_draft(ports, principal, draft_id, patch))


@router.post("/{id}/approve", response_model=ApprovalOut, response_model_by_alias=True)
def approve_draft(
    principal: WriterPrincipal, ports: SendingPortsDep, draft_id: ResourceId
) -> ApprovalOut:
    """Approve and send. Only this sends a draft; approving again sends nothing more."""
    view, message = drafts.approve_draft(ports, principal, draft_id)
    return ApprovalOut(
        status=view.status,
        draft=draft_out(view),
        message=message_out(message) if message is not None else None,
    )


@router.post("/{id}/discard", response_model=DraftOut)
def discard_draft(
    principal: WriterPrincipal, ports: SendingPortsDep, draft_id: ResourceId
) -> DraftOut:
    return draft_out(drafts.discard_draft(ports, principal, draft_id))
