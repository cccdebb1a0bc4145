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
    "gmail.users.watch": 100,
    "gmail.users.stop": 50,
    "gmail.users.settings.sendAs.list": 1,
}


def method_cost(method_id: str) -> int:
    return METHOD_COSTS.get(method_id, 1)


class QuotaMeter:
    """Moving-window units per user: a call is refused when the window would overflow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._sums: dict[str, int] = defaultdict(int)

    def try_charge(self, user: str, units: int, per_second: float | None, window_s: float) -> bool:
        if per_second is None or per_second <= 0:
            return True
        capacity = per_second * window_s
        now = time.monotonic()
        with self._lock:
            spent = self._spent[user]
            while spent and spent[0][0] <= now - window_s:
                self._sums[user] -= spent.popleft()[1]
            if self._sums[user] + units > capacity:
                return False
            spent.append((now, units))
            self._sums[user] += units
            return True

    def reset(self) -> None:
        with self._lock:
            self._spent.clear()
            self._sums.clear()


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
