"""``GET /api/v1/{leads|contacts|accounts}/{id}/timeline``: a record's activity, newest first.

Every item has ``id``, ``kind``, ``occurred_at``, ``summary``, ``match_reason`` and
``match_detail``. Email items add the message's provider ids, headers and attachment metadata
(never its body); note items add ``body`` and ``author_user_id``; meeting items add ``title``,
``start``, ``end``, ``status`` (``confirmed`` | ``cancelled``), ``location``, ``attendees``
(``email``, ``name``, ``response``) and ``provider_event_id``.

Mail sharing applies: colleagues' mail the caller may not see is not on the page at all, and an
email item's ``detail`` says what the caller sees of it (``metadata``: ``subject`` and
``snippet`` are null, ``summary`` empty and ``attachments`` empty; ``subject``: snippet and
attachments withheld; ``everything``). ``own`` marks mail of the caller's own mailboxes;
``email_thread_id`` is the id for ``/api/v1/email-threads/{id}/sharing``.

An email held by several colleagues' mailboxes is one item; ``mailboxes`` names the mailboxes
whose copy the caller may see (see :mod:`inboxcrm.services.timeline` for which copy is shown).
The published schema is a ``oneOf`` with a discriminator on ``kind``: ``email``, ``note``,
``meeting``, or
the common fields for any other kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from inboxcrm.domain.records import RECORD_KINDS
from inboxcrm.services import timeline
from inboxcrm.services.mail_sharing import mail_viewer
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, Limit, ResourceId
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow

router = APIRouter(tags=["timeline"])

KindFilter = Annotated[
    list[str] | None,
    Query(max_length=10, description="Only entries of these kinds (repeat for several)"),
]


#: Entry kinds other than email and note that the published schema names (the "other" branch
#: accepts any kind but these two, so every item matches exactly one branch).
OTHER_KINDS = ("call", "tracking", "draft", "sync_notice")
_OWN_BRANCH_KINDS = ["email", "note", "meeting"]


class TimelineItemOut(BaseModel):
    """An entry of a kind without fields of its own (meeting, tracking, ...)."""

    id: int
    kind: Annotated[str, Field(json_schema_extra={"not": {"enum": _OWN_BRANCH_KINDS}})]
    occurred_at: datetime
    summary: str
    match_reason: str | None
    match_detail: str | None


class AttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    mime_type: str
    size: int
    content_id: str | None


class MailboxOut(BaseModel):
    """A mailbox holding a copy of the email (one the caller may see)."""

    mail_account_id: int
    email: str


class EmailItemOut(TimelineItemOut):
    """An email message, once per record however many colleagues' mailboxes hold it.

    The provider ids (``provider_message_id``, ``thread_id``: the provider's thread id) and
    ``mail_account_id`` are those of the caller's own copy when they hold one, else of the copy
    they may see in most detail; ``mailboxes`` lists every mailbox whose copy the caller may see.
    """

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["email"]
    email_message_id: int
    """The id of the copy shown (``/api/v1/email-messages/{id}``: archive, read, remove)."""
    mail_account_id: int
    provider_message_id: str
    thread_id: str
    message_id_header: str | None
    subject: str | None
    from_: str | None = Field(alias="from")
    from_name: str | None
    to: list[str]
    cc: list[str]
    direction: str
    sent_at: datetime
    snippet: str | None
    attachments: list[AttachmentOut]
    email_thread_id: int
    detail: Literal["metadata", "subject", "everything"]
    own: bool
    mailboxes: list[MailboxOut]


class NoteItemOut(TimelineItemOut):
    kind: Literal["note"]
    body: str
    author_user_id: int | None


class MeetingAttendeeOut(BaseModel):
    email: str
    name: str
    response: str
    """Google's responseStatus: needsAction, accepted, declined or tentative."""


class MeetingItemOut(TimelineItemOut):
    """A meeting from Google Calendar or created in inboxcrm (``/api/v1/meetings/{id}``)."""

    kind: Literal["meeting"]
    meeting_id: int
    title: str
    start: datetime
    end: datetime
    status: Literal["confirmed", "cancelled"]
    location: str
    attendees: list[MeetingAttendeeOut]
    provider_event_id: str | None
    mail_account_id: int
    organizer_email: str


def _item_tag(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in ("email", "note", "meeting") else "other"


TimelineEntryOut = Annotated[
    Annotated[EmailItemOut, Tag("email")]
    | Annotated[NoteItemOut, Tag("note")]
    | Annotated[MeetingItemOut, Tag("meeting")]
    | Annotated[TimelineItemOut, Tag("other")],
    Discriminator(_item_tag),
]


def _with_kind_discriminator(schema: dict[str, Any]) -> None:
    """Publish the union of ``items`` with an OpenAPI discriminator on ``kind``.

    The branches already exclude each other by ``kind`` (``email``, ``note``, any other), so a
    plain JSON Schema validator finds exactly one; the discriminator tells OpenAPI tools which.
    """
    union = schema["properties"]["items"]["items"]
    # The branches in TimelineEntryOut's order (pydantic rewrites these refs, strings included).
    email_ref, note_ref, meeting_ref, other_ref = (branch["$ref"] for branch in union["oneOf"])
    mapping = {"email": email_ref, "note": note_ref, "meeting": meeting_ref}
    mapping.update(dict.fromkeys(OTHER_KINDS, other_ref))
    union["discriminator"] = {"propertyName": "kind", "mapping": mapping}


class TimelinePageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra=_with_kind_discriminator)

    items: list[TimelineEntryOut]
    next_cursor: str | None


def _common(item: timeline.TimelineItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "occurred_at": item.occurred_at,
        "summary": item.summary,
        "match_reason": item.match_reason,
        "match_detail": item.match_detail,
    }


def _item_out(
    item: timeline.TimelineEntry,
) -> EmailItemOut | NoteItemOut | MeetingItemOut | TimelineItemOut:
    if isinstance(item, timeline.EmailItem):
        return EmailItemOut(
            **_common(item),
            email_message_id=item.message_id,
            mail_account_id=item.mail_account_id,
            provider_message_id=item.provider_message_id,
            thread_id=item.thread_id,
            message_id_header=item.message_id_header,
            subject=item.subject,
            from_=item.from_address,
            from_name=item.from_name,
            to=list(item.to),
            cc=list(item.cc),
            direction=item.direction,
            sent_at=item.sent_at,
            snippet=item.snippet,
            attachments=[AttachmentOut.model_validate(a) for a in item.attachments],
            email_thread_id=item.email_thread_id,
            detail=item.detail.value,
            own=item.own,
            mailboxes=[
                MailboxOut(mail_account_id=m.mail_account_id, email=m.email) for m in item.mailboxes
            ],
        )
    if isinstance(item, timeline.NoteItem):
        return NoteItemOut(**_common(item), body=item.body, author_user_id=item.author_user_id)
    if isinstance(item, timeline.MeetingItem):
        return MeetingItemOut(
            **_common(item),
            meeting_id=item.meeting_id,
            title=item.title,
            start=item.start,
            end=item.end,
            status="cancelled" if item.status == "cancelled" else "confirmed",
            location=item.location,
            attendees=[
                MeetingAttendeeOut(
                    email=str(a.get("email") or ""),
                    name=str(a.get("name") or ""),
                    response=str(a.get("response") or "needsAction"),
                )
                for a in item.attendees
            ],
            provider_event_id=item.provider_event_id,
            mail_account_id=item.mail_account_id,
            organizer_email=item.organizer_email,
        )
    return TimelineItemOut(**_common(item))


def _timeline_route(record_kind: str) -> Callable[..., TimelinePageOut]:
    def read_timeline(
        principal: CurrentPrincipal,
        runtime: RuntimeDep,
        uow: TenantUow,
        record_id: ResourceId,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
        kind: KindFilter = None,
    ) -> TimelinePageOut:
        page = timeline.timeline_page(
            uow,
            record_kind,
            record_id,
            cursor=cursor,
            limit=limit,
            kinds=kind,
            viewer=mail_viewer(runtime, principal),
        )
        return TimelinePageOut(
            items=[_item_out(item) for item in page.items], next_cursor=page.next_cursor
        )

    read_timeline.__name__ = f"read_{record_kind}_timeline"
    return read_timeline


for _kind in RECORD_KINDS:
    router.add_api_route(
        f"/{_kind}s/{{id}}/timeline",
        _timeline_route(_kind),
        methods=["GET"],
        response_model=TimelinePageOut,
        response_model_by_alias=True,
        summary=f"Timeline of a {_kind}",
        tags=[f"{_kind}s"],
    )
