"""Read-only summaries of a tenant's CRM for its home page: how many records, what happened lately.

Counts leave out deleted records; recent activity is the newest timeline entries across all live
records, each with the name of the record it belongs to, under the reader's mail sharing
(colleagues' mail they may not see is left out, and its subject withheld where only metadata is
shared).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    ActivityRow,
    ContactRow,
    DealRow,
    EmailMessageRow,
    EmailThreadRow,
    LeadRow,
)
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.services.mail_sharing import MailViewer, read_scope, with_email_sharing
from inboxcrm.services.records import record_alive

__all__ = ["RecentActivity", "RecordCounts", "recent_activity", "record_counts"]

MAX_RECENT = 50


@dataclass(frozen=True)
class RecordCounts:
    leads: int
    contacts: int
    accounts: int
    open_deals: int


@dataclass(frozen=True)
class RecentActivity:
    """A timeline entry and the record it is on."""

    id: int
    kind: str
    occurred_at: datetime
    summary: str
    record_kind: str
    record_id: int
    record_name: str


def record_counts(uow: UnitOfWork) -> RecordCounts:
    """How many live leads, contacts, accounts and open deals the tenant has."""

    def live(row_cls: type[LeadRow] | type[ContactRow] | type[AccountRow] | type[DealRow]) -> int:
        query = select(func.count()).select_from(row_cls).where(row_cls.deleted_at.is_(None))
        if row_cls is DealRow:
            query = query.where(DealRow.status == "open")
        return int(uow.session.scalar(query) or 0)

    return RecordCounts(
        leads=live(LeadRow), contacts=live(ContactRow), accounts=live(AccountRow),
        open_deals=live(DealRow),
    )  # fmt: skip


def _record_names(uow: UnitOfWork, keys: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    ids: dict[str, list[int]] = defaultdict(list)
    for kind, record_id in keys:
        ids[kind].append(record_id)
    names: dict[tuple[str, int], str] = {}
    if ids.get("account"):
        for account_id, name in uow.session.execute(
            select(AccountRow.id, AccountRow.name).where(AccountRow.id.in_(ids["account"]))
        ):
            names["account", account_id] = name
    for kind, person_cls in (("lead", LeadRow), ("contact", ContactRow)):
        if not ids.get(kind):
            continue
        rows = uow.session.execute(
            select(person_cls.id, person_cls.first_name, person_cls.last_name).where(
                person_cls.id.in_(ids[kind])
            )
        )
        for person_id, first, last in rows:
            names[kind, person_id] = f"{first} {last}".strip() or f"{kind.title()} #{person_id}"
    return names


def recent_activity(uow: UnitOfWork, viewer: MailViewer, limit: int = 10) -> list[RecentActivity]:
    """The newest ``limit`` timeline entries (at most :data:`MAX_RECENT`) of live records, as
    ``viewer`` may see them."""
    limit = max(1, min(limit, MAX_RECENT))
    sharing = read_scope(uow, viewer)
    query = with_email_sharing(
        select(
            ActivityRow,
            EmailMessageRow.mail_account_id,
            EmailThreadRow.sharing,
            EmailThreadRow.sharing_detail,
        )
    )
    found = uow.session.execute(
        query.where(
            ActivityRow.deleted_at.is_(None),
            record_alive(ActivityRow.record_kind, ActivityRow.record_id),
            sharing.entry_visible(),
        )
        .order_by(ActivityRow.occurred_at.desc(), ActivityRow.id.desc())
        .limit(limit)
    ).all()
    names = _record_names(uow, {(r.record_kind, r.record_id) for r, *_ in found})
    recent: list[RecentActivity] = []
    for r, account_id, thread_sharing, thread_detail in found:
        summary = r.summary
        if account_id is not None:
            detail = sharing.detail_for(account_id, thread_sharing, thread_detail)
            if detail is None:
                continue
            summary = summary if detail.shows_subject else ""
        recent.append(
            RecentActivity(
                id=r.id,
                kind=r.kind,
                occurred_at=r.occurred_at,
                summary=summary,
                record_kind=r.record_kind,
                record_id=r.record_id,
                record_name=names.get((r.record_kind, r.record_id), f"#{r.record_id}"),
            )
        )
    return recent
