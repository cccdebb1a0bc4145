"""``/api/v1/notes``: notes on Leads, Contacts and Accounts (each also on the record's timeline)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from inboxcrm.domain.records import RecordKind
from inboxcrm.services import notes
from inboxcrm.web.api.pages import PageOut
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, IdFilter, Limit, ResourceId
from inboxcrm.web.deps import CurrentPrincipal, TenantUow, WriterPrincipal

router = APIRouter(prefix="/notes", tags=["notes"])


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    record_kind: str
    record_id: int
    body: str
    author_user_id: int | None
    created_at: datetime
    updated_at: datetime


@router.get("", response_model=PageOut[NoteOut])
def list_notes(
    _principal: CurrentPrincipal,
    uow: TenantUow,
    record_kind: RecordKind | None = None,
    record_id: IdFilter = None,
    author_user_id: IdFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> PageOut[NoteOut]:
    page = notes.list_notes(
        uow,
        record_kind=record_kind,
        record_id=record_id,
        author_user_id=author_user_id,
        cursor=cursor,
        limit=limit,
    )
    return PageOut(
        items=[NoteOut.model_validate(x) for x in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201, response_model=NoteOut)
def create_note(principal: WriterPrincipal, uow: TenantUow, body: notes.NoteCreate) -> NoteOut:
    return NoteOut.model_validate(notes.create_note(uow, principal, body))


@router.get("/{id}", response_model=NoteOut)
def get_note(_principal: CurrentPrincipal, uow: TenantUow, note_id: ResourceId) -> NoteOut:
    return NoteOut.model_validate(notes.get_note(uow, note_id))


@router.patch("/{id}", response_model=NoteOut)
def update_note(
    principal: WriterPrincipal, uow: TenantUow, note_id: ResourceId, body: notes.NotePatch
) -> NoteOut:
    return NoteOut.model_validate(notes.update_note(uow, principal, note_id, body))


@router.delete("/{id}", status_code=204, response_class=Response)
def delete_note(principal: WriterPrincipal, uow: TenantUow, note_id: ResourceId) -> Response:
    notes.delete_note(uow, principal, note_id)
    return Response(status_code=204)
