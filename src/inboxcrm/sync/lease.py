"""At most one sync of a mailbox at a time, across every worker process and machine.

The lease is a row per mailbox in the tenant database (``mail_sync_leases``) with a holder and
an expiry. Taking it is one conditional ``UPDATE ... WHERE expires_at < now OR holder = me``:
the database serialises concurrent updates of a row (PostgreSQL re-checks the condition on the
row version it waited for; SQLite takes a write lock), so exactly one contender sees a changed
row. Nothing here needs Redis, so it works the same in embedded mode.

How a run uses it (``services.mail_sync``):

1. ``acquire()``. A holder on this machine whose process no longer exists (``kill -9``, an OOM
   kill) is taken over at once; any other holder is gone once its short lease
   (``DEFAULT_LEASE_SECONDS``) has run out without renewal.
2. While the run works, :class:`LeaseKeeper` renews the lease from a background thread every
   few seconds, independent of how long one provider call takes; so a live lease is a fact
   ("a run is alive"), an expired one is too ("its holder is gone").
3. A trigger that finds the lease held leaves a follow-up request on it
   (``request_follow_up``: incremental, or full, the stronger one wins) instead of being dropped.
4. ``finish()`` releases the lease unless a follow-up is waiting; then it clears the request,
   keeps the lease, and tells the run what to do next. A run that dies never clears the
   request, so the next run to take the lease honours it (``acquire`` hands it over).
5. ``record_failure()`` / the success path keep the failure streak that spaces out retries.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from inboxcrm.adapters.db.tenant_tables import MailSyncLeaseRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.sync.inserts import insert_if_absent

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "FOLLOW_UP_FULL",
    "FOLLOW_UP_INCREMENTAL",
    "LeaseFacts",
    "LeaseKeeper",
    "LeaseLost",
    "MailboxLease",
    "dead_local_holder",
    "lease_facts",
    "new_holder_id",
]

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 60.0
"""How long a lease lives without renewal: a vanished holder is taken over after this."""
KEEPER_INTERVAL_SECONDS = 10.0
"""How often :class:`LeaseKeeper` renews (well inside the lease)."""
FOLLOW_UP_INCREMENTAL = "incremental"
FOLLOW_UP_FULL = "full"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FINISH_ATTEMPTS = 5


class LeaseLost(Exception):
    """Another worker took the mailbox over (our lease had expired); stop without writing more."""


def new_holder_id() -> str:
    """A holder id unique to this attempt: host, process and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def dead_local_holder(holder: str) -> bool:
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


def _stronger(current: str | None, wanted: str) -> str:
    return FOLLOW_UP_FULL if FOLLOW_UP_FULL in (current, wanted) else FOLLOW_UP_INCREMENTAL


@dataclass(frozen=True)
class LeaseFacts:
    """What the lease row says about a mailbox right now (for status)."""

    held: bool
    """A live holder: renewed within the lease time and, if on this host, its process exists."""
    holder: str
    expires_at: datetime | None
    follow_up: str | None
    failures: int
    failed_at: datetime | None


def lease_facts(
    session: Session, account_ids: list[int], *, now: datetime | None = None
) -> dict[int, LeaseFacts]:
    """The lease facts of each account in ``account_ids`` (accounts never synced are absent)."""
    if not account_ids:
        return {}
    moment = now or utcnow()
    rows = session.scalars(
        select(MailSyncLeaseRow).where(MailSyncLeaseRow.mail_account_id.in_(account_ids))
    ).all()
    facts: dict[int, LeaseFacts] = {}
    for row in rows:
        live = bool(row.holder) and row.expires_at > moment and not dead_local_holder(row.holder)
        facts[row.mail_account_id] = LeaseFacts(
            held=live,
            holder=row.holder,
            expires_at=row.expires_at,
            follow_up=row.follow_up,
            failures=row.failures or 0,
            failed_at=row.failed_at,
        )
    return facts


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
        self.follow_up: str | None = None
        """The follow-up request handed over when the lease was taken (then cleared on the row)."""
        self._lost = threading.Event()
        self._last_renewal = _EPOCH
        self._renew_lock = threading.Lock()

    # -- taking ---------------------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take the lease if it is free or expired. False when another live holder has it.

        On success, a follow-up request left on the row is moved to :attr:`follow_up`.
        """
        now = self._clock()
        with self._uow_factory() as uow:
            insert_if_absent(
                uow.session,
                MailSyncLeaseRow.__table__,  # type: ignore[arg-type]
                [
                    {
                        "mail_account_id": self.account_id,
                        "holder": "",
                        "expires_at": _EPOCH,
                        "failures": 0,
                    }
                ],
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
            self.held = self._take_overdead_local_holder(now)
        if self.held:
            self._lost.clear()
            self._last_renewal = now
            self.follow_up = self._take_follow_up()
        return self.held

    def _take_overdead_local_holder(self, now: datetime) -> bool:
        """Take the lease from a holder on this host whose process has died."""
        with self._uow_factory() as uow:
            holder = uow.session.scalar(
                select(MailSyncLeaseRow.holder).where(
                    MailSyncLeaseRow.mail_account_id == self.account_id
                )
            )
            if not holder or not dead_local_holder(holder):
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

    def _take_follow_up(self) -> str | None:
        with self._uow_factory() as uow:
            wanted = uow.session.scalar(
                select(MailSyncLeaseRow.follow_up).where(
                    MailSyncLeaseRow.mail_account_id == self.account_id,
                    MailSyncLeaseRow.holder == self.holder,
                )
            )
            if wanted is None:
                return None
            uow.session.execute(
                update(MailSyncLeaseRow)
                .where(
                    MailSyncLeaseRow.mail_account_id == self.account_id,
                    MailSyncLeaseRow.holder == self.holder,
                )
                .values(follow_up=None)
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        return str(wanted)

    # -- follow-up requests ---------------------------------------------------------------------

    def request_follow_up(self, kind: str) -> bool:
        """Leave a follow-up request on a lease another live run holds; False if none holds it.

        ``kind`` is ``incremental`` or ``full``; a ``full`` request is never weakened.
        """
        now = self._clock()
        with self._uow_factory() as uow:
            result = uow.session.execute(
                update(MailSyncLeaseRow)
                .where(
                    MailSyncLeaseRow.mail_account_id == self.account_id,
                    MailSyncLeaseRow.holder != "",
                    MailSyncLeaseRow.holder != self.holder,
                    MailSyncLeaseRow.expires_at >= now,
                )
                .values(
                    follow_up=case(
                        (MailSyncLeaseRow.follow_up == FOLLOW_UP_FULL, FOLLOW_UP_FULL),
                        else_=_stronger(None, kind),
                    )
                )
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        recorded = bool(result.rowcount)  # type: ignore[attr-defined]
        if recorded:
            logger.info(
                "mail account %s busy: %s sync requested as a follow-up", self.account_id, kind
            )
        return recorded

    # -- holding --------------------------------------------------------------------------------

    def renew(self, *, min_interval: float = 0.0) -> None:
        """Extend the lease; raises :class:`LeaseLost` if someone else holds it now.

        With ``min_interval``, renewals closer together than that many seconds are skipped.
        """
        if self._lost.is_set():
            self.held = False
            raise LeaseLost(f"lease on mail account {self.account_id} was taken over")
        with self._renew_lock:
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
                self._lost.set()
                raise LeaseLost(f"lease on mail account {self.account_id} was taken over")
            self._last_renewal = now

    def keeper(self, interval: float = KEEPER_INTERVAL_SECONDS) -> LeaseKeeper:
        """A context manager renewing this lease in the background while a run works."""
        return LeaseKeeper(self, interval)

    # -- giving up ------------------------------------------------------------------------------

    def finish(self, *, succeeded: bool) -> str | None:
        """End a run: record its outcome and release the lease, unless a follow-up waits.

        Returns the follow-up kind (the lease is then still held and the request cleared),
        or None once the lease is released. A failed run keeps its failure streak.
        """
        if not self.held:
            return None
        outcome: dict[str, object] = (
            {"failures": 0, "failed_at": None}
            if succeeded
            else {"failures": MailSyncLeaseRow.failures + 1, "failed_at": self._clock()}
        )
        for _ in range(_FINISH_ATTEMPTS):
            with self._uow_factory() as uow:
                released = uow.session.execute(
                    update(MailSyncLeaseRow)
                    .where(
                        MailSyncLeaseRow.mail_account_id == self.account_id,
                        MailSyncLeaseRow.holder == self.holder,
                        MailSyncLeaseRow.follow_up.is_(None),
                    )
                    .values(holder="", expires_at=_EPOCH, **outcome)
                    .execution_options(synchronize_session=False)
                )
                if released.rowcount:  # type: ignore[attr-defined]
                    uow.commit()
                    self.held = False
                    return None
                wanted = uow.session.scalar(
                    select(MailSyncLeaseRow.follow_up).where(
                        MailSyncLeaseRow.mail_account_id == self.account_id,
                        MailSyncLeaseRow.holder == self.holder,
                    )
                )
                if wanted is None:
                    # Not ours any more (taken over after expiry): nothing to release.
                    uow.commit()
                    self.held = False
                    return None
                kept = uow.session.execute(
                    update(MailSyncLeaseRow)
                    .where(
                        MailSyncLeaseRow.mail_account_id == self.account_id,
                        MailSyncLeaseRow.holder == self.holder,
                        MailSyncLeaseRow.follow_up == wanted,
                    )
                    .values(
                        follow_up=None,
                        expires_at=self._clock() + timedelta(seconds=self.seconds),
                        **outcome,
                    )
                    .execution_options(synchronize_session=False)
                )
                uow.commit()
            if kept.rowcount:  # type: ignore[attr-defined]
                return str(wanted)
        return None

    def release(self) -> None:
        """Give the lease up (only if still ours), follow-up requests left in place."""
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


class LeaseKeeper:
    """Renews a lease every ``interval`` seconds on a daemon thread until the block ends.

    A renewal that finds the lease taken over marks it lost; the run's next checkpoint raises
    :class:`LeaseLost`. A renewal that fails (database briefly unavailable) is retried at the
    next interval: the lease stays valid for ``DEFAULT_LEASE_SECONDS`` meanwhile.
    """

    def __init__(self, lease: MailboxLease, interval: float) -> None:
        self._lease = lease
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-{lease.account_id}", daemon=True
        )

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._lease.renew()
            except LeaseLost:
                logger.warning("lease on mail account %s lost", self._lease.account_id)
                return
            except Exception:  # the database refused; try again at the next interval
                logger.warning(
                    "renewing the lease on mail account %s failed",
                    self._lease.account_id,
                    exc_info=True,
                )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(self._interval + 30)
