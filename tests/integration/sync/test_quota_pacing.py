"""Full syncs under Google's stricter limits (a per-minute quota, a per-user concurrency limit,
the one-second window) finish in one run with exactly the clean run's stored set.

How close a quota-bound sync comes to its minimum is measured by ``inboxcrm bench --only quota``
(docs/benchmarks.md), not asserted here."""

from __future__ import annotations

import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_quota import quota_gate_for, reset_local_gates
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.sync.conftest import add_customer_contacts, emulator_mailbox, stored_mail

OWNER = "rep@paced-sales.example"


def _account(runtime: Runtime, tenant: str, emulator: EmulatorHandle) -> int:
    create_tenant(runtime, tenant)
    add_customer_contacts(runtime, tenant, emulator, OWNER)
    with runtime.tenant_uow(tenant) as uow:
        return make_mail_account(uow, email=OWNER, status="connected").id


@pytest.fixture
def mailbox_owner(emulator: EmulatorHandle) -> str:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 300, seed=5, customer_fraction=0.3)
    return OWNER


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_full_sync_under_a_per_minute_and_a_concurrency_limit_needs_one_run(
    runtime: Runtime, emulator: EmulatorHandle, mailbox_owner: str
) -> None:
    clean_id = _account(runtime, "clean", emulator)
    clean = sync_account(
        runtime, "clean", clean_id, full=True, mailbox=emulator_mailbox(emulator, OWNER)
    )
    assert clean.status == "ok"

    account_id = _account(runtime, "acme", emulator)
    # A "minute" of 4 s holding 1,000 units (250 units/s on average) and at most 3 calls of
    # the user at once; the worker is configured with the same per-minute budget.
    emulator.set_config(quota_units_per_minute=1000, quota_minute_s=4.0, max_concurrent_per_user=3)
    emulator.reset_counters(OWNER)
    settings = runtime.settings.model_copy(
        update={"quota_units_per_second": 10_000.0, "quota_units_per_minute": 1000 * 60 / 4}
    )
    reset_local_gates()
    gate = quota_gate_for(settings, "gmail", OWNER)
    mailbox = emulator_mailbox(emulator, OWNER, quota=gate, attempts=2)
    report = sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox)

    assert report.status == "ok", report  # one run, no failure for rate limits
    assert stored_mail(runtime, "acme").keys() == stored_mail(runtime, "clean").keys()
    limited = emulator.stats(OWNER)["rate_limited"]
    # The limit did bite (the listing's batches meet it first, and learn from it) ...
    assert sum(limited.values()) > 0, limited
    assert mailbox._batch_limit <= 3  # ... and the batches shrank to what Google runs at once


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_quota_storm_never_fails_the_run(
    runtime: Runtime, emulator: EmulatorHandle, mailbox_owner: str
) -> None:
    """Every third call refused for quota, with two attempts allowed: rate limits alone never
    end a run; the pacer slows down on each refusal."""
    account_id = _account(runtime, "acme", emulator)
    emulator.set_config(fault_rate=0.3, fault_statuses=[429, 403], fault_seed=3)
    reset_local_gates()
    gate = quota_gate_for(runtime.settings.model_copy(update={"quota_units_per_second": 5000.0}),
                          "gmail", OWNER)  # fmt: skip
    mailbox = emulator_mailbox(emulator, OWNER, quota=gate, attempts=2)
    report = sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox)
    assert report.status == "ok", report
    assert sum(emulator.stats(OWNER)["faults"].values()) > 5
    assert getattr(gate, "refusals", 0) > 0
    emulator.set_config(fault_rate=0.0)
    assert len(stored_mail(runtime, "acme")) > 30
