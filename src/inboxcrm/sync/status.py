"""The sync status of a mailbox, derived from facts rather than from what a run last wrote.

A run writes its progress (``MailAccountRow.sync_progress``) as it goes, but a killed worker, a
lost broker or a database error can leave that saying "fetching" forever. So the status shown
combines three facts:

1. the lease (:func:`inboxcrm.sync.lease.lease_facts`): a run is *running* only while a live
   holder renews its lease (the lease runs out ``DEFAULT_LEASE_SECONDS`` after the last
   renewal; a dead holder on this host counts as gone at once);
2. the last run's outcome: its progress ``phase`` (``done``, ``failed``, or a phase it never
   left) and the account's ``last_error``;
3. the stored rows: account totals come from the ledger (stored, skipped, pending, and the
   conversations stored), never from a run's counters, which start at 0 each run.

``state`` is one of ``running``, ``stalled`` (a run stopped in the middle and no run holds the
mailbox: it resumes at the next poll), ``failed`` (the last run ended with an error),
``synced`` (the last run completed) and ``waiting`` (never synced yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import MailAccountRow, MailLedgerRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.sync.lease import LeaseFacts, lease_facts
from inboxcrm.sync.progress import RUNNING_PHASES, SyncProgress

__all__ = ["STALLED_ERROR", "AccountTotals", "SyncStatus", "account_totals", "sync_statuses"]

STALLED_ERROR = (
    "The sync stopped before it finished (its worker went away); it resumes by itself "
    "at the next poll."
)


@dataclass(frozen=True)
class AccountTotals:
    """What the ledger holds for one mailbox: the account's totals over every run."""

    stored: int = 0
    skipped: int = 0
    pending: int = 0
    conversations: int = 0

    @property
    def scanned(self) -> int:
        return self.stored + self.skipped


@dataclass(frozen=True)
class SyncStatus:
    """One mailbox's sync status (see the module docstring)."""

    state: str
    phase: str
    """The progress phase when running; ``stalled``, ``error``, ``done`` or ``idle`` otherwise."""
    mode: str
    run: SyncProgress
    """The running run's progress, or the last run's."""
    totals: AccountTotals
    error: str | None
    follow_up: str | None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def percent(self) -> int | None:
        """How far the running (or last) run got, when it knows its total."""
        if self.run.total_estimate > 0:
            return min(100, self.run.scanned * 100 // self.run.total_estimate)
        if self.state == "synced":
            return 100
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "phase": self.phase,
            "mode": self.mode,
            "percent": self.percent,
            "run": self.run.to_json(),
            "totals": {
                "stored": self.totals.stored,
                "skipped": self.totals.skipped,
                "pending": self.totals.pending,
                "scanned": self.totals.scanned,
                "conversations": self.totals.conversations,
            },
            "error": self.error,
            "follow_up": self.follow_up,
        }


def account_totals(session: Session, account_ids: list[int]) -> dict[int, AccountTotals]:
    """Ledger totals per account (accounts with no ledger rows get zeros)."""
    if not account_ids:
        return {}
    counts: dict[int, dict[str, int]] = {i: {} for i in account_ids}
    for account_id, outcome, count in session.execute(
        select(MailLedgerRow.mail_account_id, MailLedgerRow.outcome, func.count())
        .where(MailLedgerRow.mail_account_id.in_(account_ids))
        .group_by(MailLedgerRow.mail_account_id, MailLedgerRow.outcome)
    ).all():
        counts[int(account_id)][str(outcome)] = int(count)
    threads = dict(
        session.execute(
            select(
                MailLedgerRow.mail_account_id,
                func.count(func.distinct(MailLedgerRow.provider_thread_id)),
            )
            .where(
                MailLedgerRow.mail_account_id.in_(account_ids),
                MailLedgerRow.outcome == "stored",
            )
            .group_by(MailLedgerRow.mail_account_id)
        ).all()
    )
    return {
        account_id: AccountTotals(
            stored=by_outcome.get("stored", 0),
            skipped=by_outcome.get("skipped", 0),
            pending=by_outcome.get("pending", 0),
            conversations=int(threads.get(account_id, 0)),
        )
        for account_id, by_outcome in counts.items()
    }


def derive_status(
    row: MailAccountRow, lease: LeaseFacts | None, totals: AccountTotals
) -> SyncStatus:
    """The status of one account from its row, its lease facts and its ledger totals."""
    progress = SyncProgress.from_json(row.sync_progress)
    mid_run = progress.phase in RUNNING_PHASES or row.sync_phase in RUNNING_PHASES
    follow_up = lease.follow_up if lease is not None else None
    if row.status == "disconnected":
        state, phase, error = "disconnected", "idle", row.last_error
    elif lease is not None and lease.held:
        state, error = "running", None
        phase = next(
            (p for p in (progress.phase, row.sync_phase) if p in RUNNING_PHASES), "starting"
        )
    elif row.sync_phase == "error" or progress.phase == "failed":
        state, phase, error = "failed", "error", row.last_error or progress.error
    elif mid_run:
        state, phase, error = "stalled", "stalled", row.last_error or STALLED_ERROR
    elif row.last_sync_at is None and "done" not in (progress.phase, row.sync_phase):
        state, phase, error = "waiting", "idle", row.last_error
    else:
        state, phase, error = "synced", "done", None
    return SyncStatus(
        state=state,
        phase=phase,
        mode=progress.mode if progress.started_at else "",
        run=progress,
        totals=totals,
        error=error,
        follow_up=follow_up,
    )


def sync_statuses(
    session: Session, rows: list[MailAccountRow], *, now: datetime | None = None
) -> dict[int, SyncStatus]:
    """The status of each account row, in three queries for any number of accounts."""
    ids = [row.id for row in rows]
    leases = lease_facts(session, ids, now=now or utcnow())
    totals = account_totals(session, ids)
    return {
        row.id: derive_status(row, leases.get(row.id), totals.get(row.id, AccountTotals()))
        for row in rows
    }
