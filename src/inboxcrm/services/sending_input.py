"""What a user asks to send (``POST /api/v1/messages``, the composer), checked field by field.

:class:`MessageRequest` is the public JSON shape; :func:`prepare_request` turns it into a
:class:`PreparedMessage` whose every header value passed
:func:`~inboxcrm.domain.outgoing_mail.check_header_text` and whose addresses were parsed one per
value, or raises ``InvalidInput`` naming the offending field (``to``, ``cc``, ``bcc``,
``subject``, ``from``, ``attachments``) — a 422 problem document.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from inboxcrm.domain.errors import InvalidInput
from inboxcrm.domain.outgoing_mail import (
    MAX_MESSAGE_BYTES,
    MAX_SUBJECT_CHARS,
    OutgoingAttachment,
    Recipient,
    check_header_text,
    parse_recipient,
)

__all__ = [
    "AttachmentIn",
    "MessageEdit",
    "MessageRequest",
    "PreparedMessage",
    "RecordRef",
    "prepare_edit",
    "prepare_request",
]

MAX_RECIPIENTS = 100
MAX_BODY_CHARS = 2_000_000


class RecordRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["contact", "lead", "account"]
    id: int = Field(ge=1, le=2**31 - 1)


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(default="application/octet-stream", max_length=200)
    content_base64: str


class MessageRequest(BaseModel):
    """``POST /api/v1/messages``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    mail_account_id: int = Field(ge=1, le=2**31 - 1)
    to: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    cc: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    subject: str = Field(default="", max_length=MAX_SUBJECT_CHARS)
    body_text: str = Field(default="", max_length=MAX_BODY_CHARS)
    body_html: str | None = Field(default=None, max_length=MAX_BODY_CHARS)
    reply_to_message_id: str | None = Field(default=None, max_length=100)
    record: RecordRef
    track: bool | None = None
    """Open/click tracking; None means the sender's default (Setup → Email; off unless set)."""
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)
    from_: str | None = Field(default=None, alias="from", max_length=400)


class MessageEdit(BaseModel):
    """``POST /api/v1/messages/{id}/retry`` may change these of a failed message first."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] | None = Field(default=None, max_length=MAX_RECIPIENTS)
    cc: list[str] | None = Field(default=None, max_length=MAX_RECIPIENTS)
    bcc: list[str] | None = Field(default=None, max_length=MAX_RECIPIENTS)
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT_CHARS)
    body_text: str | None = Field(default=None, max_length=MAX_BODY_CHARS)
    body_html: str | None = Field(default=None, max_length=MAX_BODY_CHARS)


@dataclass(frozen=True)
class PreparedMessage:
    to: tuple[Recipient, ...]
    cc: tuple[Recipient, ...]
    bcc: tuple[Recipient, ...]
    subject: str
    body_text: str
    body_html: str | None
    from_address: Recipient | None
    attachments: tuple[OutgoingAttachment, ...]


def _recipients(values: list[str], field: str) -> tuple[Recipient, ...]:
    return tuple(parse_recipient(value, field) for value in values)


def _attachments(items: list[AttachmentIn]) -> tuple[OutgoingAttachment, ...]:
    decoded: list[OutgoingAttachment] = []
    total = 0
    for item in items:
        check_header_text(item.filename, "attachments")
        check_header_text(item.content_type, "attachments")
        try:
            content = base64.b64decode(item.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                f"attachment {item.filename!r} is not valid base64", field="attachments"
            ) from None
        total += len(content)
        if total > MAX_MESSAGE_BYTES:
            raise MessageTooLarge("the attachments are larger than Gmail's 35 MiB limit")
        decoded.append(OutgoingAttachment(item.filename, item.content_type, content))
    return tuple(decoded)


class MessageTooLarge(InvalidInput):
    """The message would exceed what Gmail accepts (35 MiB)."""

    code = "message_too_large"
    status = 413

    def __init__(self, message: str) -> None:
        super().__init__(message, field="attachments")


def _check_recipients(
    to: tuple[Recipient, ...], cc: tuple[Recipient, ...], bcc: tuple[Recipient, ...]
) -> None:
    if not (to or cc or bcc):
        raise InvalidInput("a message needs at least one recipient", field="to")
    if len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS:
        raise InvalidInput(f"at most {MAX_RECIPIENTS} recipients in all", field="to")


def prepare_request(request: MessageRequest) -> PreparedMessage:
    """Check every field of ``request``; InvalidInput names the first bad one."""
    to = _recipients(request.to, "to")
    cc = _recipients(request.cc, "cc")
    bcc = _recipients(request.bcc, "bcc")
    _check_recipients(to, cc, bcc)
    subject = check_header_text(request.subject, "subject")
    sender = parse_recipient(request.from_, "from") if request.from_ else None
    return PreparedMessage(
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        body_text=request.body_text,
        body_html=request.body_html or None,
        from_address=sender,
        attachments=_attachments(request.attachments),
    )


def prepare_edit(edit: MessageEdit) -> dict[str, object]:
    """The checked changes of a retry: column name → new value (only fields that were given)."""
    changes: dict[str, object] = {}
    for field in ("to", "cc", "bcc"):
        values = getattr(edit, field)
        if values is not None:
            _recipients(values, field)
            changes[f"{field}_addresses"] = [value.strip() for value in values]
    if edit.subject is not None:
        changes["subject"] = check_header_text(edit.subject, "subject")
    if edit.body_text is not None:
        changes["body_text"] = edit.body_text
    if edit.body_html is not None:
        changes["body_html"] = edit.body_html or None
    return changes
