"""``GET /api/v1/email-messages/{id}/content``: a message's subject and bodies for a reader who
may see it in full; under the ``live`` storage policy fetched from Gmail (services.live_mail)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from inboxcrm.services import live_mail
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep
from inboxcrm.web.ui.mail_html import sanitize_mail_html

router = APIRouter(prefix="/email-messages", tags=["mail"])


class ContentOut(BaseModel):
    id: int
    provider_message_id: str
    subject: str
    body_text: str | None
    body_html: str | None  # sanitised
    source: str


@router.get("/{id}/content", response_model=ContentOut)
def get_content(
    principal: CurrentPrincipal, runtime: RuntimeDep, message_id: ResourceId
) -> ContentOut:
    content = live_mail.message_content(runtime, principal, message_id)
    return ContentOut(
        id=content.message_id,
        provider_message_id=content.provider_message_id,
        subject=content.subject,
        body_text=content.body_text,
        body_html=sanitize_mail_html(content.body_html) if content.body_html else None,
        source=content.source,
    )
