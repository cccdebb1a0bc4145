"""Per-user quota accounting in Google's units, usage counters and fault injection."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

# Gmail's published per-method costs (quota units); People/Calendar calls count 1.
METHOD_COSTS: dict[str, int] = {
    "gmail.users.getProfile": 1,
    "gmail.users.history.list": 2,
    "gmail.users.labels.get": 1,
    "gmail.users.labels.list": 1,
    "gmail.users.labels.create": 5,
    "gmail.users.labels.update": 5,
    "gmail.users.labels.patch": 5,
    "gmail.users.labels.delete": 5,
    "gmail.users.messages.get": 5,
    "gmail.users.messages.list": 5,
    "gmail.users.messages.modify": 5,
    "gmail.users.messages.trash": 5,
    "gmail.users.messages.untrash": 5,
    "gmail.users.messages.delete": 10,
    "gmail.users.messages.attachments.get": 5,
    "gmail.users.messages.insert": 25,
    "gmail.users.messages.import": 25,
    "gmail.users.messages.batchModify": 50,
    "gmail.users.messages.send": 100,
    "gmail.users.threads.get": 10,
    "gmail.users.threads.list": 10,
    "gmail.users.threads.modify": 10,
    "gmail.users.watch": 100,
    "gmail.users.stop": 50,
    "gmail.users.settings.sendAs.list": 1,
}


def method_cost(method_id: str) -> int:
    return METHOD_COSTS.get(method_id, 1)


class QuotaMeter:
    """Moving-window units per key: a call is refused when a window would overflow.

    Keys are a user's address (per-user limits) or ``"*project*"`` (the project-wide budget);
    each limit has its own window length. :meth:`try_charge_all` checks every limit first and
    charges none of them unless all admit the call, as Google does.
    """

    PROJECT = "*project*"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent: dict[tuple[str, float], deque[tuple[float, int]]] = defaultdict(deque)
        self._sums: dict[tuple[str, float], int] = defaultdict(int)

    def _expire(self, key: tuple[str, float], now: float) -> None:
        spent = self._spent[key]
        while spent and spent[0][0] <= now - key[1]:
            self._sums[key] -= spent.popleft()[1]

    def try_charge_all(
        self, units: int, limits: list[tuple[str, float | None, float]]
    ) -> tuple[str, float] | None:
        """Charge ``units`` to every ``(key, capacity, window_s)``; None when admitted.

        Refused: ``(key, seconds until the window has room)`` of the first limit that is full.
        Limits whose capacity is None or not positive are ignored.
        """
        now = time.monotonic()
        active = [(k, c, w) for k, c, w in limits if c is not None and c > 0 and w > 0]
        with self._lock:
            for key, capacity, window in active:
                slot = (key, window)
                self._expire(slot, now)
                assert capacity is not None
                if self._sums[slot] + units > capacity:
                    return key, self._room_in(slot, units, capacity, now)
            for key, _capacity, window in active:
                slot = (key, window)
                self._spent[slot].append((now, units))
                self._sums[slot] += units
        return None

    def _room_in(self, slot: tuple[str, float], units: int, capacity: float, now: float) -> float:
        excess = self._sums[slot] + units - capacity
        for stamp, spent in self._spent[slot]:
            excess -= spent
            if excess <= 0:
                return max(0.0, stamp + slot[1] - now)
        return slot[1]

    def try_charge(self, user: str, units: int, per_second: float | None, window_s: float) -> bool:
        if per_second is None or per_second <= 0:
            return True
        return self.try_charge_all(units, [(user, per_second * window_s, window_s)]) is None

    def reset(self) -> None:
        with self._lock:
            self._spent.clear()
            self._sums.clear()


class ConcurrencyMeter:
    """Calls of each user being processed right now (inner calls of a running batch included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, int] = defaultdict(int)

    def try_enter(self, user: str, limit: int | None) -> bool:
        with self._lock:
            if limit is not None and limit > 0 and self._inflight[user] >= limit:
                return False
            self._inflight[user] += 1
            return True

    def leave(self, user: str, count: int = 1) -> None:
        with self._lock:
            self._inflight[user] = max(0, self._inflight[user] - count)


@dataclass
class UserUsage:
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    units: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    faults: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "units": dict(self.units),
            "total_calls": sum(self.calls.values()),
            "total_units": sum(self.units.values()),
            "rate_limited": dict(self.rate_limited),
            "faults": dict(self.faults),
        }


class UsageStats:
    """Counters the control API reports: calls and units per user and API method."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, UserUsage] = defaultdict(UserUsage)

    def charged(self, user: str, method_id: str, units: int) -> None:
        with self._lock:
            usage = self._users[user]
            usage.calls[method_id] += 1
            usage.units[method_id] += units

    def limited(self, user: str, method_id: str) -> None:
        with self._lock:
            self._users[user].rate_limited[method_id] += 1

    def faulted(self, user: str, method_id: str) -> None:
        with self._lock:
            self._users[user].faults[method_id] += 1

    def of(self, user: str) -> dict[str, Any]:
        with self._lock:
            return self._users[user].to_json()

    def reset(self, user: str | None = None) -> None:
        with self._lock:
            if user is None:
                self._users.clear()
            else:
                self._users.pop(user, None)


@dataclass(frozen=True)
class FaultDecision:
    drop: bool = False
    status: int | None = None
    delay_s: float = 0.0


class FaultInjector:
    """Seedable random failures, slow answers and dropped connections."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._seed = seed

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            if seed != self._seed:
                self._rng = random.Random(seed)
                self._seed = seed

    def decide(
        self,
        *,
        fault_rate: float,
        statuses: list[int],
        drop_rate: float,
        slow_rate: float,
        slow_ms: float,
        latency_ms: float,
        allow_drop: bool,
    ) -> FaultDecision:
        if not (fault_rate or drop_rate or slow_rate or latency_ms):
            return FaultDecision()
        with self._lock:
            delay = latency_ms / 1000
            if slow_rate and self._rng.random() < slow_rate:
                delay += slow_ms / 1000
            if allow_drop and drop_rate and self._rng.random() < drop_rate:
                return FaultDecision(drop=True, delay_s=delay)
            if fault_rate and statuses and self._rng.random() < fault_rate:
                return FaultDecision(status=self._rng.choice(statuses), delay_s=delay)
            return FaultDecision(delay_s=delay)
