"""Where contacts came from: ``google`` when a Google Contacts import created or matched them.

Read by the contact views (``services.records``); written only by
:mod:`inboxcrm.services.contact_import`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.google_contact_tables import GoogleContactLinkRow

__all__ = ["ContactSource", "contact_sources"]


@dataclass(frozen=True)
class ContactSource:
    source: str
    deleted_at: datetime | None
    """Set when every Google contact linked to the CRM contact was deleted in Google."""


def contact_sources(session: Session, contact_ids: Sequence[int]) -> dict[int, ContactSource]:
    """Contact id → its source, for the contacts among ``contact_ids`` that have one."""
    if not contact_ids:
        return {}
    links: dict[int, list[datetime | None]] = defaultdict(list)
    rows = session.execute(
        select(GoogleContactLinkRow.contact_id, GoogleContactLinkRow.deleted_at).where(
            GoogleContactLinkRow.contact_id.in_(list(contact_ids))
        )
    )
    for row in rows:
        links[row.contact_id].append(row.deleted_at)
    found: dict[int, ContactSource] = {}
    for contact_id, deleted in links.items():
        gone = None if any(d is None for d in deleted) else max(d for d in deleted if d)
        found[contact_id] = ContactSource(source="google", deleted_at=gone)
    return found
