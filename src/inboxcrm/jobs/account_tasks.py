"""Background work of mail accounts: purging the mail of disconnected accounts when it is due.

Disconnecting an account (or Google revoking it) sets ``purge_after``; this task deletes the
account's synced mail once that time has passed (``services.mail_accounts.purge_due_accounts``).
It is idempotent: a second run finds nothing due. It is not scheduled on its own: the hourly
retention purge (``jobs.privacy_tasks``) purges due accounts too and then vacuums the database, so
no bytes of their mail stay in the files.
"""

from __future__ import annotations

import logging

from inboxcrm.jobs.registry import job

__all__ = ["PURGE_INTERVAL_SECONDS", "PURGE_TASK", "purge_disconnected_accounts"]

logger = logging.getLogger(__name__)

PURGE_TASK = "inboxcrm.mail.purge_disconnected_accounts"
PURGE_INTERVAL_SECONDS = 3600


@job(PURGE_TASK, time_limit=1800)
def purge_disconnected_accounts() -> None:
    """Delete the synced mail of every disconnected account whose grace period has passed."""
    from inboxcrm.jobs.worker_runtime import worker_runtime
    from inboxcrm.services.mail_accounts import purge_due_accounts

    purged = purge_due_accounts(worker_runtime())
    if purged:
        logger.info("purged the mail of %d disconnected accounts", purged)
