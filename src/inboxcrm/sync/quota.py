"""Per-mailbox rate limiting in Google's quota units.

Gmail allows one user about 250 units per second (15,000 per minute, a moving average); each API
method has a cost (:data:`GMAIL_UNITS`). Every caller that touches a mailbox acquires the cost of
a call from that mailbox's :class:`QuotaGate` before making it.

Both buckets work by *reservation*: ``acquire`` takes the units at once, letting the balance go
negative, and sleeps until the balance it left behind has been refilled. Callers are so served in
arrival order, a call costing more than the burst (``messages.send``: 100) still gets through,
and the units admitted in any interval of length ``t`` never exceed ``burst + rate * t``.

- :class:`LocalTokenBucket`: in memory, thread-safe; for the embedded single-process mode.
- :class:`RedisTokenBucket`: one atomic Lua script per call, on the Redis server's own clock, so
  every worker process on every machine shares one budget per mailbox key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "GMAIL_UNITS",
    "LocalTokenBucket",
    "QuotaGate",
    "RedisTokenBucket",
    "UnlimitedGate",
    "units_for",
]

logger = logging.getLogger(__name__)

GMAIL_UNITS: dict[str, int] = {
    "getProfile": 1,
    "history.list": 2,
    "labels.list": 1,
    "labels.get": 1,
    "labels.create": 5,
    "labels.update": 5,
    "labels.patch": 5,
    "labels.delete": 5,
    "messages.list": 5,
    "messages.get": 5,
    "messages.modify": 5,
    "messages.trash": 5,
    "messages.untrash": 5,
    "messages.attachments.get": 5,
    "messages.delete": 10,
    "messages.insert": 25,
    "messages.import": 25,
    "messages.batchModify": 50,
    "messages.batchDelete": 50,
    "messages.send": 100,
    "threads.get": 10,
    "threads.list": 10,
    "threads.modify": 10,
    "watch": 100,
    "stop": 50,
    "settings.sendAs.list": 1,
}
"""Quota units per Gmail API method (Google's published table; settings reads cost 1)."""


def units_for(method: str) -> int:
    """Cost of ``method`` (a key of :data:`GMAIL_UNITS`); unknown methods cost 5 (typical)."""
    return GMAIL_UNITS.get(method, 5)


@runtime_checkable
class QuotaGate(Protocol):
    """Admits API calls of one mailbox within its quota."""

    def acquire(self, units: float) -> None:
        """Block until ``units`` may be spent, then spend them."""
        ...


class UnlimitedGate:
    """A gate that never waits (tests, or providers without quotas)."""

    def acquire(self, units: float) -> None:
        return None


class LocalTokenBucket:
    """Thread-safe in-memory token bucket: ``rate`` units/s, at most ``burst`` saved up.

    ``clock`` and ``sleep`` are injectable (a fake clock makes behaviour testable without
    waiting).
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def reserve(self, units: float) -> float:
        """Take ``units`` now; return how many seconds the caller must wait before using them."""
        if units < 0:
            raise ValueError("units must not be negative")
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._stamp)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._stamp = now
            self._tokens -= units
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self, units: float) -> None:
        wait = self.reserve(units)
        if wait > 0:
            self._sleep(wait)

    @property
    def available(self) -> float:
        """Units that could be spent right now without waiting (negative while in debt)."""
        with self._lock:
            elapsed = max(0.0, self._clock() - self._stamp)
            return min(self.burst, self._tokens + elapsed * self.rate)


# KEYS[1] bucket hash; ARGV: rate (units/s), burst, units.
# Returns {wait_micros, admitted_at_micros} on the Redis server's clock.
_RESERVE_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', key, 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
  stamp = now
end
local elapsed = now - stamp
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate / 1000000)
tokens = tokens - units
-- tostring() keeps only 14 digits: not enough for a microsecond timestamp
redis.call('HSET', key, 'tokens', string.format('%.17g', tokens),
  'stamp', string.format('%.0f', now))
local wait = 0
if tokens < 0 then wait = math.ceil(-tokens * 1000000 / rate) end
local ttl = math.ceil((burst - tokens) * 1000 / rate) + 1000
redis.call('PEXPIRE', key, ttl)
return {wait, now + wait}
"""


class RedisTokenBucket:
    """A token bucket in Redis shared by every process using the same ``key``.

    ``key`` identifies the mailbox (e.g. ``"inboxcrm:quota:gmail:<account id>"``). State lives in
    one hash that expires once the bucket would be full again. ``client`` is a ``redis.Redis``.
    """

    def __init__(
        self,
        client: Any,
        key: str,
        *,
        rate: float,
        burst: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.key = key
        self.rate = float(rate)
        self.burst = float(burst)
        self._sleep = sleep
        self._script = client.register_script(_RESERVE_LUA)

    def reserve(self, units: float) -> tuple[float, float]:
        """Take ``units``; return (seconds to wait, admission time on the Redis clock in s)."""
        if units < 0:
            raise ValueError("units must not be negative")
        wait_us, admitted_us = self._script(
            keys=[self.key], args=[repr(self.rate), repr(self.burst), repr(float(units))]
        )
        return int(wait_us) / 1_000_000, int(admitted_us) / 1_000_000

    def acquire(self, units: float) -> None:
        wait, _ = self.reserve(units)
        if wait > 0:
            logger.debug("quota wait %.3fs on %s", wait, self.key)
            self._sleep(wait)
