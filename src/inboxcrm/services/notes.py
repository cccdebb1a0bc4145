"""Use cases of Notes: free text on a Lead, Contact or Account, shown on its timeline.

Creating a note also creates its timeline entry (an ``activities`` row of kind ``note``) in the
same transaction; editing it refreshes the entry's summary; deleting it removes both (notes are
the user's own words, so a deleted note is gone rather than hidden). Reps may change and delete
their own notes; managers and above may change anyone's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import ActivityRow, NoteRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput, NotFound, PermissionDenied
from inboxcrm.domain.records import RecordKind, note_summary
from inboxcrm.domain.roles import Role
from inboxcrm.services.identity import Principal
from inboxcrm.services.pagination import DEFAULT_LIMIT, Page, page_by_id
from inboxcrm.services.records import record_alive, require_record

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_NOTE_CHARS",
    "Note",
    "NoteCreate",
    "NotePatch",
    "create_note",
    "delete_note",
    "get_note",
    "list_notes",
    "update_note",
]

MAX_NOTE_CHARS = 20_000
NOTE_KIND = "note"

NoteBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE_CHARS)
]


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_kind: RecordKind
    record_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    body: NoteBody


class NotePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: NoteBody | None = None


@dataclass(frozen=True)
class Note:
    id: int
    record_kind: str
    record_id: int
    body: str
    author_user_id: int | None
    created_at: datetime
    updated_at: datetime


def _view(row: NoteRow) -> Note:
    return Note(
        id=row.id,
        record_kind=row.record_kind,
        record_id=row.record_id,
        body=row.body,
        author_user_id=row.author_user_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _live_note(uow: UnitOfWork, note_id: int) -> NoteRow:
    """A note whose record still exists (a deleted record's notes are gone with it)."""
    row = uow.session.get(NoteRow, note_id)
    if row is None:
        raise NotFound(f"no note with id {note_id}")
    try:
        require_record(uow, row.record_kind, row.record_id)
    except NotFound:
        raise NotFound(f"no note with id {note_id}") from None
    return row


def _require_author_or_manager(principal: Principal, row: NoteRow) -> None:
    if row.author_user_id == principal.user_id:
        return
    if principal.role in (Role.MANAGER, Role.ADMIN, Role.OWNER):
        return
    raise PermissionDenied("only the author or a manager may change this note")


def _note_activity(session: Session, row: NoteRow) -> ActivityRow | None:
    return session.scalar(
        select(ActivityRow).where(
            ActivityRow.record_kind == row.record_kind,
            ActivityRow.record_id == row.record_id,
            ActivityRow.kind == NOTE_KIND,
            ActivityRow.ref_id == row.id,
        )
    )


def list_notes(
    uow: UnitOfWork,
    *,
    record_kind: str | None = None,
    record_id: int | None = None,
    author_user_id: int | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page[Note]:
    """Notes by id, optionally those of one record (which must exist) or of one author."""
    conditions: list[ColumnElement[bool]] = []
    if record_id is not None and record_kind is None:
        raise InvalidInput("record_id needs record_kind", field="record_kind")
    if record_kind is not None:
        if record_id is None:
            conditions.append(NoteRow.record_kind == record_kind)
        else:
            require_record(uow, record_kind, record_id)
            conditions += [NoteRow.record_kind == record_kind, NoteRow.record_id == record_id]
    if author_user_id is not None:
        conditions.append(NoteRow.author_user_id == author_user_id)
    query = select(NoteRow).where(*conditions, record_alive(NoteRow.record_kind, NoteRow.record_id))
    rows, next_cursor = page_by_id(
        uow.session, query, NoteRow.id, "notes", cursor=cursor, limit=limit
    )
    return Page([_view(r) for r in rows], next_cursor)


def get_note(uow: UnitOfWork, note_id: int) -> Note:
    return _view(_live_note(uow, note_id))


def create_note(uow: UnitOfWork, principal: Principal, data: NoteCreate) -> Note:
    """Add a note to a record, and its entry to the record's timeline."""
    require_record(uow, data.record_kind, data.record_id)
    now = utcnow()
    row = NoteRow(
        record_kind=data.record_kind,
        record_id=data.record_id,
        body=data.body,
        author_user_id=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.session.add(
        ActivityRow(
            record_kind=row.record_kind,
            record_id=row.record_id,
            kind=NOTE_KIND,
            ref_id=row.id,
            occurred_at=now,
            summary=note_summary(row.body),
        )
    )
    uow.commit()
    logger.info(
        "note %s added to %s %s by user %s",
        row.id,
        row.record_kind,
        row.record_id,
        principal.user_id,
    )
    return _view(row)


def update_note(uow: UnitOfWork, principal: Principal, note_id: int, patch: NotePatch) -> Note:
    row = _live_note(uow, note_id)
    _require_author_or_manager(principal, row)
    if "body" in patch.model_fields_set:
        if patch.body is None:
            raise InvalidInput("body cannot be null", field="body")
        row.body = patch.body
        activity = _note_activity(uow.session, row)
        if activity is not None:
            activity.summary = note_summary(row.body)
    row.updated_at = utcnow()
    uow.commit()
    logger.info("note %s updated by user %s", note_id, principal.user_id)
    return _view(row)


def delete_note(uow: UnitOfWork, principal: Principal, note_id: int) -> None:
    """Delete a note and its timeline entry."""
    row = _live_note(uow, note_id)
    _require_author_or_manager(principal, row)
    uow.session.execute(
        delete(ActivityRow).where(ActivityRow.kind == NOTE_KIND, ActivityRow.ref_id == row.id)
    )
    uow.session.delete(row)
    uow.commit()
    logger.info("note %s deleted by user %s", note_id, principal.user_id)
