"""IMAP IDLE: new mail of IMAP accounts reaches the timeline within seconds.

:class:`MailServerWatcher` keeps one IDLE loop (a daemon thread with its own IMAP connection) per
connected IMAP account of every active tenant, and rescans the accounts every
``rescan_seconds`` (new accounts get a loop, stopped or disconnected ones lose theirs). When the
server reports a change, the loop asks for an incremental sync (``on_change``; by default the
sync job is queued, and the mailbox lease merges bursts into one follow-up run). The loop:

- re-issues IDLE every ``renew_seconds`` (RFC 2177: within 29 minutes);
- on a refused login or certificate ends (the next sync stops the account and tells its owner);
- on a connection failure waits (doubling from ``retry_base`` up to ``retry_cap``) and tries
  again, so a server that is down is no connection storm;
- on a server without IDLE ends: the periodic poll (``inboxcrm.mail.poll_accounts``, every
  ``INBOXCRM_POLL_INTERVAL_SECONDS``) is the fallback, and it serves every account anyway.

It runs in the process that runs the scheduler (``inboxcrm worker --beat``, which is also what
``inboxcrm serve`` starts in embedded mode), so one deployment holds one IDLE connection per
mailbox. Passwords are decrypted per connection and never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderAuthError, ProviderError

__all__ = ["MailServerWatcher"]

logger = logging.getLogger(__name__)

SYNC_TASK = "inboxcrm.mail.sync_account"
ChangeHandler = Callable[[str, int], None]


class MailServerWatcher:
    """IDLE loops for every connected IMAP account (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        on_change: ChangeHandler | None = None,
        rescan_seconds: float = 60.0,
        renew_seconds: float = 25 * 60,
        retry_base: float = 5.0,
        retry_cap: float = 300.0,
        folder: str = "INBOX",
    ) -> None:
        self._runtime = runtime
        self._on_change = on_change or self._queue_sync
        self._rescan = rescan_seconds
        self._renew = renew_seconds
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._folder = folder
        self._stop = threading.Event()
        self._loops: dict[tuple[str, int], tuple[threading.Thread, threading.Event]] = {}
        self._manager: threading.Thread | None = None
        self.idling: set[tuple[str, int]] = set()
        """Accounts whose loop is in IDLE right now (for status and tests)."""

    def watching(self) -> set[tuple[str, int]]:
        """(tenant, account id) of every account with a live IDLE loop."""
        return {key for key, (thread, _) in list(self._loops.items()) if thread.is_alive()}

    def _queue_sync(self, tenant: str, account_id: int) -> None:
        self._runtime.jobs.enqueue(SYNC_TASK, tenant=tenant, account_id=account_id, full=False)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self._manager = threading.Thread(target=self._manage, name="imap-idle", daemon=True)
        self._manager.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread, event in list(self._loops.values()):
            event.set()
            thread.join(timeout)
        if self._manager is not None:
            self._manager.join(timeout)

    def _manage(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # a tenant database briefly away: try again at the next rescan
                logger.exception("the IMAP IDLE watcher could not list the accounts")
            self._stop.wait(self._rescan)

    def refresh(self) -> None:
        """Start loops for new IMAP accounts, stop those of accounts no longer connected."""
        from inboxcrm.services.mail_sync import active_tenants

        wanted: set[tuple[str, int]] = set()
        for tenant in active_tenants(self._runtime):
            with self._runtime.tenant_uow(tenant) as uow:
                ids = uow.session.scalars(
                    select(MailAccountRow.id).where(
                        MailAccountRow.provider == "imap", MailAccountRow.status == "connected"
                    )
                )
                wanted.update((tenant, int(i)) for i in ids)
        for key, (thread, event) in list(self._loops.items()):
            if key not in wanted or not thread.is_alive():
                event.set()
                del self._loops[key]
        for key in wanted - set(self._loops):
            event = threading.Event()
            thread = threading.Thread(
                target=self._loop, args=(key, event), name=f"imap-idle-{key[1]}", daemon=True
            )
            self._loops[key] = (thread, event)
            thread.start()

    # -- one account ------------------------------------------------------------------------------

    def _loop(self, key: tuple[str, int], event: threading.Event) -> None:
        from inboxcrm.services.imap_accounts import open_mail_server_mailbox

        tenant, account_id = key
        failures = 0

        def stopping() -> bool:
            return event.is_set() or self._stop.is_set()

        while not stopping():
            try:
                mailbox = open_mail_server_mailbox(self._runtime, tenant, account_id)
                with mailbox.imap() as session:
                    if not session.has("IDLE"):
                        logger.info("account %s: no IDLE; polling serves it", account_id)
                        return
                    failures = 0
                    # Mail that came while no loop watched is read by the first sync.
                    self._on_change(tenant, account_id)
                    while not stopping():
                        self.idling.add(key)
                        changed = session.idle_until_change(
                            self._folder, stop=stopping, renew_seconds=self._renew
                        )
                        self.idling.discard(key)
                        if changed:
                            self._on_change(tenant, account_id)
            except ProviderAuthError:
                logger.info("account %s: IDLE ended, the server refused the login", account_id)
                return
            except (ProviderError, OSError) as exc:
                failures += 1
                wait = min(self._retry_cap, self._retry_base * 2 ** (failures - 1))
                logger.warning(
                    "account %s: IDLE connection failed (%s); again in %.0f s",
                    account_id,
                    type(exc).__name__,
                    wait,
                )
                event.wait(wait)
            except Exception:
                logger.exception("account %s: the IDLE loop crashed", account_id)
                event.wait(self._retry_cap)
            finally:
                self.idling.discard(key)
