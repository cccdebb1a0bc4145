"""The sync ledger: every message the provider reported in scope, and what became of it.

A row per (mail account, provider message id). The listing phase of a sync writes ``pending``
rows (insert-if-absent, so re-listing after a crash adds nothing twice); the fetch phase turns
them into ``stored`` or ``skipped`` with a reason, in the same transaction that stores the mail.
The ledger is therefore both the checkpoint of a full sync (whatever is still pending is the work
left) and the proof of completeness shown to users: in scope = stored + skipped + pending.

Skip reasons: ``no_match`` (no CRM address after all), ``no_match_headers`` (incremental sync:
headers showed no CRM address, the body was never fetched), ``never_log``, ``unparseable:<why>``,
``label_excluded``, ``draft``, ``vanished`` (deleted before it was fetched), ``storage_policy``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import MailLedgerRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.providers.base import MessageRef
from inboxcrm.sync.inserts import insert_if_absent

__all__ = [
    "LedgerEntry",
    "LedgerSummary",
    "add_pending",
    "known_ids",
    "ledger_entries",
    "ledger_summary",
    "mark_labelled",
    "next_pending",
    "next_pending_refs",
    "record_outcomes",
    "reopen",
    "unlabelled_stored",
]

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    provider_message_id: str
    provider_thread_id: str
    outcome: str
    reason: str | None
    detail: str | None
    labelled: bool
    updated_at: datetime


@dataclass
class LedgerSummary:
    in_scope: int = 0
    stored: int = 0
    skipped: int = 0
    pending: int = 0
    labelled: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)


def add_pending(
    session: Session, account_id: int, refs: Iterable[MessageRef], *, outcome: str = "pending"
) -> int:
    """Record listed messages as pending (those already in the ledger are left alone)."""
    added = 0
    batch: list[dict[str, object]] = []
    now = utcnow()

    def flush() -> int:
        rows = insert_if_absent(
            session,
            MailLedgerRow.__table__,  # type: ignore[arg-type]
            batch,
            ["mail_account_id", "provider_message_id"],
            returning=["id"],
        )
        batch.clear()
        return len(rows)

    for ref in refs:
        batch.append(
            {
                "mail_account_id": account_id,
                "provider_message_id": ref.id,
                "provider_thread_id": ref.thread_id,
                "outcome": outcome,
                "labelled": False,
                "updated_at": now,
            }
        )
        if len(batch) >= _CHUNK:
            added += flush()
    if batch:
        added += flush()
    return added


def known_ids(session: Session, account_id: int, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the ledger already has (any outcome)."""
    found: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        found.update(
            session.scalars(
                select(MailLedgerRow.provider_message_id).where(
                    MailLedgerRow.mail_account_id == account_id,
                    MailLedgerRow.provider_message_id.in_(chunk),
                )
            )
        )
    return found


def next_pending(session: Session, account_id: int, limit: int) -> list[str]:
    """Up to ``limit`` pending message ids, oldest ledger rows first."""
    return list(
        session.scalars(
            select(MailLedgerRow.provider_message_id)
            .where(MailLedgerRow.mail_account_id == account_id, MailLedgerRow.outcome == "pending")
            .order_by(MailLedgerRow.id)
            .limit(limit)
        )
    )


def next_pending_refs(
    session: Session, account_id: int, limit: int, *, by_thread: bool = False
) -> list[MessageRef]:
    """Up to ``limit`` pending messages with their thread ids: oldest ledger rows first, or,
    ``by_thread``, thread by thread (so that a window holds a thread's pending messages
    together and the thread can be fetched in one call)."""
    stmt = select(MailLedgerRow.provider_message_id, MailLedgerRow.provider_thread_id).where(
        MailLedgerRow.mail_account_id == account_id, MailLedgerRow.outcome == "pending"
    )
    order = (
        (MailLedgerRow.provider_thread_id, MailLedgerRow.id) if by_thread else (MailLedgerRow.id,)
    )
    rows = session.execute(stmt.order_by(*order).limit(limit))
    return [MessageRef(id=message_id, thread_id=thread_id) for message_id, thread_id in rows]


def record_outcomes(
    session: Session,
    account_id: int,
    outcomes: Iterable[tuple[str, str, str | None, str | None]],
) -> None:
    """Set (message id, outcome, reason, detail) for messages already in the ledger.

    One statement executed with many parameter sets (a single round of ``executemany``).
    """
    now = utcnow()
    params = [
        {
            "account": account_id,
            "message": message_id,
            "new_outcome": outcome,
            "new_reason": reason,
            "new_detail": (detail or None) and detail[:300],
            "now": now,
        }
        for message_id, outcome, reason, detail in outcomes
    ]
    if params:
        session.connection().execute(_OUTCOME_UPDATE, params)


_LEDGER = MailLedgerRow.__table__
_OUTCOME_UPDATE = (
    _LEDGER.update()  # type: ignore[attr-defined]
    .where(
        _LEDGER.c.mail_account_id == bindparam("account"),
        _LEDGER.c.provider_message_id == bindparam("message"),
    )
    .values(
        outcome=bindparam("new_outcome"),
        reason=bindparam("new_reason"),
        detail=bindparam("new_detail"),
        updated_at=bindparam("now"),
    )
)


def reopen(
    session: Session, account_id: int, ids: Sequence[str], *, reasons: Sequence[str] | None = None
) -> int:
    """Turn skipped rows of ``ids`` (optionally only with these reasons) back into pending."""
    reopened = 0
    for start in range(0, len(ids), _CHUNK):
        stmt = update(MailLedgerRow).where(
            MailLedgerRow.mail_account_id == account_id,
            MailLedgerRow.outcome == "skipped",
            MailLedgerRow.provider_message_id.in_(list(ids[start : start + _CHUNK])),
        )
        if reasons is not None:
            stmt = stmt.where(MailLedgerRow.reason.in_(list(reasons)))
        result = session.execute(
            stmt.values(
                outcome="pending", reason=None, detail=None, updated_at=utcnow()
            ).execution_options(synchronize_session=False)
        )
        reopened += int(result.rowcount)  # type: ignore[attr-defined]
    return reopened


def unlabelled_stored(session: Session, account_id: int, limit: int) -> list[str]:
    """Stored messages whose mailbox label has not been applied yet."""
    return list(
        session.scalars(
            select(MailLedgerRow.provider_message_id)
            .where(
                MailLedgerRow.mail_account_id == account_id,
                MailLedgerRow.outcome == "stored",
                MailLedgerRow.labelled.is_(False),
            )
            .order_by(MailLedgerRow.id)
            .limit(limit)
        )
    )


def mark_labelled(session: Session, account_id: int, ids: Sequence[str]) -> None:
    for start in range(0, len(ids), _CHUNK):
        session.execute(
            update(MailLedgerRow)
            .where(
                MailLedgerRow.mail_account_id == account_id,
                MailLedgerRow.provider_message_id.in_(list(ids[start : start + _CHUNK])),
            )
            .values(labelled=True)
            .execution_options(synchronize_session=False)
        )


def ledger_summary(session: Session, account_id: int) -> LedgerSummary:
    """Counts per outcome and per skip reason."""
    summary = LedgerSummary()
    rows = session.execute(
        select(MailLedgerRow.outcome, MailLedgerRow.reason, func.count())
        .where(MailLedgerRow.mail_account_id == account_id)
        .group_by(MailLedgerRow.outcome, MailLedgerRow.reason)
    ).all()
    for outcome, reason, count in rows:
        summary.in_scope += int(count)
        if outcome == "stored":
            summary.stored += int(count)
        elif outcome == "pending":
            summary.pending += int(count)
        else:
            summary.skipped += int(count)
            key = str(reason or "unknown")
            summary.skipped_by_reason[key] = summary.skipped_by_reason.get(key, 0) + int(count)
    summary.labelled = int(
        session.scalar(
            select(func.count()).where(
                MailLedgerRow.mail_account_id == account_id, MailLedgerRow.labelled.is_(True)
            )
        )
        or 0
    )
    return summary


def ledger_entries(
    session: Session,
    account_id: int,
    *,
    outcome: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[tuple[int, LedgerEntry]]:
    """Ledger rows (keyset-paginated by row id), optionally of one outcome."""
    stmt = select(MailLedgerRow).where(
        MailLedgerRow.mail_account_id == account_id, MailLedgerRow.id > after_id
    )
    if outcome is not None:
        stmt = stmt.where(MailLedgerRow.outcome == outcome)
    rows = session.scalars(stmt.order_by(MailLedgerRow.id).limit(limit)).all()
    return [
        (
            row.id,
            LedgerEntry(
                provider_message_id=row.provider_message_id,
                provider_thread_id=row.provider_thread_id,
                outcome=row.outcome,
                reason=row.reason,
                detail=row.detail,
                labelled=row.labelled,
                updated_at=row.updated_at,
            ),
        )
        for row in rows
    ]
