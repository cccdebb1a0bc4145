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
  every worker process on every machine shares one budget per key (the project's budget).

Google counts quota in *moving windows* (one second, one minute) and answers 429 as soon as a
window would overflow. A bucket admits at most ``burst + rate * t`` units in any interval ``t``,
so it stays inside a window of length ``W`` and capacity ``C`` when ``burst + rate * W <= C``:
:func:`window_safe_bucket_params` picks such a rate (``headroom`` of the limit) and a small
burst. A batch of 50 gets (250 units) then leaves only when the previous batch's units have left
the window, instead of bursting into it.

A bucket charges a batch before it is sent, so a window can still hold the bucket's second of
units plus the whole batch that opened it (250 units/s and batches of 45 units: 290 units in
one second). :class:`MovingWindowGate` paces to the window itself: it logs the units it admitted
in the last ``window_s`` and admits a call only when the window has room for it; with
:meth:`MovingWindowGate.acquire_up_to` a batch takes as many of its parts as fit now (at least
one), so the window is filled to its capacity and never over it. Units stay in its window until
a window's length after the call was answered (:func:`settle`), so delays on the way never
squeeze more than a window's units into Google's. :class:`RedisMovingWindowGate` is the same
window in Redis, shared by every worker process of a mailbox. :func:`acquire_parts` asks any
gate for such a share (gates without it are charged part by part).

On top of the buckets, :class:`CombinedGate` charges several budgets in turn (the mailbox's and
the project-wide one every worker shares), and :class:`AdaptivePacer` slows a mailbox down when
Google refuses calls anyway (its limits change, other apps share the user's quota):

- it starts below full speed (``initial``),
- every rate-limit answer multiplies its speed by ``decrease`` and, with a ``Retry-After``,
  pauses every call until then,
- each ``recovery_interval_s`` without a refusal it adds ``recovery_step`` back, up to full speed.

Slowing down is done by charging ``units / factor`` to the gates below, so a shared Redis bucket
slows every worker of the mailbox alike.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "GMAIL_UNITS",
    "AdaptivePacer",
    "CombinedGate",
    "LocalTokenBucket",
    "MovingWindowGate",
    "PacingFeedback",
    "QuotaGate",
    "RedisMovingWindowGate",
    "RedisTokenBucket",
    "UnlimitedGate",
    "acquire_parts",
    "gate_rate",
    "settle",
    "units_for",
    "window_safe_bucket_params",
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


@runtime_checkable
class PacingFeedback(Protocol):
    """A gate that learns from Google's answers (see :class:`AdaptivePacer`)."""

    def rate_limited(self, retry_after: float | None = None) -> None:
        """Google refused a call for a rate limit (``retry_after``: its hint in seconds)."""
        ...

    def succeeded(self) -> None:
        """A call (or batch) went through without a rate-limit refusal."""
        ...


def acquire_parts(gate: QuotaGate, unit: float, count: int) -> int:
    """Spend ``unit`` for each of up to ``count`` parts of a batch; returns how many parts may be
    sent now (at least one). Gates that pace to a moving window grant what fits in it; others
    are charged every part, one by one."""
    if count <= 0:
        return 0
    partial = getattr(gate, "acquire_up_to", None)
    if callable(partial):
        granted = partial(unit, count)
        return max(1, min(count, int(granted)))
    for _ in range(count):
        gate.acquire(unit)  # one charge per part, as Google counts them
    return count


def gate_rate(gate: object) -> float | None:
    """The rate (units/s) a gate admits, when it has one (buckets do; unlimited gates not)."""
    rate = getattr(gate, "rate", None)
    return float(rate) if isinstance(rate, int | float) else None


def window_safe_bucket_params(
    limit_per_s: float, *, window_s: float = 1.0, headroom: float = 0.97
) -> tuple[float, float]:
    """(rate, burst) of a bucket that never overflows a moving window of ``limit_per_s``.

    ``rate = headroom * limit`` and ``burst = (1 - headroom) * limit * window_s`` (at least one
    unit), so ``burst + rate * window_s`` equals the window's capacity.
    """
    if limit_per_s <= 0 or not 0 < headroom <= 1:
        raise ValueError("limit must be positive and headroom in (0, 1]")
    rate = limit_per_s * headroom
    burst = max(1.0, (1.0 - headroom) * limit_per_s * window_s)
    return rate, burst


class CombinedGate:
    """Admits a call only through every gate in turn (e.g. the mailbox's, then the project's)."""

    def __init__(self, *gates: QuotaGate) -> None:
        self.gates = gates

    @property
    def rate(self) -> float | None:
        """The slowest gate's rate in units/s (None: unlimited)."""
        rates = [r for r in map(gate_rate, self.gates) if r is not None]
        return min(rates) if rates else None

    def acquire(self, units: float) -> None:
        for gate in self.gates:
            gate.acquire(units)

    def completed(self) -> None:
        for gate in self.gates:
            settle(gate)

    def acquire_up_to(self, unit: float, count: int) -> int:
        """The first gate grants a share of the parts; every other gate is charged for it."""
        if not self.gates:
            return count
        granted = acquire_parts(self.gates[0], unit, count)
        for gate in self.gates[1:]:
            gate.acquire(unit * granted)
        return granted


class AdaptivePacer:
    """Adaptive speed on top of a gate (see the module docstring); thread-safe."""

    def __init__(
        self,
        gate: QuotaGate,
        *,
        initial: float = 0.9,
        floor: float = 0.05,
        decrease: float = 0.85,
        recovery_step: float = 0.05,
        recovery_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < floor <= initial <= 1 or not 0 < decrease < 1:
            raise ValueError("need 0 < floor <= initial <= 1 and 0 < decrease < 1")
        self.gate = gate
        self.factor = initial
        self.floor = floor
        self.decrease = decrease
        self.recovery_step = recovery_step
        self.recovery_interval_s = recovery_interval_s
        self.refusals = 0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._last_change = clock()

    @property
    def rate(self) -> float | None:
        """Units/s admitted now (the gate's rate times the current factor)."""
        below = gate_rate(self.gate)
        return None if below is None else below * self.factor

    def acquire(self, units: float) -> None:
        with self._lock:
            pause = self._paused_until - self._clock()
            factor = self.factor
        if pause > 0:
            self._sleep(pause)
        self.gate.acquire(units / factor)

    def acquire_up_to(self, unit: float, count: int) -> int:
        with self._lock:
            pause = self._paused_until - self._clock()
            factor = self.factor
        if pause > 0:
            self._sleep(pause)
        return acquire_parts(self.gate, unit / factor, count)

    def completed(self) -> None:
        settle(self.gate)

    def rate_limited(self, retry_after: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            self.refusals += 1
            self.factor = max(self.floor, self.factor * self.decrease)
            self._last_change = now
            if retry_after is not None and retry_after > 0:
                self._paused_until = max(self._paused_until, now + retry_after)
        logger.info("rate limited: pacing at %.0f%% of the quota", self.factor * 100)

    def succeeded(self) -> None:
        with self._lock:
            if self.factor >= 1.0:
                return
            now = self._clock()
            if now - self._last_change >= self.recovery_interval_s:
                self.factor = min(1.0, self.factor + self.recovery_step)
                self._last_change = now


class MovingWindowGate:
    """Thread-safe: at most ``capacity`` units in any moving window of ``window_s`` (in this
    process), as Google counts them. See the module docstring.

    Units count from their admission until ``window_s`` after the call *completed*
    (:meth:`completed`, by the thread that acquired them): Google charges a call somewhere in
    between, so however long the network or a loaded machine delays it, the provider's window
    never holds more than this one. A call costing more than the whole window is admitted once
    the window is empty.
    """

    def __init__(
        self,
        capacity: float,
        window_s: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity <= 0 or window_s <= 0:
            raise ValueError("capacity and window must be positive")
        self.capacity = float(capacity)
        self.window_s = float(window_s)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._log: list[list[float]] = []
        """[stamp, units] per admission; the stamp moves to the completion time."""
        self._last = threading.local()

    @property
    def rate(self) -> float:
        """Units/s admitted at most on average."""
        return self.capacity / self.window_s

    def _expire(self, now: float) -> float:
        """Forget admissions out of the window; returns the units still in it."""
        self._log = [entry for entry in self._log if entry[0] > now - self.window_s]
        return sum(entry[1] for entry in self._log)

    def _wait_for(self, units: float, spent: float, now: float) -> float:
        """Seconds until ``units`` fit (enough of the window has moved on)."""
        excess = spent + units - self.capacity
        for stamp, admitted in sorted(self._log):
            excess -= admitted
            if excess <= 1e-9:
                return max(0.0, stamp + self.window_s - now)
        return max((e[0] for e in self._log), default=now - self.window_s) + self.window_s - now

    def acquire_up_to(self, unit: float, count: int) -> int:
        """Admit as many parts of ``unit`` as fit now, at most ``count``; waits for one."""
        if count <= 0:
            return 0
        while True:
            with self._lock:
                now = self._clock()
                spent = self._expire(now)
                room = self.capacity - spent
                fits = min(count, int((room + 1e-9) // unit)) if unit > 0 else count
                if fits >= 1 or not self._log:
                    granted = max(1, fits)
                    entry = [now, unit * granted]
                    self._log.append(entry)
                    self._last.entry = entry
                    return granted
                wait = self._wait_for(unit, spent, now)
            self._sleep(max(wait, 1e-4))

    def acquire(self, units: float) -> None:
        self.acquire_up_to(units, 1)

    def completed(self) -> None:
        """The call this thread acquired for last has been answered: its units leave the
        window ``window_s`` from now."""
        entry = getattr(self._last, "entry", None)
        if entry is None:
            return
        self._last.entry = None
        with self._lock:
            entry[0] = max(entry[0], self._clock())


def settle(gate: QuotaGate) -> None:
    """Tell ``gate`` (and the gates it wraps) that the call just acquired for was answered."""
    done = getattr(gate, "completed", None)
    if callable(done):
        done()


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


# KEYS[1] the window's sorted set (member "<id>:<units>", score: its stamp in microseconds).
# ARGV: capacity, window (microseconds), unit, count, id. Returns {granted, wait_micros, now,
# member}: the parts admitted now and their member (then wait is 0), or none and how long until
# one fits.
_WINDOW_ACQUIRE_LUA = """
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local unit = tonumber(ARGV[3])
local count = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now - window))
local entries = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
local spent = 0
for i = 1, #entries, 2 do
  spent = spent + tonumber(string.match(entries[i], ':([^:]+)$'))
end
local fits = count
if unit > 0 then fits = math.min(count, math.floor((capacity - spent + 1e-9) / unit)) end
if fits >= 1 or #entries == 0 then
  local granted = math.max(1, fits)
  local member = ARGV[5] .. ':' .. string.format('%.17g', unit * granted)
  redis.call('ZADD', key, string.format('%.0f', now), member)
  redis.call('PEXPIRE', key, math.ceil(window / 1000) * 2 + 1000)
  return {granted, 0, string.format('%.0f', now), member}
end
local excess = spent + unit - capacity
for i = 1, #entries, 2 do
  excess = excess - tonumber(string.match(entries[i], ':([^:]+)$'))
  if excess <= 1e-9 then
    return {0, math.max(1, tonumber(entries[i + 1]) + window - now), string.format('%.0f', now)}
  end
end
return {0, math.max(1, tonumber(entries[#entries]) + window - now), string.format('%.0f', now)}
"""

# KEYS[1] the window; ARGV: the member, the key's time to live (ms). The member's stamp moves
# to now (its call was answered).
_WINDOW_COMPLETED_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if redis.call('ZADD', KEYS[1], 'XX', 'GT', 'CH', string.format('%.0f', now), ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 1
"""


class RedisMovingWindowGate:
    """:class:`MovingWindowGate` in Redis, shared by every process using the same ``key``: at
    most ``capacity`` units in any moving window of ``window_s``, on the Redis server's clock.

    The window is one sorted set of admissions (one atomic Lua script per call); an admission's
    stamp moves to the time its call was answered (:meth:`completed`), so its units count until
    ``window_s`` after that, as in :class:`MovingWindowGate`. A fresh mailbox can so spend a
    whole window's units at once (a small sync needs no pacing at all), where a bucket that
    never overflows the window saves up only ``(1 - headroom)`` of it. ``client`` is a
    ``redis.Redis``.
    """

    def __init__(
        self,
        client: Any,
        key: str,
        capacity: float,
        window_s: float = 1.0,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity <= 0 or window_s <= 0:
            raise ValueError("capacity and window must be positive")
        self.key = key
        self.capacity = float(capacity)
        self.window_s = float(window_s)
        self._sleep = sleep
        self._acquire = client.register_script(_WINDOW_ACQUIRE_LUA)
        self._completed = client.register_script(_WINDOW_COMPLETED_LUA)
        self._last = threading.local()

    @property
    def rate(self) -> float:
        """Units/s admitted at most on average."""
        return self.capacity / self.window_s

    def try_acquire(self, unit: float, count: int) -> tuple[int, float, float]:
        """(parts of ``unit`` admitted now, at most ``count``, or 0; the seconds until one fits,
        or 0; the time of the answer on the Redis clock, in s)."""
        if unit < 0:
            raise ValueError("units must not be negative")
        member = uuid.uuid4().hex
        answer = self._acquire(
            keys=[self.key],
            args=[
                repr(self.capacity),
                repr(self.window_s * 1_000_000),
                repr(float(unit)),
                str(count),
                member,
            ],
        )
        granted, wait_us, now_us = int(answer[0]), int(answer[1]), int(answer[2])
        if granted >= 1:
            self._last.member = answer[3]
        return granted, wait_us / 1_000_000, now_us / 1_000_000

    def acquire_up_to(self, unit: float, count: int) -> int:
        """Admit as many parts of ``unit`` as fit now, at most ``count``; waits for one."""
        if count <= 0:
            return 0
        while True:
            granted, wait, _ = self.try_acquire(unit, count)
            if granted:
                return granted
            logger.debug("quota wait %.3fs on %s", wait, self.key)
            self._sleep(wait)

    def acquire(self, units: float) -> None:
        self.acquire_up_to(units, 1)

    def completed(self) -> None:
        """The call this thread acquired for last has been answered: its units leave the
        window ``window_s`` from now."""
        member = getattr(self._last, "member", None)
        if member is None:
            return
        self._last.member = None
        ttl_ms = int(self.window_s * 2000) + 1000
        self._completed(keys=[self.key], args=[member, str(ttl_ms)])
