"""Read-only summaries of a tenant's CRM for its home page: how many records, what happened lately.

Counts leave out deleted records; recent activity is the newest items on the timelines of live
records, each item once with the names of the records it is on (an email linked to a contact and
to its account is one entry naming both), under the reader's mail sharing (colleagues' mail
they may not see is left out, and its subject withheld where only metadata is shared).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
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
from inboxcrm.domain.sharing import Detail
from inboxcrm.services.mail_sharing import EMAIL_KIND, MailViewer, ReadScope, read_scope
from inboxcrm.services.records import record_alive

__all__ = ["RecentActivity", "RecordCounts", "RecordRef", "recent_activity", "record_counts"]

MAX_RECENT = 50


@dataclass(frozen=True)
class RecordCounts:
    leads: int
    contacts: int
    accounts: int
    open_deals: int


@dataclass(frozen=True)
class RecordRef:
    kind: str
    id: int
    name: str


@dataclass(frozen=True)
class RecentActivity:
    """One item of recent activity and the records it is on (``record_*``: the first of them)."""

    id: int
    kind: str
    occurred_at: datetime
    summary: str
    record_kind: str
    record_id: int
    record_name: str
    records: tuple[RecordRef, ...] = ()


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


def _email_details(
    uow: UnitOfWork, sharing: ReadScope, key_ids: Collection[int]
) -> dict[int, Detail]:
    """The most detail ``sharing``'s reader may see of each email, over its visible copies."""
    best: dict[int, Detail] = {}
    if not key_ids:
        return best
    rows = uow.session.execute(
        select(
            EmailMessageRow.message_key_id,
            EmailMessageRow.mail_account_id,
            EmailThreadRow.sharing,
            EmailThreadRow.sharing_detail,
        )
        .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
        .where(
            EmailMessageRow.message_key_id.in_(sorted(key_ids)),
            EmailMessageRow.deleted_at.is_(None),
        )
    )
    for key_id, account_id, thread_sharing, thread_detail in rows:
        detail = sharing.detail_for(account_id, thread_sharing, thread_detail)
        if detail is not None and (key_id not in best or detail.rank > best[key_id].rank):
            best[key_id] = detail
    return best


def recent_activity(uow: UnitOfWork, viewer: MailViewer, limit: int = 10) -> list[RecentActivity]:
    """The newest ``limit`` items (at most :data:`MAX_RECENT`) on live records' timelines, as
    ``viewer`` may see them: each item once (an email on a contact and its account is one
    entry naming both records)."""
    limit = max(1, min(limit, MAX_RECENT))
    sharing = read_scope(uow, viewer)
    visible = (
        ActivityRow.deleted_at.is_(None),
        record_alive(ActivityRow.record_kind, ActivityRow.record_id),
        sharing.entry_visible(),
    )
    newest = func.max(ActivityRow.occurred_at)
    items = uow.session.execute(
        select(ActivityRow.kind, ActivityRow.ref_id, newest, func.max(ActivityRow.id))
        .where(*visible)
        .group_by(ActivityRow.kind, ActivityRow.ref_id)
        .order_by(newest.desc(), func.max(ActivityRow.id).desc())
        .limit(limit)
    ).all()
    if not items:
        return []
    wanted = {(kind, ref_id) for kind, ref_id, _, _ in items}
    entries: dict[tuple[str, int], list[ActivityRow]] = defaultdict(list)
    for row in uow.session.scalars(
        select(ActivityRow)
        .where(*visible, ActivityRow.ref_id.in_(sorted({ref for _, ref in wanted})))
        .order_by(ActivityRow.id)
    ):
        if (row.kind, row.ref_id) in wanted:
            entries[row.kind, row.ref_id].append(row)
    names = _record_names(
        uow, {(r.record_kind, r.record_id) for rows in entries.values() for r in rows}
    )
    details = _email_details(uow, sharing, [ref for kind, ref in wanted if kind == EMAIL_KIND])
    recent: list[RecentActivity] = []
    for kind, ref_id, _, _ in items:
        rows = entries.get((kind, ref_id))
        if not rows:
            continue
        first = rows[0]
        summary = first.summary
        if kind == EMAIL_KIND:
            detail = details.get(ref_id)
            if detail is None:
                continue
            summary = summary if detail.shows_subject else ""
        records = tuple(
            RecordRef(
                r.record_kind,
                r.record_id,
                names.get((r.record_kind, r.record_id), f"#{r.record_id}"),
            )
            for r in rows
        )
        recent.append(
            RecentActivity(
                id=first.id,
                kind=kind,
                occurred_at=max(r.occurred_at for r in rows),
                summary=summary,
                record_kind=first.record_kind,
                record_id=first.record_id,
                record_name=records[0].name,
                records=records,
            )
        )
    return recent
