"""Background work of mail sync: sync one account, back-fill addresses, poll, renew watches.

- ``inboxcrm.mail.sync_account(tenant, account_id, full=False)``: one lease-guarded sync run
  (a second concurrent run returns at once). Failures are recorded on the account; the next
  poll retries, so the task itself does not retry.
- ``inboxcrm.mail.backfill_addresses(tenant, addresses)``: mail already in every connected
  mailbox of the tenant with these addresses is fetched and linked.
- ``inboxcrm.mail.poll_accounts`` (every minute): queues an incremental sync of each connected
  mailbox whose last sync is older than ``settings.poll_interval_seconds`` (one task per
  mailbox, tenants interleaved) — the fallback when push is not configured or a push was lost.
- ``inboxcrm.mail.renew_watches`` (hourly): renews push watches expiring within 24 hours.
"""

from __future__ import annotations

import logging

from inboxcrm.jobs.registry import job, register_periodic

__all__ = [
    "BACKFILL_TASK",
    "POLL_TASK",
    "RENEW_WATCHES_TASK",
    "SYNC_TASK",
    "backfill_addresses",
    "poll_accounts",
    "renew_watches",
    "sync_account",
]

logger = logging.getLogger(__name__)

SYNC_TASK = "inboxcrm.mail.sync_account"
BACKFILL_TASK = "inboxcrm.mail.backfill_addresses"
POLL_TASK = "inboxcrm.mail.poll_accounts"
RENEW_WATCHES_TASK = "inboxcrm.mail.renew_watches"
POLL_CHECK_SECONDS = 60
RENEW_WATCHES_SECONDS = 3600


@job(SYNC_TASK, time_limit=3600, retry_on=())
def sync_account(tenant: str, account_id: int, full: bool = False) -> None:
    """Sync one mail account (see services.mail_sync.sync_account)."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import mail_sync

    mail_sync.sync_account(worker_runtime(), tenant, account_id, full=full)


@job(BACKFILL_TASK, time_limit=3600, retry_on=())
def backfill_addresses(tenant: str, addresses: list[str]) -> None:
    """Fetch and link mail already in the tenant's mailboxes for newly added addresses."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import mail_sync

    mail_sync.backfill_addresses(worker_runtime(), tenant, addresses)


@job(POLL_TASK, time_limit=300)
def poll_accounts() -> None:
    """Queue incremental syncs of the mailboxes that are due for a poll."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import mail_sync

    queued = mail_sync.queue_polls(worker_runtime())
    if queued:
        logger.info("queued %d mailbox polls", queued)


@job(RENEW_WATCHES_TASK, time_limit=1800)
def renew_watches() -> None:
    """Renew Gmail push watches that expire within a day."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services import mail_sync

    mail_sync.renew_watches(worker_runtime())


register_periodic("mail.poll_accounts", POLL_CHECK_SECONDS, POLL_TASK)
register_periodic("mail.renew_watches", RENEW_WATCHES_SECONDS, RENEW_WATCHES_TASK)
