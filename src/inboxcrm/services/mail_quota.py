"""The quota gate every client of a mailbox charges (see :mod:`inboxcrm.sync.quota`).

:func:`quota_gate_for` gives, per mailbox and process, one :class:`AdaptivePacer` over a
:class:`CombinedGate` of two buckets:

1. the mailbox's own budget: ``min(quota_units_per_second, quota_units_per_minute / 60)``:
   a moving one-second window that never holds more (units counted until a second after each
   answer; a batch takes the parts that fit): in one process a :class:`MovingWindowGate`, with
   Redis a :class:`RedisMovingWindowGate` of ``quota_headroom`` of the budget (its clock is the
   Redis server's, a network hop from the calls it paces), shared by every worker;
2. the project-wide budget (``project_quota_units_per_minute``, Google's per-project limit)
   shared by every mailbox, so thousands of mailboxes never exceed it together.

With ``INBOXCRM_REDIS_URL`` both buckets live in Redis and are shared by every worker process
on every machine; without it they are in-process (the embedded single-machine mode).
"""

from __future__ import annotations

import threading
from typing import Any

from inboxcrm.config import Settings
from inboxcrm.sync.quota import (
    AdaptivePacer,
    CombinedGate,
    LocalTokenBucket,
    MovingWindowGate,
    QuotaGate,
    RedisMovingWindowGate,
    RedisTokenBucket,
    UnlimitedGate,
    window_safe_bucket_params,
)

__all__ = ["mailbox_rate", "quota_gate_for", "reset_local_gates"]

_lock = threading.Lock()
_pacers: dict[tuple[str, str, float, float, str], AdaptivePacer] = {}
_project_buckets: dict[tuple[str, float], LocalTokenBucket] = {}
_redis_clients: dict[str, Any] = {}


def mailbox_rate(settings: Settings) -> float:
    """Units per second one mailbox may spend (0: unlimited)."""
    per_second = float(settings.quota_units_per_second)
    per_minute = float(settings.quota_units_per_minute)
    if per_second <= 0:
        return 0.0
    return min(per_second, per_minute / 60.0) if per_minute > 0 else per_second


def _redis(url: str) -> Any:
    with _lock:
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = redis.Redis.from_url(url)
            _redis_clients[url] = client
        return client


def _bucket(settings: Settings, key: str, limit_per_s: float, window_s: float) -> QuotaGate:
    rate, burst = window_safe_bucket_params(
        limit_per_s, window_s=window_s, headroom=settings.quota_headroom
    )
    if settings.redis_url:
        return RedisTokenBucket(_redis(settings.redis_url), key, rate=rate, burst=burst)
    return LocalTokenBucket(rate, burst)


def _project_gate(settings: Settings, provider: str) -> QuotaGate:
    limit = float(settings.project_quota_units_per_minute) / 60.0
    if limit <= 0:
        return UnlimitedGate()
    key = f"{settings.quota_key_prefix}:project:{provider}"
    if settings.redis_url:
        return _bucket(settings, key, limit, 60.0)
    with _lock:
        bucket = _project_buckets.get((provider, limit))
        if bucket is None:
            rate, burst = window_safe_bucket_params(
                limit, window_s=60.0, headroom=settings.quota_headroom
            )
            bucket = LocalTokenBucket(rate, burst)
            _project_buckets[(provider, limit)] = bucket
        return bucket


def quota_gate_for(settings: Settings, provider: str, mailbox: str) -> QuotaGate:
    """The paced gate of one mailbox (see the module docstring); one per mailbox and process."""
    rate = mailbox_rate(settings)
    if rate <= 0:
        return UnlimitedGate()
    key = (
        provider,
        mailbox,
        rate,
        float(settings.project_quota_units_per_minute),
        settings.redis_url + "|" + settings.quota_key_prefix,
    )
    with _lock:
        pacer = _pacers.get(key)
    if pacer is not None:
        return pacer
    key_name = f"{settings.quota_key_prefix}:{provider}:{mailbox}"
    own: QuotaGate
    if settings.redis_url:
        own = RedisMovingWindowGate(
            _redis(settings.redis_url), key_name, rate * settings.quota_headroom, 1.0
        )
    else:
        # In one process the mailbox's calls are paced to Google's moving window itself; its
        # units count until a second after each answer, which absorbs the network and clock
        # jitter the headroom is for, so the window is filled to the limit.
        own = MovingWindowGate(rate, 1.0)
    created = AdaptivePacer(CombinedGate(own, _project_gate(settings, provider)))
    with _lock:
        return _pacers.setdefault(key, created)


def reset_local_gates() -> None:
    """Forget the in-process gates (tests)."""
    with _lock:
        _pacers.clear()
        _project_buckets.clear()
