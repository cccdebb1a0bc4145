"""One sync run of an IMAP/POP3 account, under the lease :mod:`inboxcrm.services.mail_sync` holds.

``mail_sync`` chooses the run by the account's provider: Gmail accounts run
:class:`~inboxcrm.sync.engine.MailboxSync`, IMAP/POP3 accounts :func:`run_mail_server_sync`
(:class:`~inboxcrm.sync.imap_engine.MailServerSync`). Lease, follow-ups, polling and recovery are
shared. Errors by kind:

- the server refused the login or its certificate (``ProviderAuthError``): the account stops
  (``services.imap_accounts.mark_mail_server_refused``), its owner is notified once, no retry;
- anything else (unreachable, timeouts, the database): recorded on the account by
  ``mail_sync``'s failure path, retried by the poll with a growing delay (``retry_delay``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderAuthError
from inboxcrm.sync.imap_engine import MailServerSync
from inboxcrm.sync.lease import MailboxLease
from inboxcrm.sync.progress import ProgressListener

if TYPE_CHECKING:
    from inboxcrm.services.mail_sync import SyncReport

__all__ = ["run_mail_server_sync"]

logger = logging.getLogger(__name__)


def run_mail_server_sync(
    runtime: Runtime,
    tenant: str,
    account: MailAccountRow,
    lease: MailboxLease | None,
    *,
    full: bool,
    progress: ProgressListener | None = None,
    backfill: Sequence[str] | None = None,
) -> SyncReport:
    """Run one IMAP/POP3 sync (or a back-fill of ``backfill`` addresses); refusals stop the
    account, other errors propagate to ``mail_sync``'s failure handling."""
    from inboxcrm.services.imap_accounts import mark_mail_server_refused, open_mail_server_mailbox
    from inboxcrm.services.mail_sync import SyncReport

    account_id = account.id
    try:
        engine = MailServerSync(
            uow_factory=lambda: runtime.tenant_uow(tenant),
            mailbox=open_mail_server_mailbox(runtime, tenant, account_id),
            tenant=tenant,
            account_id=account_id,
            bcc_secret=runtime.settings.secret_key.get_secret_value().encode("utf-8"),
            default_lookback_days=runtime.settings.sync_lookback_days,
            lease=lease,
            listener=progress,
        )
        result = engine.backfill(backfill) if backfill is not None else engine.run(full=full)
    except ProviderAuthError as exc:
        mark_mail_server_refused(runtime, tenant, account_id, exc.message)
        if lease is not None and lease.held:
            lease.release()
        return SyncReport(tenant, account_id, "revoked", error=exc.message)
    logger.info(
        "sync of %s account %s in tenant %s done (%s): %d listed, %d stored, %d skipped",
        account.provider,
        account_id,
        tenant,
        result.mode,
        result.listed,
        result.stored,
        result.skipped,
    )
    if result.mode == "full" and result.first_full_sync and backfill is None:
        from inboxcrm.services.mail_sync import _notify_first_sync

        _notify_first_sync(runtime, tenant, account)
    return SyncReport(
        tenant,
        account_id,
        "ok",
        mode=result.mode,
        listed=result.listed,
        stored=result.stored,
        skipped=result.skipped,
        resynced=result.resynced,
        skipped_by_reason=dict(result.skipped_by_reason),
    )
