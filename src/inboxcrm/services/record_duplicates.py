"""Finding records that already hold an email address, so a new one is never a silent duplicate.

Two records may share an address on purpose (a shared inbox, a person who changed company), so
nothing here refuses a write: the create form asks :func:`records_sharing_emails` first and, when
it finds any, shows them and lets the user open the existing record or create the new one anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import RecordEmailRow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.domain.errors import InvalidInput, NotFound
from inboxcrm.domain.records import RecordKind, normalize_record_emails
from inboxcrm.services.records import get_record, record_alive

__all__ = ["ExistingRecord", "records_sharing_emails"]

_MAX_SHOWN = 10


@dataclass(frozen=True)
class ExistingRecord:
    """A live record that already has ``email``."""

    kind: RecordKind
    id: int
    name: str
    email: str


def records_sharing_emails(
    uow: UnitOfWork, emails: Iterable[str], *, kinds: Iterable[RecordKind] | None = None
) -> list[ExistingRecord]:
    """Live records (of ``kinds``, default all) that have any of ``emails``, at most ten."""
    try:
        canonical = normalize_record_emails(list(emails))
    except InvalidInput:
        return []  # the create itself reports what is wrong with the addresses
    if not canonical:
        return []
    query = (
        select(RecordEmailRow.record_kind, RecordEmailRow.record_id, RecordEmailRow.email)
        .where(
            RecordEmailRow.email.in_(canonical),
            record_alive(RecordEmailRow.record_kind, RecordEmailRow.record_id),
        )
        .order_by(RecordEmailRow.record_kind, RecordEmailRow.record_id)
        .limit(_MAX_SHOWN)
    )
    wanted = set(kinds) if kinds is not None else None
    found: list[ExistingRecord] = []
    for kind_text, record_id, email in uow.session.execute(query):
        kind = cast(RecordKind, kind_text)
        if wanted is not None and kind not in wanted:
            continue
        try:
            name = get_record(uow, kind, record_id).display_name
        except NotFound:  # deleted between the two reads
            continue
        found.append(ExistingRecord(kind=kind, id=record_id, name=name, email=email))
    return found
