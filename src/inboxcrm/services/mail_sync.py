"""Use cases of mail sync: sync one account, react to push, back-fill, poll, renew watches.

- :func:`sync_account` takes the mailbox lease (see :mod:`inboxcrm.sync.lease`), opens the
  mailbox through the accounts service and runs the engine
  (:class:`~inboxcrm.sync.engine.MailboxSync`) while a keeper thread renews the lease. A
  trigger that finds the mailbox busy leaves a follow-up request on the lease and returns
  ``already_running``; the run holding it honours the request before it lets go (a run that
  dies leaves it for the next one). Errors are handled by kind: ``ProviderAuthError`` → the
  account is disconnected and its owner notified (once), no retry; any other failure
  (provider, database, a bug) → ``last_error`` recorded and the lease released, both retried
  for a while if the database refuses writes, the owner notified at the first failure of a
  streak, the checkpoint kept so the next run resumes. Nothing escapes to the job runner.
- :func:`queue_polls` also queues the recovery of failed or stalled mailboxes (spaced out by
  the failure streak, :func:`retry_delay`), so every fault converges without a human.
- :func:`handle_push` maps a Gmail push notification to an incremental sync job.
- :func:`backfill_addresses` fetches mail already in every connected mailbox for addresses a
  record just gained.
- :func:`queue_polls` (periodic fallback and recovery) and :func:`renew_watches` (periodic).

The first completed full sync of an account notifies its owner. Every completed run ends with
the new-customer-mail alerts of what it stored (:mod:`inboxcrm.services.customer_alerts`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderAuthError, ProviderError
from inboxcrm.providers.base import MailboxClient
from inboxcrm.providers.gmail.scopes import features_of
from inboxcrm.services.gmail_grants import record_degraded_features
from inboxcrm.sync.engine import MailboxSync
from inboxcrm.sync.lease import (
    FOLLOW_UP_FULL,
    FOLLOW_UP_INCREMENTAL,
    LeaseLost,
    MailboxLease,
    lease_facts,
)
from inboxcrm.sync.progress import ProgressListener, SyncProgress
from inboxcrm.sync.status import AccountTotals, account_totals, derive_status

__all__ = [
    "BACKFILL_TASK",
    "SYNC_TASK",
    "SyncReport",
    "backfill_addresses",
    "connected_accounts",
    "handle_push",
    "queue_polls",
    "renew_watches",
    "sync_account",
]

logger = logging.getLogger(__name__)

SYNC_TASK = "inboxcrm.mail.sync_account"
BACKFILL_TASK = "inboxcrm.mail.backfill_addresses"
WATCH_RENEW_MARGIN = timedelta(hours=24)
MAX_FOLLOW_UPS = 5
"""Follow-up requests one task honours before it hands the next one to a new job."""
DB_RETRY_ATTEMPTS = 6
DB_RETRY_BASE = 0.5
DB_RETRY_CAP = 8.0
"""Recording an outcome is retried for about 20 s while the database refuses writes."""
RETRY_BASE_SECONDS = 60
_ERROR_MAX = 500


@dataclass(frozen=True)
class SyncReport:
    """What one sync run did. ``status``: ok, already_running, not_connected, revoked, failed."""

    tenant: str
    account_id: int
    status: str
    mode: str = ""
    listed: int = 0
    stored: int = 0
    skipped: int = 0
    history_id: int | None = None
    resynced: bool = False
    error: str | None = None
    skipped_by_reason: dict[str, int] = field(default_factory=dict)


def _bcc_secret(runtime: Runtime) -> bytes:
    return runtime.settings.secret_key.get_secret_value().encode("utf-8")


def _open(runtime: Runtime, tenant: str, account_id: int) -> MailboxClient:
    from inboxcrm.services.mail_accounts import open_mailbox

    return open_mailbox(runtime, tenant, account_id)


def _notify(runtime: Runtime, tenant: str, user_id: int, kind: str, title: str, body: str) -> None:
    from inboxcrm.services.notifications import notify

    with runtime.tenant_uow(tenant) as uow:
        notify(uow, user_id, kind, title, body)
        uow.commit()


def _account(runtime: Runtime, tenant: str, account_id: int) -> MailAccountRow | None:
    with runtime.tenant_uow(tenant) as uow:
        return uow.session.get(MailAccountRow, account_id)


def sync_account(
    runtime: Runtime,
    tenant: str,
    account_id: int,
    *,
    full: bool = False,
    progress: ProgressListener | None = None,
    mailbox: MailboxClient | None = None,
) -> SyncReport:
    """Sync one mail account (incremental, or ``full``). See the module docstring.

    ``mailbox`` replaces the client :func:`open_mailbox` would give (tools and tests).
    """
    account = _account(runtime, tenant, account_id)
    if account is None or account.status != "connected":
        return SyncReport(tenant, account_id, "not_connected")
    lease = MailboxLease(lambda: runtime.tenant_uow(tenant), account_id)
    if not _take_or_leave_request(lease, FOLLOW_UP_FULL if full else FOLLOW_UP_INCREMENTAL):
        logger.info("sync of account %s in tenant %s already running", account_id, tenant)
        return SyncReport(tenant, account_id, "already_running")
    return _run_with_lease(
        runtime,
        tenant,
        account,
        lease,
        full=full or lease.follow_up == FOLLOW_UP_FULL,
        progress=progress,
        mailbox=mailbox,
    )


def _run_with_lease(
    runtime: Runtime,
    tenant: str,
    account: MailAccountRow,
    lease: MailboxLease,
    *,
    full: bool,
    progress: ProgressListener | None = None,
    mailbox: MailboxClient | None = None,
) -> SyncReport:
    """Run the sync under ``lease``, then every follow-up asked for meanwhile; release it."""
    report = SyncReport(tenant, account.id, "already_running")
    run_full = full
    try:
        for _ in range(MAX_FOLLOW_UPS + 1):
            with lease.keeper():
                report = _run_once(
                    runtime,
                    tenant,
                    account,
                    lease,
                    full=run_full,
                    progress=progress,
                    mailbox=mailbox,
                )
            if not lease.held:  # taken over, or given up by a revocation
                return report
            follow_up = _finish(runtime, lease, succeeded=report.status == "ok")
            if follow_up is None:
                return report
            logger.info(
                "account %s: running the %s sync asked for meanwhile", account.id, follow_up
            )
            run_full = follow_up == FOLLOW_UP_FULL
        # Still more requests: hand the last one to a new job rather than looping on.
        runtime.jobs.enqueue(SYNC_TASK, tenant=tenant, account_id=account.id, full=run_full)
        return report
    finally:
        if lease.held:
            _finish(runtime, lease, succeeded=report.status == "ok", keep_follow_up=True)


def _take_or_leave_request(lease: MailboxLease, kind: str) -> bool:
    """Take the lease, or leave ``kind`` as a follow-up on the live run holding it.

    True when the lease is ours. Loops (a few times) over the race in which the holder
    releases between our two statements.
    """
    for _ in range(3):
        if lease.acquire():
            return True
        if lease.request_follow_up(kind):
            return False
    return False


def _finish(
    runtime: Runtime, lease: MailboxLease, *, succeeded: bool, keep_follow_up: bool = False
) -> str | None:
    """Release the lease (or learn the follow-up), retrying while the database refuses.

    If the database stays unavailable, the lease simply runs out after its short lifetime.
    """
    for attempt in range(DB_RETRY_ATTEMPTS):
        try:
            if keep_follow_up:
                lease.release()
                return None
            return lease.finish(succeeded=succeeded)
        except SQLAlchemyError as exc:
            logger.warning(
                "releasing the lease of account %s failed (%s); retrying",
                lease.account_id,
                type(exc).__name__,
            )
            time.sleep(min(DB_RETRY_CAP, DB_RETRY_BASE * 2**attempt))
    return None


def _run_once(
    runtime: Runtime,
    tenant: str,
    account: MailAccountRow,
    lease: MailboxLease,
    *,
    full: bool,
    progress: ProgressListener | None,
    mailbox: MailboxClient | None,
) -> SyncReport:
    """One run under a held lease; every failure is recorded on the account, none escapes."""
    account_id = account.id
    try:
        if account.provider != "gmail" and mailbox is None:
            # IMAP/POP3: the second provider's run (services.mail_server_sync).
            from inboxcrm.services.mail_server_sync import run_mail_server_sync

            return run_mail_server_sync(
                runtime, tenant, account, lease, full=full, progress=progress
            )
        client = mailbox if mailbox is not None else _open(runtime, tenant, account_id)
        engine = MailboxSync(
            uow_factory=lambda: runtime.tenant_uow(tenant),
            mailbox=client,
            tenant=tenant,
            account_id=account_id,
            bcc_secret=_bcc_secret(runtime),
            default_lookback_days=runtime.settings.sync_lookback_days,
            lease=lease,
            listener=progress,
            apply_sync_label=features_of(account.scopes or ())["labels"],
            whole_threads=runtime.settings.sync_whole_threads,
        )
        result = engine.run(full=full)
        record_degraded_features(runtime, tenant, account_id, result.degraded)
        if result.mode == "full":
            _watch_after_full_sync(runtime, tenant, account_id, client)
        if result.mode == "full" and result.first_full_sync:
            _notify_first_sync(runtime, tenant, account)
        _alert_customer_mail(runtime, tenant, account_id, incremental=result.mode != "full")
        logger.info(
            "sync of account %s in tenant %s done (%s): %d listed, %d stored, %d skipped",
            account_id,
            tenant,
            result.mode,
            result.listed,
            result.stored,
            result.skipped,
        )
        return SyncReport(
            tenant,
            account_id,
            "ok",
            mode=result.mode,
            listed=result.listed,
            stored=result.stored,
            skipped=result.skipped,
            history_id=result.history_id,
            resynced=result.resynced,
            skipped_by_reason=dict(result.skipped_by_reason),
        )
    except ProviderAuthError as exc:
        from inboxcrm.services.mail_accounts import mark_account_revoked

        mark_account_revoked(runtime, tenant, account_id, str(exc))
        _finish(runtime, lease, succeeded=False, keep_follow_up=True)
        return SyncReport(tenant, account_id, "revoked", error=str(exc))
    except LeaseLost:
        return SyncReport(tenant, account_id, "already_running")
    except ProviderError as exc:
        _record_failure(runtime, tenant, account, str(exc))
        return SyncReport(tenant, account_id, "failed", error=str(exc))
    except SQLAlchemyError as exc:
        error = f"The database refused the sync's writes ({_database_error(exc)})."
        _record_failure(runtime, tenant, account, error)
        return SyncReport(tenant, account_id, "failed", error=error)
    except Exception as exc:
        logger.exception("sync of account %s in tenant %s crashed", account_id, tenant)
        error = f"The sync stopped on an unexpected error ({type(exc).__name__})."
        _record_failure(runtime, tenant, account, error)
        return SyncReport(tenant, account_id, "failed", error=error)


def _alert_customer_mail(
    runtime: Runtime, tenant: str, account_id: int, *, incremental: bool
) -> None:
    """New-customer-mail alerts for what the run stored (services.customer_alerts); a failure
    there never fails the sync."""
    from inboxcrm.services.customer_alerts import alert_customer_mail

    try:
        alert_customer_mail(runtime, tenant, account_id, incremental=incremental)
    except Exception:
        logger.exception(
            "customer mail alerts of account %s in tenant %s failed", account_id, tenant
        )


def _database_error(exc: SQLAlchemyError) -> str:
    """A short, parameter-free description of a database error (never any row values)."""
    original = getattr(exc, "orig", None)
    if original is None:
        return type(exc).__name__
    first_line = (str(original).strip().splitlines() or [""])[0]
    return f"{type(original).__name__}: {first_line[:160]}"


def _notify_first_sync(runtime: Runtime, tenant: str, account: MailAccountRow) -> None:
    """Tell the owner the first sync finished, with the account's true totals."""
    with runtime.tenant_uow(tenant) as uow:
        totals = account_totals(uow.session, [account.id])[account.id]
    _notify(
        runtime,
        tenant,
        account.user_id,
        "mail_sync_completed",
        f"{account.email} is synced",
        f"The first sync finished: {totals.stored} "
        f"{'message' if totals.stored == 1 else 'messages'} in {totals.conversations} "
        f"{'conversation' if totals.conversations == 1 else 'conversations'} are on your "
        "customers' timelines.",
    )


def _record_failure(runtime: Runtime, tenant: str, account: MailAccountRow, error: str) -> None:
    """Remember the error (the checkpoint stays); notify the owner at the first failure only.

    Retried while the database refuses writes; if it never accepts them, the status still
    shows the run as stalled once its lease runs out (``sync.status``).
    """
    first_failure = False
    for attempt in range(DB_RETRY_ATTEMPTS):
        try:
            with runtime.tenant_uow(tenant) as uow:
                row = uow.session.get(MailAccountRow, account.id)
                if row is None:
                    return
                first_failure = row.last_error is None
                row.last_error = error[:_ERROR_MAX]
                row.sync_phase = "error"
                progress = SyncProgress.from_json(row.sync_progress)
                progress.error = error[:_ERROR_MAX]
                row.sync_progress = progress.to_json()
                uow.commit()
            break
        except SQLAlchemyError as exc:
            logger.warning(
                "recording the failure of account %s failed (%s); retrying",
                account.id,
                type(exc).__name__,
            )
            time.sleep(min(DB_RETRY_CAP, DB_RETRY_BASE * 2**attempt))
    else:
        return
    logger.warning("sync of account %s in tenant %s failed: %s", account.id, tenant, error)
    if first_failure:
        try:
            _notify(
                runtime,
                tenant,
                account.user_id,
                "mail_sync_failed",
                f"Syncing {account.email} failed",
                f"The sync did not complete; inboxcrm will retry by itself. Details: {error[:200]}",
            )
        except SQLAlchemyError:
            logger.warning("the failure notice of account %s was not stored", account.id)


def _watch_after_full_sync(
    runtime: Runtime, tenant: str, account_id: int, client: MailboxClient
) -> None:
    if not runtime.settings.push_audience:
        return
    from inboxcrm.services.mail_watch import start_watch

    start_watch(runtime, tenant, account_id, client)


def handle_push(runtime: Runtime, email: str, history_id: int) -> list[tuple[str, int]]:
    """Queue an incremental sync of every tenant's account holding mailbox ``email``.

    Returns the (tenant, account id) routes the notification reached (empty for an unknown
    mailbox: the caller acknowledges anyway). The same mailbox connected in several tenants
    fans out to all of them, so none falls back to polling. An account that has already
    reached the notification's history id, or is not connected, queues nothing.
    """
    from inboxcrm.services.mailbox_routes import find_mailbox_routes

    routes = find_mailbox_routes(runtime, email)
    if not routes:
        logger.info("push for a mailbox with no route (history %s); acknowledged", history_id)
        return []
    for tenant, account_id in routes:
        account = _account(runtime, tenant, account_id)
        if account is None or account.status != "connected":
            continue
        if account.history_id is not None and account.history_id >= history_id:
            continue
        runtime.jobs.enqueue(SYNC_TASK, tenant=tenant, account_id=account_id, full=False)
    return routes


def connected_accounts(
    runtime: Runtime, tenant: str, *, synced_before: datetime | None = None
) -> list[int]:
    """Ids of the tenant's connected accounts (only those last synced before ``synced_before``)."""
    stmt = select(MailAccountRow.id).where(MailAccountRow.status == "connected")
    if synced_before is not None:
        stmt = stmt.where(
            (MailAccountRow.last_sync_at.is_(None)) | (MailAccountRow.last_sync_at < synced_before)
        )
    with runtime.tenant_uow(tenant) as uow:
        return list(uow.session.scalars(stmt.order_by(MailAccountRow.id)))


def backfill_addresses(
    runtime: Runtime,
    tenant: str,
    addresses: Sequence[str],
    *,
    mailboxes: dict[int, MailboxClient] | None = None,
) -> list[SyncReport]:
    """Fetch and link mail with ``addresses`` (or ``@domain``) in every connected mailbox.

    A mailbox whose sync is running right now gets the back-fill queued again (its running
    sync loaded the address book before the new address existed). A sync requested while the
    back-fill held a mailbox runs right after it.
    """
    entries = [a.strip() for a in addresses if a and a.strip()]
    reports: list[SyncReport] = []
    if not entries:
        return reports
    for account_id in connected_accounts(runtime, tenant):
        lease = MailboxLease(lambda: runtime.tenant_uow(tenant), account_id)
        if not lease.acquire():
            reports.append(SyncReport(tenant, account_id, "already_running"))
            continue
        inherited = lease.follow_up  # left by a run that died before honouring it
        report = _backfill_one(runtime, tenant, account_id, lease, entries, mailboxes)
        reports.append(report)
        if not lease.held:
            continue
        # A sync asked for while the back-fill held the mailbox is run now, not dropped.
        follow_up = inherited or _finish(runtime, lease, succeeded=report.status == "ok")
        if follow_up is not None:
            account = _account(runtime, tenant, account_id)
            if account is None or account.status != "connected":
                lease.release()
                continue
            _run_with_lease(runtime, tenant, account, lease, full=follow_up == FOLLOW_UP_FULL)
    if any(r.status in ("already_running", "failed") for r in reports):
        runtime.jobs.enqueue(BACKFILL_TASK, tenant=tenant, addresses=entries)
    return reports


def _backfill_one(
    runtime: Runtime,
    tenant: str,
    account_id: int,
    lease: MailboxLease,
    entries: list[str],
    mailboxes: dict[int, MailboxClient] | None,
) -> SyncReport:
    """Back-fill ``entries`` in one mailbox under a held lease; failures become reports."""
    try:
        account = _account(runtime, tenant, account_id)
        if account is not None and account.provider != "gmail" and not mailboxes:
            from inboxcrm.services.mail_server_sync import run_mail_server_sync

            with lease.keeper():
                return run_mail_server_sync(
                    runtime, tenant, account, lease, full=False, backfill=entries
                )
        with lease.keeper():
            client = (mailboxes or {}).get(account_id) or _open(runtime, tenant, account_id)
            engine = MailboxSync(
                uow_factory=lambda: runtime.tenant_uow(tenant),
                mailbox=client,
                tenant=tenant,
                account_id=account_id,
                bcc_secret=_bcc_secret(runtime),
                default_lookback_days=runtime.settings.sync_lookback_days,
                lease=lease,
                whole_threads=runtime.settings.sync_whole_threads,
            )
            engine.prepare_only()
            result = engine.backfill(entries)
        return SyncReport(
            tenant,
            account_id,
            "ok",
            mode="backfill",
            listed=result.listed,
            stored=result.stored,
            skipped=result.skipped,
        )
    except ProviderAuthError as exc:
        from inboxcrm.services.mail_accounts import mark_account_revoked

        mark_account_revoked(runtime, tenant, account_id, str(exc))
        _finish(runtime, lease, succeeded=False, keep_follow_up=True)
        return SyncReport(tenant, account_id, "revoked", error=str(exc))
    except LeaseLost:
        return SyncReport(tenant, account_id, "already_running")
    except (ProviderError, SQLAlchemyError) as exc:
        logger.warning("back-fill of account %s failed: %s", account_id, type(exc).__name__)
        return SyncReport(tenant, account_id, "failed", error=type(exc).__name__)


def active_tenants(runtime: Runtime) -> list[str]:
    with runtime.control_uow() as uow:
        return list(
            uow.session.scalars(
                select(TenantRow.slug)
                .where(TenantRow.status == "active", TenantRow.database_ready.is_(True))
                .order_by(TenantRow.id)
            )
        )


def retry_delay(failures: int, poll_interval: float) -> float:
    """Seconds a failing mailbox waits before its next automatic attempt.

    The first retry goes out at the next poll check; each further failure in a row doubles the
    wait from a minute, never beyond the poll interval, so a broken account is no retry storm.
    """
    if failures <= 1:
        return 0.0
    return float(min(poll_interval, RETRY_BASE_SECONDS * 2 ** (failures - 2)))


def accounts_due(
    runtime: Runtime, tenant: str, *, cutoff: datetime | None, now: datetime | None = None
) -> list[int]:
    """Connected accounts of ``tenant`` that a poll should sync now.

    Due: not synced since ``cutoff`` (None: every account), or needing recovery without a
    human: the last run failed or stalled (no live lease, work unfinished) or a follow-up
    request is waiting, and the failure streak's retry delay has passed. Running ones never.
    """
    moment = now or utcnow()
    with runtime.tenant_uow(tenant) as uow:
        rows = list(
            uow.session.scalars(
                select(MailAccountRow)
                .where(MailAccountRow.status == "connected")
                .order_by(MailAccountRow.id)
            )
        )
        leases = lease_facts(uow.session, [row.id for row in rows], now=moment)
        due: list[int] = []
        for row in rows:
            lease = leases.get(row.id)
            state = derive_status(row, lease, AccountTotals()).state
            if state == "running":
                continue
            if state in ("failed", "stalled") or (lease is not None and lease.follow_up):
                if lease is not None and lease.failures and lease.failed_at is not None:
                    wait = retry_delay(lease.failures, runtime.settings.poll_interval_seconds)
                    if moment < lease.failed_at + timedelta(seconds=wait):
                        continue
                due.append(row.id)
            elif cutoff is None or row.last_sync_at is None or row.last_sync_at < cutoff:
                due.append(row.id)
    return due


def queue_polls(runtime: Runtime, *, everything: bool = False) -> int:
    """Queue one incremental sync per connected mailbox due for a poll; returns how many.

    Due: see :func:`accounts_due` (``everything`` ignores the poll interval).
    Mailboxes of different tenants are interleaved so no tenant's queue runs ahead of others.
    """
    now = utcnow()
    cutoff = None if everything else now - timedelta(seconds=runtime.settings.poll_interval_seconds)
    per_tenant = [
        [(slug, account_id) for account_id in accounts_due(runtime, slug, cutoff=cutoff, now=now)]
        for slug in active_tenants(runtime)
    ]
    queued = 0
    depth = max((len(x) for x in per_tenant), default=0)
    for index in range(depth):
        for accounts in per_tenant:
            if index < len(accounts):
                slug, account_id = accounts[index]
                runtime.jobs.enqueue(SYNC_TASK, tenant=slug, account_id=account_id, full=False)
                queued += 1
    return queued


def renew_watches(runtime: Runtime) -> int:
    """Renew push watches that expire within 24 hours (Google wants renewal within 7 days)."""
    settings = runtime.settings
    if not settings.push_audience:
        return 0
    renewed = 0
    limit = utcnow() + WATCH_RENEW_MARGIN
    for slug in active_tenants(runtime):
        with runtime.tenant_uow(slug) as uow:
            due = list(
                uow.session.scalars(
                    select(MailAccountRow.id).where(
                        MailAccountRow.status == "connected",
                        MailAccountRow.last_full_sync_at.is_not(None),
                        (MailAccountRow.watch_expiration.is_(None))
                        | (MailAccountRow.watch_expiration < limit),
                    )
                )
            )
        for account_id in due:
            from inboxcrm.services.mail_watch import start_watch

            try:
                client = _open(runtime, slug, account_id)
                info = start_watch(runtime, slug, account_id, client)
            except ProviderAuthError as exc:
                from inboxcrm.services.mail_accounts import mark_account_revoked

                mark_account_revoked(runtime, slug, account_id, str(exc))
                continue
            except ProviderError as exc:
                logger.warning("watch renewal of account %s failed: %s", account_id, exc)
                continue
            if info is not None:
                renewed += 1
    return renewed
