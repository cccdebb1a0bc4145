"""At most one sync of a mailbox at a time, across every worker process and machine.

The lease is a row per mailbox in the tenant database (``mail_sync_leases``) with a holder and
an expiry. Taking it is one conditional ``UPDATE ... WHERE expires_at < now OR holder = me``:
the database serialises concurrent updates of a row (PostgreSQL re-checks the condition on the
row version it waited for; SQLite takes a write lock), so exactly one contender sees a changed
row. A holder renews while it works; a crashed holder's lease runs out and the next run takes
over. A holder on this same machine whose process no longer exists (``kill -9``, an OOM kill)
is taken over at once instead of after the expiry: the holder id names host and process.
Nothing here needs Redis, so it works the same in embedded mode.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from inboxcrm.adapters.db.tenant_tables import MailSyncLeaseRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.sync.inserts import insert_if_absent

__all__ = ["DEFAULT_LEASE_SECONDS", "LeaseLost", "MailboxLease", "new_holder_id"]

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 300.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseLost(Exception):
    """Another worker took the mailbox over (our lease had expired); stop without writing more."""


def new_holder_id() -> str:
    """A holder id unique to this attempt: host, process and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _dead_local_holder(holder: str) -> bool:
    """True when ``holder`` names a process of this host that no longer exists."""
    host, _, rest = holder.partition(":")
    raw_pid, _, _ = rest.partition(":")
    if host != socket.gethostname()[:40] or not raw_pid.isdigit():
        return False
    pid = int(raw_pid)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A zombie (killed, not yet reaped by its parent) still answers signal 0.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


class MailboxLease:
    """The lease on one mailbox. ``uow_factory`` opens a unit of work on the tenant database."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        account_id: int,
        *,
        holder: str | None = None,
        seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._uow_factory = uow_factory
        self.account_id = account_id
        self.holder = holder or new_holder_id()
        self.seconds = seconds
        self._clock = clock
        self.held = False
        self._last_renewal = _EPOCH

    def acquire(self) -> bool:
        """Take the lease if it is free or expired. False when another holder has it."""
        now = self._clock()
        with self._uow_factory() as uow:
            insert_if_absent(
                uow.session,
                MailSyncLeaseRow.__table__,  # type: ignore[arg-type]
                [{"mail_account_id": self.account_id, "holder": "", "expires_at": _EPOCH}],
                ["mail_account_id"],
            )
            result = uow.session.execute(
                update(MailSyncLeaseRow)
                .where(
                    MailSyncLeaseRow.mail_account_id == self.account_id,
                    (MailSyncLeaseRow.expires_at < now) | (MailSyncLeaseRow.holder == self.holder),
                )
                .values(holder=self.holder, expires_at=now + timedelta(seconds=self.seconds))
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        self.held = bool(result.rowcount)  # type: ignore[attr-defined]
        if not self.held:
            self.held = self._take_over_dead_local_holder(now)
        if self.held:
            self._last_renewal = now
        return self.held

    def _take_over_dead_local_holder(self, now: datetime) -> bool:
        """Take the lease from a holder on this host whose process has died."""
        with self._uow_factory() as uow:
            holder = uow.session.scalar(
                select(MailSyncLeaseRow.holder).where(
                    MailSyncLeaseRow.mail_account_id == self.account_id
                )
            )
            if not holder or not _dead_local_holder(holder):
                return False
            result = uow.session.execute(
                update(MailSyncLeaseRow)
                .where(
                    MailSyncLeaseRow.mail_account_id == self.account_id,
                    MailSyncLeaseRow.holder == holder,
                )
                .values(holder=self.holder, expires_at=now + timedelta(seconds=self.seconds))
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        taken = bool(result.rowcount)  # type: ignore[attr-defined]
        if taken:
            logger.warning(
                "lease on mail account %s taken over from a dead process", self.account_id
            )
        return taken

    def renew(self, *, min_interval: float = 0.0) -> None:
        """Extend the lease; raises :class:`LeaseLost` if someone else holds it now.

        With ``min_interval``, renewals closer together than that many seconds are skipped.
        """
        now = self._clock()
        if (now - self._last_renewal).total_seconds() < min_interval:
            return
        with self._uow_factory() as uow:
            result = uow.session.execute(
                update(MailSyncLeaseRow)
                .where(
                    MailSyncLeaseRow.mail_account_id == self.account_id,
                    MailSyncLeaseRow.holder == self.holder,
                )
                .values(expires_at=now + timedelta(seconds=self.seconds))
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        if not result.rowcount:  # type: ignore[attr-defined]
            self.held = False
            raise LeaseLost(f"lease on mail account {self.account_id} was taken over")
        self._last_renewal = now

    def release(self) -> None:
        """Give the lease up (only if still ours)."""
        if not self.held:
            return
        with self._uow_factory() as uow:
            uow.session.execute(
                update(MailSyncLeaseRow)
                .where(
                    MailSyncLeaseRow.mail_account_id == self.account_id,
                    MailSyncLeaseRow.holder == self.holder,
                )
                .values(holder="", expires_at=_EPOCH)
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        self.held = False
