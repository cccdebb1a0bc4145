"""RedisTokenBucket against the real Redis server, shared by threads and separate processes.

Admission times come from the bucket itself (the Redis server clock, returned by ``reserve``),
so the assertions do not depend on how fast this machine schedules threads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import redis

from inboxcrm.sync.quota import QuotaGate, RedisTokenBucket

pytestmark = pytest.mark.redis

RATE = 2000.0
BURST = 100.0
UNITS = 5.0
CALLS_PER_WORKER = 40

_PROCESS_WORKER = """
import json, sys, time
import redis
from inboxcrm.sync.quota import RedisTokenBucket
url, key, rate, burst, units, calls = sys.argv[1:7]
bucket = RedisTokenBucket(redis.Redis.from_url(url), key, rate=float(rate), burst=float(burst))
out = []
for _ in range(int(calls)):
    wait, admitted = bucket.reserve(float(units))
    if wait > 0:
        time.sleep(wait)
    out.append(admitted)
print(json.dumps(out))
"""


def assert_within_rate(admissions: list[tuple[float, float]], rate: float, burst: float) -> None:
    """For every window [t_i, t_j] of admissions: units admitted <= burst + rate * (t_j - t_i)."""
    admissions.sort()
    for i in range(len(admissions)):
        total = 0.0
        for j in range(i, len(admissions)):
            total += admissions[j][1]
            allowed = burst + rate * (admissions[j][0] - admissions[i][0])
            assert total <= allowed + UNITS * 0.01, (i, j, total, allowed)


def test_threads_and_processes_share_one_budget(
    client: redis.Redis, key: str, redis_server_url: str
) -> None:
    admissions: list[tuple[float, float]] = []
    lock = threading.Lock()

    def thread_worker() -> None:
        bucket = RedisTokenBucket(
            redis.Redis.from_url(redis_server_url), key, rate=RATE, burst=BURST
        )
        for _ in range(CALLS_PER_WORKER):
            wait, admitted = bucket.reserve(UNITS)
            if wait > 0:
                time.sleep(wait)
            with lock:
                admissions.append((admitted, UNITS))

    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _PROCESS_WORKER,
                redis_server_url,
                key,
                str(RATE),
                str(BURST),
                str(UNITS),
                str(CALLS_PER_WORKER),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    threads = [threading.Thread(target=thread_worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for proc in processes:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        admissions.extend((float(ts), UNITS) for ts in json.loads(out))

    assert len(admissions) == 5 * CALLS_PER_WORKER
    assert_within_rate(admissions, RATE, BURST)
    total = sum(units for _, units in admissions)
    span = max(ts for ts, _ in admissions) - min(ts for ts, _ in admissions)
    # the budget was actually used: units beyond the burst were spread over time at the rate
    assert span >= (total - BURST) / RATE - 0.01


def test_reservations_beyond_the_burst_are_spaced_at_the_rate(
    client: redis.Redis, key: str
) -> None:
    bucket = RedisTokenBucket(client, key, rate=50.0, burst=10.0, sleep=lambda s: None)
    assert isinstance(bucket, QuotaGate)
    wait1, admitted1 = bucket.reserve(10.0)
    assert wait1 == 0.0
    _, admitted2 = bucket.reserve(5.0)
    _, admitted3 = bucket.reserve(100.0)  # bigger than the burst: admitted once repaid
    # units admitted in [a1, aN] <= burst + rate * (aN - a1), whatever the machine's speed
    assert admitted2 - admitted1 >= (15 - 10) / 50 - 1e-6
    assert admitted3 - admitted1 >= (115 - 10) / 50 - 1e-6
    bucket.acquire(1.0)  # returns (sleep is a no-op here)


def test_keys_are_independent_and_expire(client: redis.Redis, key: str) -> None:
    other = key + ":other"
    try:
        a = RedisTokenBucket(client, key, rate=10.0, burst=10.0)
        b = RedisTokenBucket(client, other, rate=10.0, burst=10.0)
        assert a.reserve(10.0)[0] == 0.0
        assert b.reserve(10.0)[0] == 0.0
        ttl_ms = client.pttl(key)
        assert 0 < ttl_ms <= 2000 + 1000
    finally:
        client.delete(other)
