"""The gates workers get for their mailboxes (services.mail_quota) on the real Redis: each
mailbox has its own moving window, and every mailbox of every worker charges one project
budget."""

from __future__ import annotations

import uuid

import pytest

from inboxcrm.config import Settings
from inboxcrm.services.mail_quota import quota_gate_for, reset_local_gates
from inboxcrm.sync.quota import (
    AdaptivePacer,
    CombinedGate,
    RedisMovingWindowGate,
    RedisTokenBucket,
)

pytestmark = pytest.mark.redis


def _buckets(gate: object) -> tuple[RedisMovingWindowGate, RedisTokenBucket]:
    assert isinstance(gate, AdaptivePacer) and isinstance(gate.gate, CombinedGate)
    own, project = gate.gate.gates
    assert isinstance(own, RedisMovingWindowGate) and isinstance(project, RedisTokenBucket)
    return own, project


def test_every_mailbox_charges_one_project_budget_in_redis(redis_server_url: str) -> None:
    settings = Settings(
        environment="test",
        redis_url=redis_server_url,
        quota_key_prefix=f"test:{uuid.uuid4().hex}",
        quota_units_per_second=1000.0,
        quota_units_per_minute=60_000.0,
        project_quota_units_per_minute=600.0,  # 10 units/s for the whole project
    )
    reset_local_gates()
    own_a, project_a = _buckets(quota_gate_for(settings, "gmail", "a@x.example"))
    own_b, project_b = _buckets(quota_gate_for(settings, "gmail", "b@x.example"))
    assert own_a.key != own_b.key
    assert project_a.key == project_b.key == f"{settings.quota_key_prefix}:project:gmail"
    assert own_a.capacity == pytest.approx(970.0)  # 97 % of the per-user limit, per second
    assert project_a.rate == pytest.approx(9.7)

    wait_a, _ = project_a.reserve(50.0)  # mailbox A spends the project's next seconds ...
    wait_b, _ = project_b.reserve(5.0)  # ... so mailbox B waits behind it
    assert wait_b > wait_a > 0
    assert wait_b == pytest.approx((55.0 - project_a.burst) / 9.7, rel=0.05)
    granted, own_wait, _ = own_b.try_acquire(5.0, 1)  # B's own window is untouched
    assert granted == 1 and own_wait == 0.0


def test_per_minute_limit_lowers_the_mailbox_pace() -> None:
    reset_local_gates()
    settings = Settings(environment="test", quota_units_per_minute=6000.0)
    gate = quota_gate_for(settings, "gmail", "slow@x.example")
    assert isinstance(gate, AdaptivePacer)
    assert gate.rate == pytest.approx(100.0 * gate.factor)  # the window gate: the full limit
