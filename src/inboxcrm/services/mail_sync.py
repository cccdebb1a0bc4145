"""Use cases of mail sync: sync one account, react to push, back-fill, poll, renew watches.

- :func:`sync_account` takes the mailbox lease (a second concurrent run returns at once with
  status ``already_running``), opens the mailbox through the accounts service and runs the
  engine (:class:`~inboxcrm.sync.engine.MailboxSync`). Errors are handled by kind:
  ``ProviderAuthError`` → the account is disconnected and its owner notified (once), no retry;
  ``ProviderTransientError`` / ``ProviderError`` → ``last_error`` recorded, the owner notified
  at the first failure of a streak, the checkpoint kept so the next poll resumes.
- :func:`handle_push` maps a Gmail push notification to an incremental sync job.
- :func:`backfill_addresses` fetches mail already in every connected mailbox for addresses a
  record just gained.
- :func:`queue_polls` (periodic fallback) and :func:`renew_watches` (periodic).

The first completed full sync of an account notifies its owner.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from inboxcrm.adapters.db.control_tables import TenantRow
from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderAuthError, ProviderError
from inboxcrm.providers.base import MailboxClient
from inboxcrm.providers.gmail.scopes import features_of
from inboxcrm.services.gmail_grants import record_degraded_features
from inboxcrm.sync.engine import MailboxSync
from inboxcrm.sync.lease import LeaseLost, MailboxLease
from inboxcrm.sync.progress import ProgressListener

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
    if not lease.acquire():
        logger.info("sync of account %s in tenant %s already running", account_id, tenant)
        return SyncReport(tenant, account_id, "already_running")
    try:
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
        )
        result = engine.run(full=full)
        record_degraded_features(runtime, tenant, account_id, result.degraded)
        if result.mode == "full":
            _watch_after_full_sync(runtime, tenant, account_id, client)
        if result.mode == "full" and result.first_full_sync:
            _notify(
                runtime,
                tenant,
                account.user_id,
                "mail_sync_completed",
                f"{account.email} is synced",
                f"The first sync finished: {result.stored} conversations' messages are on "
                "your customers' timelines.",
            )
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
        return SyncReport(tenant, account_id, "revoked", error=str(exc))
    except LeaseLost:
        return SyncReport(tenant, account_id, "already_running")
    except ProviderError as exc:
        _record_failure(runtime, tenant, account, str(exc))
        return SyncReport(tenant, account_id, "failed", error=str(exc))
    finally:
        lease.release()


def _record_failure(runtime: Runtime, tenant: str, account: MailAccountRow, error: str) -> None:
    """Remember the error (the checkpoint stays); notify the owner at the first failure only."""
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account.id)
        if row is None:
            return
        first_failure = row.last_error is None
        row.last_error = error[:_ERROR_MAX]
        row.sync_phase = "error"
        uow.commit()
    logger.warning("sync of account %s in tenant %s failed: %s", account.id, tenant, error)
    if first_failure:
        _notify(
            runtime,
            tenant,
            account.user_id,
            "mail_sync_failed",
            f"Syncing {account.email} failed",
            "Gmail did not answer as expected; inboxcrm will retry at the next poll. "
            f"Details: {error[:200]}",
        )


def _watch_after_full_sync(
    runtime: Runtime, tenant: str, account_id: int, client: MailboxClient
) -> None:
    if not runtime.settings.push_audience:
        return
    from inboxcrm.services.mail_watch import start_watch

    start_watch(runtime, tenant, account_id, client)


def handle_push(runtime: Runtime, email: str, history_id: int) -> tuple[str, int] | None:
    """Queue an incremental sync for the mailbox ``email``; returns its (tenant, account id).

    Unknown mailboxes return None (the caller acknowledges anyway). A notification whose
    history id the account has already reached queues nothing.
    """
    from inboxcrm.services.mail_accounts import find_mailbox_route

    route = find_mailbox_route(runtime, email)
    if route is None:
        logger.info("push for a mailbox with no route (history %s); acknowledged", history_id)
        return None
    tenant, account_id = route
    account = _account(runtime, tenant, account_id)
    if account is None or account.status != "connected":
        return None
    if account.history_id is not None and account.history_id >= history_id:
        return route
    runtime.jobs.enqueue(SYNC_TASK, tenant=tenant, account_id=account_id, full=False)
    return route


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
    sync loaded the address book before the new address existed).
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
        try:
            client = (mailboxes or {}).get(account_id) or _open(runtime, tenant, account_id)
            engine = MailboxSync(
                uow_factory=lambda: runtime.tenant_uow(tenant),
                mailbox=client,
                tenant=tenant,
                account_id=account_id,
                bcc_secret=_bcc_secret(runtime),
                default_lookback_days=runtime.settings.sync_lookback_days,
                lease=lease,
            )
            engine.prepare_only()
            result = engine.backfill(entries)
            reports.append(
                SyncReport(
                    tenant,
                    account_id,
                    "ok",
                    mode="backfill",
                    listed=result.listed,
                    stored=result.stored,
                    skipped=result.skipped,
                )
            )
        except ProviderAuthError as exc:
            from inboxcrm.services.mail_accounts import mark_account_revoked

            mark_account_revoked(runtime, tenant, account_id, str(exc))
            reports.append(SyncReport(tenant, account_id, "revoked", error=str(exc)))
        except ProviderError as exc:
            logger.warning("back-fill of account %s failed: %s", account_id, exc)
            reports.append(SyncReport(tenant, account_id, "failed", error=str(exc)))
        finally:
            lease.release()
    if any(r.status in ("already_running", "failed") for r in reports):
        runtime.jobs.enqueue(BACKFILL_TASK, tenant=tenant, addresses=entries)
    return reports


def active_tenants(runtime: Runtime) -> list[str]:
    with runtime.control_uow() as uow:
        return list(
            uow.session.scalars(
                select(TenantRow.slug)
                .where(TenantRow.status == "active", TenantRow.database_ready.is_(True))
                .order_by(TenantRow.id)
            )
        )


def queue_polls(runtime: Runtime, *, everything: bool = False) -> int:
    """Queue one incremental sync per connected mailbox due for a poll; returns how many.

    Due: not synced within ``settings.poll_interval_seconds`` (``everything`` ignores that).
    Mailboxes of different tenants are interleaved so no tenant's queue runs ahead of others.
    """
    cutoff = (
        None if everything else utcnow() - timedelta(seconds=runtime.settings.poll_interval_seconds)
    )
    per_tenant = [
        [
            (slug, account_id)
            for account_id in connected_accounts(runtime, slug, synced_before=cutoff)
        ]
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
