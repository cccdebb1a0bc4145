"""The in-memory token bucket (on a fake clock) and error classification / retries."""

from __future__ import annotations

import json
import threading

import httplib2
import pytest
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from inboxcrm.domain.errors import ProviderAuthError, ProviderTransientError
from inboxcrm.sync.backoff import backoff_delay, classify, retry_call
from inboxcrm.sync.quota import GMAIL_UNITS, LocalTokenBucket, QuotaGate, UnlimitedGate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_cost_table() -> None:
    assert GMAIL_UNITS["messages.get"] == 5
    assert GMAIL_UNITS["messages.send"] == 100
    assert GMAIL_UNITS["history.list"] == 2
    assert GMAIL_UNITS["messages.batchModify"] == 50


def test_gates_satisfy_the_protocol() -> None:
    assert isinstance(LocalTokenBucket(1, 1), QuotaGate)
    assert isinstance(UnlimitedGate(), QuotaGate)


def test_burst_is_free_then_rate_applies() -> None:
    clock = FakeClock()
    bucket = LocalTokenBucket(rate=250, burst=250, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        bucket.acquire(5)  # 250 units of burst
    assert clock.now == 1000.0
    bucket.acquire(5)
    assert clock.now == pytest.approx(1000.0 + 5 / 250)
    assert bucket.reserve(250) == pytest.approx(1.0)


def test_refill_is_capped_at_burst() -> None:
    clock = FakeClock()
    bucket = LocalTokenBucket(rate=10, burst=20, clock=clock, sleep=clock.sleep)
    bucket.acquire(20)
    clock.now += 1000
    assert bucket.available == 20
    bucket.acquire(20)
    bucket.acquire(10)
    assert clock.now == pytest.approx(2001.0)


def test_calls_larger_than_burst_still_pass() -> None:
    clock = FakeClock()
    bucket = LocalTokenBucket(rate=50, burst=10, clock=clock, sleep=clock.sleep)
    bucket.acquire(100)  # messages.send
    assert clock.now == pytest.approx(1000.0 + 90 / 50)


def test_admitted_units_never_exceed_rate_plus_burst_across_threads() -> None:
    clock = FakeClock()
    bucket = LocalTokenBucket(rate=100, burst=30, clock=clock)
    admissions: list[tuple[float, float]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            wait = bucket.reserve(5)
            with lock:
                admissions.append((clock.now + wait, 5))

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admissions.sort()
    times = [t for t, _ in admissions]
    for i in range(len(admissions)):
        total = 0.0
        for j in range(i, len(admissions)):
            total += admissions[j][1]
            assert total <= 30 + 100 * (times[j] - times[i]) + 1e-6


def test_invalid_bucket_parameters() -> None:
    with pytest.raises(ValueError):
        LocalTokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        LocalTokenBucket(rate=1, burst=1).reserve(-1)


def http_error(
    status: int, reason: str | None = None, headers: dict[str, str] | None = None
) -> HttpError:
    resp = httplib2.Response({"status": str(status), **(headers or {})})
    body: dict[str, object] = {"error": {"code": status, "message": "x"}}
    if reason:
        body["error"]["errors"] = [{"reason": reason, "domain": "usageLimits"}]  # type: ignore[index]
    return HttpError(resp, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (http_error(429, "rateLimitExceeded"), "transient"),
        (http_error(403, "userRateLimitExceeded"), "transient"),
        (http_error(403, "rateLimitExceeded"), "transient"),
        (http_error(403, "insufficientPermissions"), "permission"),
        (http_error(403, "forbidden"), "client"),
        (http_error(500), "transient"),
        (http_error(503), "transient"),
        (http_error(401, "authError"), "auth"),
        (http_error(400, "invalidArgument"), "client"),
        (http_error(404), "client"),
        (TimeoutError(), "transient"),
        (TimeoutError(), "transient"),
        (ConnectionResetError(), "transient"),
        (ConnectionRefusedError(), "transient"),
        (httplib2.ServerNotFoundError("x"), "transient"),
        (RefreshError("invalid_grant: Token has been expired or revoked."), "auth"),  # type: ignore[no-untyped-call]
        (TransportError("x"), "transient"),  # type: ignore[no-untyped-call]
        (ValueError("bug"), "client"),
        (ProviderAuthError("x"), "auth"),
        (ProviderTransientError("x"), "transient"),
    ],
)
def test_classify(exc: BaseException, kind: str) -> None:
    assert classify(exc) == kind


class Flaky:
    def __init__(self, failures: list[BaseException], result: str = "ok") -> None:
        self.failures = failures
        self.calls = 0
        self.result = result

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def test_retry_call_recovers_from_transient_errors_with_jittered_backoff() -> None:
    sleeps: list[float] = []
    fn = Flaky([http_error(503), http_error(429, "rateLimitExceeded"), ConnectionResetError()])
    assert (
        retry_call(fn, attempts=5, base=1.0, cap=3.0, sleep=sleeps.append, rand=lambda: 1.0) == "ok"
    )
    assert fn.calls == 4
    assert sleeps == [1.0, 2.0, 3.0]  # base * 2**n capped, times rand()


def test_retry_call_honours_retry_after() -> None:
    sleeps: list[float] = []
    fn = Flaky([http_error(429, "rateLimitExceeded", {"retry-after": "7"})])
    retry_call(fn, attempts=3, base=0.1, cap=30.0, sleep=sleeps.append, rand=lambda: 0.5)
    assert sleeps == [7.0]


def test_retry_call_gives_up_with_transient_error() -> None:
    fn = Flaky([http_error(500)] * 3)
    with pytest.raises(ProviderTransientError):
        retry_call(fn, attempts=3, sleep=lambda s: None)
    assert fn.calls == 3


def test_retry_call_stops_at_once_on_auth_errors() -> None:
    fn = Flaky([RefreshError("invalid_grant")])  # type: ignore[no-untyped-call]
    with pytest.raises(ProviderAuthError):
        retry_call(fn, attempts=5, sleep=lambda s: None)
    assert fn.calls == 1


def test_retry_call_passes_client_errors_through() -> None:
    error = http_error(404)
    fn = Flaky([error])
    with pytest.raises(HttpError) as raised:
        retry_call(fn, attempts=5, sleep=lambda s: None)
    assert raised.value is error
    assert fn.calls == 1


def test_backoff_delay_is_full_jitter() -> None:
    assert backoff_delay(0, base=0.5, cap=10, rand=lambda: 0.0) == 0.0
    assert backoff_delay(10, base=0.5, cap=10, rand=lambda: 0.999) == pytest.approx(9.99)
