"""Who last set a record's field: ``google`` (the Contacts import) or ``user`` (a CRM edit).

The merge rule of the Google Contacts import (:mod:`inboxcrm.services.contact_import`) reads
it: an import may write a field only while its source is ``google``, or while it has no
recorded source and is empty. :func:`mark_user_fields` is called by every edit of a Contact or
Account (``services.records``), so a field a user changed is never overwritten by an import.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.google_contact_tables import RecordFieldSourceRow
from inboxcrm.adapters.db.types import utcnow

__all__ = ["GOOGLE", "USER", "field_sources", "mark_fields", "mark_user_fields"]

GOOGLE = "google"
USER = "user"


def field_sources(session: Session, kind: str, record_id: int) -> dict[str, str]:
    """Field → source for one record (fields never marked are absent)."""
    rows = session.execute(
        select(RecordFieldSourceRow.field, RecordFieldSourceRow.source).where(
            RecordFieldSourceRow.record_kind == kind, RecordFieldSourceRow.record_id == record_id
        )
    )
    return {row.field: row.source for row in rows}


def mark_fields(
    session: Session, kind: str, record_id: int, names: Iterable[str], source: str
) -> None:
    """Record ``source`` as the setter of ``names`` (inside the caller's unit of work)."""
    wanted = sorted(set(names))
    if not wanted:
        return
    existing = {
        row.field: row
        for row in session.scalars(
            select(RecordFieldSourceRow).where(
                RecordFieldSourceRow.record_kind == kind,
                RecordFieldSourceRow.record_id == record_id,
                RecordFieldSourceRow.field.in_(wanted),
            )
        )
    }
    now = utcnow()
    for name in wanted:
        row = existing.get(name)
        if row is None:
            session.add(
                RecordFieldSourceRow(
                    record_kind=kind, record_id=record_id, field=name, source=source, changed_at=now
                )
            )
        elif row.source != source:
            row.source = source
            row.changed_at = now
    session.flush()


def mark_user_fields(session: Session, kind: str, record_id: int, names: Iterable[str]) -> None:
    """A user edited ``names`` of the record in the CRM: imports keep their hands off them."""
    mark_fields(session, kind, record_id, names, USER)
