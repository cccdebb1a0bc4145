"""RedisMovingWindowGate against the real Redis server: one moving window per mailbox, shared
by threads and separate processes.

Admission times are read from the window itself (the Redis server's clock: the sorted set's
scores), so the assertions do not depend on how fast this machine schedules threads.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import redis

from inboxcrm.sync.quota import QuotaGate, RedisMovingWindowGate, acquire_parts, settle

pytestmark = pytest.mark.redis

CAPACITY = 200.0
WINDOW_S = 0.5
UNITS = 10.0
CALLS_PER_WORKER = 25

_PROCESS_WORKER = """
import sys, time
import redis
from inboxcrm.sync.quota import RedisMovingWindowGate, settle
url, key, capacity, window, units, calls, log = sys.argv[1:8]
client = redis.Redis.from_url(url)
gate = RedisMovingWindowGate(client, key, float(capacity), float(window))
for _ in range(int(calls)):
    while True:
        granted, wait, admitted = gate.try_acquire(float(units), 1)
        if granted:
            break
        time.sleep(wait)
    client.rpush(log, repr(admitted) + " " + units)
    settle(gate)
"""


def _recorded(client: redis.Redis, log: str) -> list[tuple[float, float]]:
    rows = [item.decode().split() for item in client.lrange(log, 0, -1)]
    return sorted((float(stamp), float(units)) for stamp, units in rows)


def test_a_fresh_window_admits_its_capacity_at_once_then_waits(
    client: redis.Redis, key: str
) -> None:
    waits: list[float] = []
    gate = RedisMovingWindowGate(client, key, 100.0, 1.0, sleep=waits.append)
    assert isinstance(gate, QuotaGate)
    assert gate.rate == pytest.approx(100.0)
    for _ in range(10):  # a whole window's units: no pacing at all
        assert gate.try_acquire(10.0, 1)[0] == 1
        settle(gate)
    assert waits == []
    granted, wait, _ = gate.try_acquire(10.0, 1)  # the window is full
    assert granted == 0 and 0 < wait <= 1.0
    assert client.zcard(key) == 10
    # A batch takes the parts that fit: half the window's units leave it after the first.
    other = RedisMovingWindowGate(client, key + ":b", 100.0, 1.0)
    try:
        assert other.try_acquire(30.0, 5)[:2] == (3, 0.0)
        granted, wait, _ = other.try_acquire(5.0, 4)
        assert granted == 2  # 10 units were left
        assert 0 < client.pttl(key + ":b") <= 3000
    finally:
        client.delete(key + ":b")


def test_units_count_until_a_window_after_the_answer(client: redis.Redis, key: str) -> None:
    gate = RedisMovingWindowGate(client, key, 10.0, 0.2, sleep=lambda s: None)
    gate.acquire(10.0)
    (before,) = client.zrange(key, 0, -1, withscores=True)
    settle(gate)  # the answer came: the stamp moves to now
    (after,) = client.zrange(key, 0, -1, withscores=True)
    assert after[0] == before[0] and after[1] > before[1]
    granted, wait, now = gate.try_acquire(1.0, 1)
    assert granted == 0
    # The wait ends a window after the answer, not after the admission.
    assert wait == pytest.approx(after[1] / 1e6 + 0.2 - now, abs=1e-5)


def test_threads_and_processes_never_overflow_one_window(
    client: redis.Redis, key: str, redis_server_url: str
) -> None:
    log = key + ":log"

    def thread_worker() -> None:
        conn = redis.Redis.from_url(redis_server_url)
        gate = RedisMovingWindowGate(conn, key, CAPACITY, WINDOW_S)
        for _ in range(CALLS_PER_WORKER):
            while True:
                granted, wait, admitted = gate.try_acquire(UNITS, 1)
                if granted:
                    break
                time.sleep(wait)
            conn.rpush(log, f"{admitted!r} {UNITS}")
            settle(gate)
        conn.close()

    args = [redis_server_url, key, str(CAPACITY), str(WINDOW_S), str(UNITS)]
    processes = [
        subprocess.Popen([sys.executable, "-c", _PROCESS_WORKER, *args, str(CALLS_PER_WORKER), log])
        for _ in range(2)
    ]
    threads = [threading.Thread(target=thread_worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for proc in processes:
        assert proc.wait(timeout=120) == 0

    admitted = _recorded(client, log)
    assert len(admitted) == 4 * CALLS_PER_WORKER
    # By their admission times on the Redis clock, no window of WINDOW_S holds more than the
    # capacity.
    for i, (start, _) in enumerate(admitted):
        inside = sum(u for stamp, u in admitted[i:] if stamp < start + WINDOW_S)
        assert inside <= CAPACITY + 1e-6, (i, inside)
    # The budget was used: 1,000 units through a 200-unit window take at least four windows.
    span = admitted[-1][0] - admitted[0][0]
    assert span >= (4 * CALLS_PER_WORKER * UNITS / CAPACITY - 1) * WINDOW_S - 0.01


def test_acquire_parts_takes_what_fits(client: redis.Redis, key: str) -> None:
    gate = RedisMovingWindowGate(client, key, 50.0, 1.0, sleep=lambda s: None)
    assert acquire_parts(gate, 5.0, 20) == 10
    settle(gate)
    assert gate.try_acquire(5.0, 1)[0] == 0
