"""``/api/v1/meetings`` and calendar syncs (see :mod:`inboxcrm.services.meetings`).

- ``POST /api/v1/meetings`` with ``{"record": {"type", "id"}, "mail_account_id", "title",
  "start", "end", "attendees": [...], "description"?}`` → 201 with ``id`` and
  ``provider_event_id``: stored, on the record's timeline, inserted into the organiser's Google
  Calendar with the attendees (``push_pending`` is true while Google has not taken it yet).
- ``GET /api/v1/meetings/{id}``; ``PATCH /api/v1/meetings/{id}`` (the organiser): ``title``,
  ``start``, ``end``, ``attendees``, ``description``; the Google event is patched with it.
- ``POST /api/v1/mail-accounts/{id}/calendar-sync`` → 202: a calendar sync job is queued.

A workspace without Google Calendar enabled, or a mailbox without the calendar.events
permission, answers 409 (the mailbox then shows a notice).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from inboxcrm.services import meetings
from inboxcrm.web.api.params import MAX_ID, PathId, ResourceId
from inboxcrm.web.deps import CurrentPrincipal, RuntimeDep, TenantUow, WriterPrincipal

__all__ = ["router"]

router = APIRouter(tags=["meetings"])


class RecordRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["lead", "contact", "account"]
    id: int = Field(ge=1, le=MAX_ID)


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: RecordRef
    mail_account_id: int = Field(ge=1, le=MAX_ID)
    title: str = Field(min_length=1, max_length=500)
    start: datetime
    end: datetime
    attendees: list[Annotated[str, Field(min_length=3, max_length=320)]] = Field(
        default_factory=list, max_length=100
    )
    description: str = Field(default="", max_length=8000)


class MeetingPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=500)
    start: datetime | None = None
    end: datetime | None = None
    attendees: list[Annotated[str, Field(min_length=3, max_length=320)]] | None = Field(
        default=None, max_length=100
    )
    description: str | None = Field(default=None, max_length=8000)


class AttendeeOut(BaseModel):
    email: str
    name: str
    response: str


class MeetingRecordOut(BaseModel):
    type: str
    id: int


class MeetingOut(BaseModel):
    id: int
    mail_account_id: int
    provider_event_id: str | None
    recurring_event_id: str | None
    title: str
    description: str
    location: str
    start: datetime
    end: datetime
    all_day: bool
    status: Literal["confirmed", "cancelled"]
    attendees: list[AttendeeOut]
    organizer_email: str
    source: Literal["google", "crm"]
    record: MeetingRecordOut | None
    push_pending: bool


def meeting_out(view: meetings.MeetingView) -> MeetingOut:
    record = (
        MeetingRecordOut(type=view.record_kind, id=view.record_id)
        if view.record_kind and view.record_id is not None
        else None
    )
    return MeetingOut(
        id=view.id,
        mail_account_id=view.mail_account_id,
        provider_event_id=view.provider_event_id,
        recurring_event_id=view.recurring_event_id,
        title=view.title,
        description=view.description,
        location=view.location,
        start=view.start,
        end=view.end,
        all_day=view.all_day,
        status="cancelled" if view.status == "cancelled" else "confirmed",
        attendees=[
            AttendeeOut(
                email=str(a.get("email") or ""),
                name=str(a.get("name") or ""),
                response=str(a.get("response") or "needsAction"),
            )
            for a in view.attendees
        ],
        organizer_email=view.organizer_email,
        source="crm" if view.source == "crm" else "google",
        record=record,
        push_pending=view.push_pending,
    )


@router.post("/meetings", status_code=201, response_model=MeetingOut)
async def create_meeting(
    body: MeetingIn, principal: WriterPrincipal, runtime: RuntimeDep
) -> MeetingOut:
    request = meetings.MeetingRequest(
        record_kind=body.record.type,
        record_id=body.record.id,
        mail_account_id=body.mail_account_id,
        title=body.title,
        start=body.start,
        end=body.end,
        attendees=[str(a) for a in body.attendees],
        description=body.description,
    )
    view = await run_in_threadpool(meetings.create_meeting, runtime, principal, request)
    return meeting_out(view)


@router.get("/meetings/{id}", response_model=MeetingOut)
def read_meeting(principal: CurrentPrincipal, uow: TenantUow, meeting_id: ResourceId) -> MeetingOut:
    return meeting_out(meetings.get_meeting(uow, principal, meeting_id))


@router.patch("/meetings/{id}", response_model=MeetingOut)
async def edit_meeting(
    body: MeetingPatchIn, principal: WriterPrincipal, runtime: RuntimeDep, meeting_id: ResourceId
) -> MeetingOut:
    patch = meetings.MeetingPatch(
        title=body.title,
        start=body.start,
        end=body.end,
        attendees=[str(a) for a in body.attendees] if body.attendees is not None else None,
        description=body.description,
    )
    view = await run_in_threadpool(meetings.update_meeting, runtime, principal, meeting_id, patch)
    return meeting_out(view)


class QueuedOut(BaseModel):
    queued: bool


@router.post("/mail-accounts/{account_id}/calendar-sync", status_code=202, response_model=QueuedOut)
def calendar_sync(account_id: PathId, principal: CurrentPrincipal, uow: TenantUow) -> Any:
    meetings.request_calendar_sync(uow, principal, account_id)
    return QueuedOut(queued=True)
