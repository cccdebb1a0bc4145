"""Throttling of guessable authentication: passwords, API tokens, OAuth states.

The whole flow:

1. Every attempt names its **throttle keys**: a password sign-in has two, the account (the
   submitted email address, normalised, *whether or not such a user exists*, so unknown and
   known users are answered alike) and the client IP; a bearer token or an OAuth callback
   state has one, the client IP (those secrets are long random values, so the IP is what a
   guesser has).
2. Before the secret is even checked, :func:`ensure_not_locked` refuses a locked key with
   :class:`TooManyAttempts` (HTTP 429 with ``Retry-After``); nothing about the secret is
   evaluated while locked, so guessing is stopped, not just slowed.
3. A wrong secret calls :func:`record_failure`. Each key's policy allows a few free failures
   within its window; the next one locks the key for ``base`` seconds, and every further
   failure after a lock expires doubles it (exponential backoff) up to ``max`` (15 minutes):
   a temporary lockout, never a permanent one that an attacker could use to lock a user out
   for good. Each lockout is logged at WARNING (key hash only, never the email or secret) for
   the audit log (action ``auth.lockout``).
4. A successful sign-in clears the account key (:func:`clear_keys`); IP keys only decay (a
   guesser holding one valid account must not reset its IP's count).

State lives in the control plane (``auth_throttles``, keys stored as SHA-256), so every web
process sees the same counts. Bearer requests are the hot path: a process-local cache of the
locks it has seen (:func:`locally_locked`) refuses a locked IP without a query, and the
database is read only when a token is wrong.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from inboxcrm.adapters.db.throttle_tables import AuthThrottleRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.domain.errors import InboxCrmError
from inboxcrm.services.audit import record_event

__all__ = [
    "POLICIES",
    "ThrottleKey",
    "ThrottlePolicy",
    "TooManyAttempts",
    "account_key",
    "clear_keys",
    "ensure_not_locked",
    "ip_key",
    "locally_locked",
    "record_failure",
]

logger = logging.getLogger(__name__)


class TooManyAttempts(InboxCrmError):
    """Too many failed attempts: the key is locked for ``retry_after`` seconds (HTTP 429)."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int
    base: timedelta
    max: timedelta
    window: timedelta

    def lock_for(self, failures: int) -> timedelta:
        over = failures - self.free_failures - 1
        seconds = self.base.total_seconds() * 2 ** min(over, 20)
        return timedelta(seconds=min(seconds, self.max.total_seconds()))


_MINUTE = timedelta(minutes=1)
POLICIES: dict[str, ThrottlePolicy] = {
    # Password sign-in, per submitted account: 5 free, then 30 s, 60 s, 120 s ... 15 min.
    "account": ThrottlePolicy(5, timedelta(seconds=30), 15 * _MINUTE, 60 * _MINUTE),
    # Password sign-in, per client IP (several users behind one NAT): 20 free, then 1 min ...
    "login_ip": ThrottlePolicy(20, _MINUTE, 15 * _MINUTE, 60 * _MINUTE),
    # Wrong bearer tokens per client IP.
    "token_ip": ThrottlePolicy(20, _MINUTE, 15 * _MINUTE, 60 * _MINUTE),
    # Unknown OAuth callback states per client IP.
    "oauth_ip": ThrottlePolicy(10, _MINUTE, 15 * _MINUTE, 60 * _MINUTE),
}


@dataclass(frozen=True)
class ThrottleKey:
    scope: str
    value: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(f"{self.scope}\x00{self.value}".encode()).hexdigest()


def account_key(email: str) -> ThrottleKey:
    """The account key of a submitted email (normalised when valid, exact text otherwise)."""
    return ThrottleKey("account", try_normalize_email(email) or email.strip().lower()[:320])


def ip_key(scope: str, ip: str | None) -> list[ThrottleKey]:
    """The client-IP key of ``scope`` (none when the IP is unknown)."""
    return [ThrottleKey(scope, ip)] if ip else []


_cache_lock = threading.Lock()
_seen_locks: dict[tuple[str, str], datetime] = {}


def _remember(runtime: Runtime, key: ThrottleKey, until: datetime | None) -> None:
    cache_key = (runtime.settings.database_url, key.digest)
    with _cache_lock:
        if until is None:
            _seen_locks.pop(cache_key, None)
        else:
            _seen_locks[cache_key] = until
            if len(_seen_locks) > 10_000:  # bounded: drop the oldest entries
                for stale in sorted(_seen_locks, key=_seen_locks.__getitem__)[:1_000]:
                    del _seen_locks[stale]


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def locally_locked(
    runtime: Runtime, keys: Sequence[ThrottleKey], now: datetime | None = None
) -> None:
    """Refuse a key this process already knows to be locked (no database query)."""
    moment = now or utcnow()
    with _cache_lock:
        until = [_seen_locks.get((runtime.settings.database_url, key.digest)) for key in keys]
    latest = max((u for u in until if u is not None and u > moment), default=None)
    if latest is not None:
        raise TooManyAttempts(_seconds_until(latest, moment))


def ensure_not_locked(
    runtime: Runtime, keys: Sequence[ThrottleKey], now: datetime | None = None
) -> None:
    """Raise :class:`TooManyAttempts` when any of ``keys`` is locked out now."""
    if not keys:
        return
    moment = now or utcnow()
    with runtime.control_uow() as uow:
        rows = uow.session.execute(
            select(AuthThrottleRow.key_hash, AuthThrottleRow.locked_until).where(
                AuthThrottleRow.key_hash.in_([key.digest for key in keys])
            )
        ).all()
    latest = max((until for _, until in rows if until is not None and until > moment), default=None)
    if latest is not None:
        for key in keys:
            _remember(runtime, key, latest)
        raise TooManyAttempts(_seconds_until(latest, moment))


def record_failure(
    runtime: Runtime, keys: Sequence[ThrottleKey], now: datetime | None = None
) -> int | None:
    """Count a failed attempt against each key; returns the seconds of a lock now in force
    on any of them (just started, or already running), else None.
    """
    moment = now or utcnow()
    locked: int | None = None
    for key in keys:
        try:
            seconds = _fail_one(runtime, key, moment)
        except IntegrityError:  # a concurrent first failure created the row: count again
            seconds = _fail_one(runtime, key, moment)
        if seconds is not None:
            locked = max(locked or 0, seconds)
    return locked


def _fail_one(runtime: Runtime, key: ThrottleKey, now: datetime) -> int | None:
    policy = POLICIES[key.scope]
    with runtime.control_uow() as uow:
        row = uow.session.scalar(
            select(AuthThrottleRow)
            .where(AuthThrottleRow.scope == key.scope, AuthThrottleRow.key_hash == key.digest)
            .with_for_update()
        )
        if row is None:
            row = AuthThrottleRow(
                scope=key.scope,
                key_hash=key.digest,
                failures=0,
                lockouts=0,
                first_failure_at=now,
                last_failure_at=now,
            )
            uow.session.add(row)
        elif row.locked_until is not None and row.locked_until > now:
            until = row.locked_until
            uow.commit()
            _remember(runtime, key, until)
            return _seconds_until(until, now)
        elif row.last_failure_at < now - policy.window:
            row.failures, row.lockouts, row.first_failure_at = 0, 0, now
        row.failures += 1
        row.last_failure_at = now
        lock: timedelta | None = None
        if row.failures > policy.free_failures:
            lock = policy.lock_for(row.failures)
            row.locked_until = now + lock
            row.lockouts += 1
            record_event(  # the control plane's log: a lockout is not yet any tenant's
                uow,
                action="auth.lockout",
                actor_user_id=None,
                actor_kind="system",
                target=f"{key.scope}:{key.digest[:12]}",
                outcome="denied",
                details={"lock_seconds": int(lock.total_seconds()), "failures": row.failures},
            )
        uow.commit()
        failures, lockouts = row.failures, row.lockouts
    if lock is None:
        return None
    _remember(runtime, key, now + lock)
    logger.warning(
        "auth lockout: %s key %s locked for %d s after %d failures (lockout %d)",
        key.scope,
        key.digest[:12],
        int(lock.total_seconds()),
        failures,
        lockouts,
    )
    return _seconds_until(now + lock, now)


def clear_keys(runtime: Runtime, keys: Sequence[ThrottleKey]) -> None:
    """Forget the failures of ``keys`` (after a successful sign-in)."""
    if not keys:
        return
    with runtime.control_uow() as uow:
        uow.session.execute(
            delete(AuthThrottleRow).where(
                AuthThrottleRow.key_hash.in_([key.digest for key in keys])
            )
        )
        uow.commit()
    for key in keys:
        _remember(runtime, key, None)
