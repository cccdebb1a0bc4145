"""Pacing to Google's moving windows: window-safe buckets, the adaptive pacer, and retries that
never give up on rate limits alone (fake clocks, no waiting)."""

from __future__ import annotations

import json

import httplib2
import pytest
from googleapiclient.errors import HttpError

from inboxcrm.domain.errors import ProviderTransientError
from inboxcrm.sync.backoff import is_concurrency_limit, is_rate_limit, retry_call
from inboxcrm.sync.quota import (
    AdaptivePacer,
    CombinedGate,
    LocalTokenBucket,
    MovingWindowGate,
    PacingFeedback,
    acquire_parts,
    gate_rate,
    settle,
    window_safe_bucket_params,
)
from tests.unit.sync.test_quota_and_backoff import FakeClock


def _error(
    status: int, reason: str, message: str = "", retry_after: str | None = None
) -> HttpError:
    headers = {"status": str(status)}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return HttpError(httplib2.Response(headers), json.dumps(body).encode())


def _max_window_sum(sends: list[tuple[float, float]], window: float) -> float:
    worst = 0.0
    for at, _ in sends:
        worst = max(worst, sum(units for t, units in sends if at - window < t <= at))
    return worst


@pytest.mark.parametrize("batch_units", [5.0, 50.0, 250.0])
def test_window_safe_bucket_never_overflows_the_moving_window(batch_units: float) -> None:
    clock = FakeClock()
    rate, burst = window_safe_bucket_params(250.0, window_s=1.0, headroom=0.97)
    bucket = LocalTokenBucket(rate, burst, clock=clock, sleep=clock.sleep)
    sends: list[tuple[float, float]] = []
    for _ in range(int(15000 / batch_units)):
        bucket.acquire(batch_units)
        sends.append((clock.now, batch_units))  # the call leaves once acquire returns
    assert _max_window_sum(sends, 1.0) <= 250.0 + 1e-9
    # ... and it keeps close to the limit: 97 % of it on average.
    span = sends[-1][0] - sends[0][0]
    assert sum(u for _, u in sends) / span == pytest.approx(rate, rel=0.02)


def test_a_bucket_with_a_full_second_of_burst_would_overflow() -> None:
    """Why the burst is small: the previous setting (burst = rate) lets 2x the limit through."""
    clock = FakeClock()
    bucket = LocalTokenBucket(250.0, 250.0, clock=clock, sleep=clock.sleep)
    sends = []
    for _ in range(20):
        bucket.acquire(50.0)
        sends.append((clock.now, 50.0))
    assert _max_window_sum(sends, 1.0) > 250.0


def test_pacer_backs_off_multiplicatively_honours_retry_after_and_recovers_slowly() -> None:
    clock = FakeClock()
    bucket = LocalTokenBucket(100.0, 1.0, clock=clock, sleep=clock.sleep)
    pacer = AdaptivePacer(
        bucket, initial=0.8, decrease=0.5, recovery_step=0.1, recovery_interval_s=1.0,
        clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    assert isinstance(pacer, PacingFeedback)
    assert gate_rate(pacer) == pytest.approx(80.0)
    pacer.rate_limited()
    pacer.rate_limited(retry_after=5.0)
    assert pacer.factor == pytest.approx(0.2)
    started = clock.now
    pacer.acquire(1.0)  # waits out Retry-After first
    assert clock.now - started >= 5.0
    # Charges units / factor below: 10 units at factor 0.2 take 50 units of the bucket.
    started = clock.now
    pacer.acquire(10.0)
    assert clock.now - started == pytest.approx(50.0 / 100.0, abs=0.02)
    # Recovery: one step per interval without refusals, never above full speed.
    pacer.succeeded()
    assert pacer.factor == pytest.approx(0.3)
    pacer.succeeded()  # too soon after the last step
    assert pacer.factor == pytest.approx(0.3)
    for _ in range(20):
        clock.sleep(1.0)
        pacer.succeeded()
    assert pacer.factor == 1.0


def test_combined_gate_charges_every_budget_and_reports_the_slowest_rate() -> None:
    clock = FakeClock()
    waits: list[float] = []
    mailbox = LocalTokenBucket(250.0, 1.0, clock=clock, sleep=waits.append)
    project = LocalTokenBucket(100.0, 1.0, clock=clock, sleep=waits.append)
    combined = CombinedGate(mailbox, project)
    combined.acquire(51.0)
    assert waits == [pytest.approx(50 / 250), pytest.approx(50 / 100)]
    assert gate_rate(combined) == 100.0


def test_rate_limits_never_use_up_attempts_and_each_slows_the_pacer() -> None:
    clock = FakeClock()
    pacer = AdaptivePacer(LocalTokenBucket(1e6, 1e6, clock=clock), clock=clock, sleep=clock.sleep)
    failures: list[Exception] = [_error(429, "rateLimitExceeded") for _ in range(12)]
    failures.append(_error(403, "userRateLimitExceeded", retry_after="3"))

    def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    sleeps: list[float] = []
    assert retry_call(call, attempts=2, sleep=sleeps.append, rand=lambda: 0.5, pacer=pacer) == "ok"
    assert pacer.refusals == 13
    assert len(sleeps) == 13 and sleeps[-1] >= 3.0


def test_rate_limit_waiting_is_bounded_in_total() -> None:
    def call() -> str:
        raise _error(429, "rateLimitExceeded", retry_after="10")

    with pytest.raises(ProviderTransientError):
        retry_call(call, attempts=2, cap=10.0, sleep=lambda s: None, rate_limit_wait_s=35.0)


def test_other_transient_errors_still_count_attempts() -> None:
    calls = []

    def call() -> str:
        calls.append(1)
        raise _error(503, "backendError")

    with pytest.raises(ProviderTransientError):
        retry_call(call, attempts=3, sleep=lambda s: None)
    assert len(calls) == 3


def test_rate_limit_and_concurrency_answers_are_told_apart() -> None:
    concurrent = _error(429, "rateLimitExceeded", "Too many concurrent requests for user.")
    per_minute = _error(429, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries'")
    assert is_rate_limit(concurrent) and is_concurrency_limit(concurrent)
    assert is_rate_limit(per_minute) and not is_concurrency_limit(per_minute)
    assert is_rate_limit(_error(403, "userRateLimitExceeded"))
    assert not is_rate_limit(_error(403, "insufficientPermissions"))
    assert not is_rate_limit(_error(500, "backendError"))


def test_a_bucket_lets_a_batch_that_does_not_divide_the_rate_overflow_the_window() -> None:
    """Why batches are paced to the window itself: a bucket charges a batch before it leaves,
    so a window holds its second of units plus the batch that opened it."""
    clock = FakeClock()
    rate, burst = window_safe_bucket_params(250.0, window_s=1.0, headroom=0.97)
    bucket = LocalTokenBucket(rate, burst, clock=clock, sleep=clock.sleep)
    sends: list[tuple[float, float]] = []
    for _ in range(200):
        bucket.acquire(45.0)  # a batch of 9 messages.get
        sends.append((clock.now, 45.0))
    assert _max_window_sum(sends, 1.0) > 250.0


@pytest.mark.parametrize(("unit", "parts"), [(5.0, 9), (10.0, 4), (5.0, 50), (10.0, 25)])
def test_moving_window_gate_fills_the_window_and_never_overflows_it(
    unit: float, parts: int
) -> None:
    clock = FakeClock()
    gate = MovingWindowGate(250.0 * 0.97, 1.0, clock=clock, sleep=clock.sleep)
    sends: list[tuple[float, float]] = []
    total_parts = 0
    while total_parts < 3000:
        granted = acquire_parts(gate, unit, parts)
        assert 1 <= granted <= parts
        sends.append((clock.now, unit * granted))
        total_parts += granted
    assert _max_window_sum(sends, 1.0) <= 250.0 * 0.97 + 1e-9
    # Full windows: the average rate is the window's capacity (nothing is lost to batch sizes).
    span = sends[-1][0] - sends[0][0]
    sent = sum(u for _, u in sends) - sends[-1][1]
    assert sent / span == pytest.approx(250.0 * 0.97, rel=0.02)


def test_moving_window_gate_behind_the_pacer_and_combined_gates_grants_shares() -> None:
    clock = FakeClock()
    window = MovingWindowGate(100.0, 1.0, clock=clock, sleep=clock.sleep)
    project = LocalTokenBucket(1e6, 1e6, clock=clock, sleep=clock.sleep)
    pacer = AdaptivePacer(CombinedGate(window, project), initial=1.0, clock=clock)
    assert acquire_parts(pacer, 10.0, 8) == 8  # 80 of 100 units
    assert acquire_parts(pacer, 10.0, 8) == 2  # only 20 left in this window
    assert project.available == pytest.approx(1e6 - 100.0)
    started = clock.now
    assert acquire_parts(pacer, 10.0, 8) == 8  # waited for the window to move on
    assert clock.now - started == pytest.approx(1.0)


def test_moving_window_gate_counts_units_until_a_window_after_the_answer() -> None:
    """A call Google charges late (a slow network, a loaded machine) still counts: its units
    leave the window one window after it was answered, not after it was sent."""
    clock = FakeClock()
    gate = MovingWindowGate(100.0, 1.0, clock=clock, sleep=clock.sleep)
    pacer = AdaptivePacer(CombinedGate(gate), initial=1.0, clock=clock)
    assert acquire_parts(pacer, 10.0, 10) == 10
    clock.sleep(0.5)  # the answer takes half a second
    settle(pacer)
    clock.sleep(0.7)  # 1.2 s after sending, 0.7 s after the answer
    started = clock.now
    assert acquire_parts(pacer, 10.0, 10) == 10
    assert clock.now - started == pytest.approx(0.3)
