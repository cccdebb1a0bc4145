"""``/api/v1/notes``: notes on Leads, Contacts and Accounts (each also on the record's timeline)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from inboxcrm.domain.records import RecordKind
from inboxcrm.services import notes
from inboxcrm.web.api.pages import PageOut, page_out
from inboxcrm.web.api.params import DEFAULT_LIMIT, Cursor, IdFilter, Limit
from inboxcrm.web.api.resource_routes import add_item_routes
from inboxcrm.web.deps import CurrentPrincipal, TenantUow

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
    return page_out(NoteOut, page)


add_item_routes(
    router,
    "note",
    NoteOut,
    create_model=notes.NoteCreate,
    patch_model=notes.NotePatch,
    create=notes.create_note,
    get=notes.get_note,
    update=notes.update_note,
    delete=notes.delete_note,
)
