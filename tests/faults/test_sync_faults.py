"""Faults around the sync itself, on a generated 5,000-message mailbox, each compared with a clean
run of the same mailbox: failed calls, history expiry mid-stream, a token revoked and restored
mid-sync, overlapping triggers, push notifications replayed out of order and duplicated, and a
database that refuses writes for a few seconds.

The runs are started the way production starts them (the poll or a push queues
``sync_account``; here the test calls it where the worker would), and nobody repairs anything:
each scenario only repeats what the periodic poll would do until the account converges.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sync import SyncReport, backfill_addresses, handle_push, sync_account
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_mail_account
from tests.faults.harness import (
    OWNER,
    clean_stored_set,
    compare,
    converged,
    generate_mailbox,
)
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import add_customer_contacts, customer_mail, emulator_mailbox
from tests.integration.sync.test_sync_recovery import refused_writes

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

SYNC_TASK = "inboxcrm.mail.sync_account"
POLLS = 60
"""Poll rounds a scenario may need before it must have converged."""


def _account(runtime: Runtime, emulator: EmulatorHandle) -> int:
    create_tenant(runtime, "acme")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    with runtime.tenant_uow("acme") as uow:
        return make_mail_account(uow, email=OWNER, status="connected").id


def _poll_until_ok(run: Callable[[], SyncReport]) -> list[str]:
    """What the periodic poll does: run again until a run completes (bounded)."""
    statuses: list[str] = []
    for _ in range(POLLS):
        report = run()
        statuses.append(report.status)
        if report.status == "ok":
            return statuses
    raise AssertionError(f"no run completed in {POLLS} polls: {statuses}")


def _new_customer_mail(emulator: EmulatorHandle, count: int, seed: int) -> list[str]:
    customers = [c["email"] for c in emulator.correspondents(OWNER) if c["customer"]]
    rng = random.Random(seed)
    return [
        emulator.deliver(OWNER, customer_mail(rng.choice(customers), OWNER, f"New {n}"))["id"]
        for n in range(count)
    ]


class _OnCall:
    """The real Gmail client; ``act()`` runs once, before its ``nth`` call of ``method``."""

    def __init__(self, inner: Any, method: str, nth: int, act: Callable[[], None]) -> None:
        self._inner, self._method, self._left, self._act = inner, method, nth, act

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name != self._method:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self._left -= 1
            if self._left == 0:
                self._act()
            return attribute(*args, **kwargs)

        return call


def test_ten_percent_failed_calls_in_full_and_incremental_syncs(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    generate_mailbox(emulator)
    account_id = _account(runtime, emulator)
    # About one call in ten fails: 429/500/503 answers, dropped connections, and timeouts (a
    # slow answer beyond the client's one-second timeout).
    emulator.set_config(
        fault_rate=0.07, drop_rate=0.02, slow_rate=0.01, slow_ms=1500.0, fault_seed=17
    )
    mailbox = emulator_mailbox(emulator, OWNER, attempts=4, timeout=1.0)
    started = time.monotonic()
    full_runs = _poll_until_ok(lambda: sync_account(runtime, "acme", account_id, mailbox=mailbox))
    new = _new_customer_mail(emulator, 30, seed=3)
    incremental_runs = _poll_until_ok(
        lambda: sync_account(runtime, "acme", account_id, mailbox=mailbox)
    )
    seconds = time.monotonic() - started
    stats = emulator.stats(OWNER)
    injected = sum(stats.get("faults", {}).values())
    assert injected > 0.05 * stats["total_calls"] and injected > 20, stats
    clean = clean_stored_set(runtime, emulator)
    assert set(new) <= set(clean)
    compare(
        "10% failed calls (429/500/503, dropped connections, timeouts), full + incremental",
        injected,
        clean,
        runtime,
        "acme",
        seconds,
        detail=f"{len(full_runs)} full and {len(incremental_runs)} incremental attempts; "
        "converged while the faults went on",
    )


def test_history_expiring_in_the_middle_of_an_incremental_sync(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    generate_mailbox(emulator)
    account_id = _account(runtime, emulator)
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).status == "ok"
    _new_customer_mail(emulator, 40, seed=4)
    # Google drops the history while the incremental sync pages through it.
    expiring = _OnCall(mailbox, "list_history", 1, lambda: emulator.expire_history(OWNER))
    started = time.monotonic()
    report = sync_account(runtime, "acme", account_id, mailbox=expiring)
    seconds = time.monotonic() - started
    assert report.status == "ok" and report.resynced, report
    again = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert again.mode == "incremental" and again.status == "ok", again
    compare(
        "history expired mid-stream (incremental turns into a full resync)",
        1,
        clean_stored_set(runtime, emulator),
        runtime,
        "acme",
        seconds,
    )


def test_a_token_revoked_and_restored_in_the_middle_of_a_full_sync(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    recorded_jobs: RecordedJobs,
) -> None:
    generate_mailbox(emulator)
    clean = clean_stored_set(runtime, emulator)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    # The user revokes the grant at Google after the tenth batch of the first sync.
    revoking = _OnCall(
        emulator_mailbox(emulator, OWNER), "fetch_messages", 10,
        lambda: emulator.revoke_tokens(OWNER),
    )  # fmt: skip
    revoked = sync_account(runtime, "acme", account_id, full=True, mailbox=revoking)
    assert revoked.status == "revoked", revoked
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None and row.status == "disconnected"
    # The user connects again (the restore): connecting queues the sync, which the poll runs.
    recorded_jobs.queued.clear()
    again = gmail.connect(rep, OWNER)["account"]["id"]
    assert again == account_id
    restored = time.monotonic()
    queued = [kw for name, kw in recorded_jobs.queued if name == SYNC_TASK]
    assert queued, recorded_jobs.queued
    _poll_until_ok(lambda: sync_account(runtime, "acme", account_id, full=bool(queued[0]["full"])))
    assert converged(runtime, "acme", account_id, len(clean))
    compare(
        "token revoked mid-sync, then restored by connecting again",
        1,
        clean,
        runtime,
        "acme",
        time.monotonic() - restored,
    )


def test_overlapping_triggers_run_one_at_a_time_and_none_is_dropped(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    generate_mailbox(emulator)
    account_id = _account(runtime, emulator)
    emulator.set_config(latency_ms=15.0)
    customer = next(c["email"] for c in emulator.correspondents(OWNER) if c["customer"])
    reports: list[SyncReport] = []
    errors: list[BaseException] = []

    def trigger(kind: str) -> None:
        try:
            mailbox = emulator_mailbox(emulator, OWNER)
            if kind == "backfill":
                backfill_addresses(runtime, "acme", [customer], mailboxes={account_id: mailbox})
            else:
                reports.append(
                    sync_account(runtime, "acme", account_id, full=kind == "full", mailbox=mailbox)
                )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    started = time.monotonic()
    threads = [
        threading.Thread(target=trigger, args=(kind,), name=f"trigger-{n}")
        for n, kind in enumerate(["full", "incremental", "backfill", "full", "incremental"])
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    seconds = time.monotonic() - started
    emulator.set_config(latency_ms=0.0)
    statuses = sorted(r.status for r in reports)
    assert "ok" in statuses and set(statuses) <= {"ok", "already_running"}, statuses
    assert converged(runtime, "acme", account_id, 1)
    compare(
        "two (and more) overlapping triggers: full, incremental and a back-fill at once",
        len(threads),
        clean_stored_set(runtime, emulator),
        runtime,
        "acme",
        seconds,
        detail=f"answers {statuses}; the busy ones were honoured as follow-ups",
    )


def test_push_notifications_replayed_out_of_order_and_duplicated(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    recorded_jobs: RecordedJobs,
) -> None:
    generate_mailbox(emulator)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox).status == "ok"
    history_ids: list[int] = []
    customers = [c["email"] for c in emulator.correspondents(OWNER) if c["customer"]]
    for n in range(25):
        delivered = emulator.deliver(OWNER, customer_mail(customers[n % len(customers)], OWNER))
        history_ids.append(int(delivered["historyId"]))
    # Pub/Sub delivers at least once, late and in any order: every notification twice, shuffled.
    replay = history_ids * 2
    random.Random(9).shuffle(replay)
    recorded_jobs.queued.clear()
    started = time.monotonic()
    for history_id in replay:
        handle_push(runtime, OWNER, history_id)
        # The worker runs what was queued so far, also in a scrambled order.
        queued = [kw for name, kw in recorded_jobs.queued if name == SYNC_TASK]
        recorded_jobs.queued.clear()
        random.Random(history_id).shuffle(queued)
        for job in queued:
            sync_account(runtime, "acme", account_id, full=bool(job["full"]), mailbox=mailbox)
    seconds = time.monotonic() - started
    compare(
        "push notifications replayed out of order and duplicated",
        len(replay),
        clean_stored_set(runtime, emulator),
        runtime,
        "acme",
        seconds,
        detail=f"{len(history_ids)} notifications, each delivered twice, shuffled",
    )


def test_a_database_refusing_writes_for_a_few_seconds(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    generate_mailbox(emulator)
    account_id = _account(runtime, emulator)
    mailbox = emulator_mailbox(emulator, OWNER)
    refusal = {"until": 0.0}

    def refusing_for_three_seconds() -> None:
        refusal["until"] = time.monotonic() + 3.0

    # From the fifth fetched batch on, every write is refused for three seconds.
    starting = _OnCall(mailbox, "fetch_messages", 5, refusing_for_three_seconds)
    with refused_writes(runtime, "acme", after="", count=10**9, active=lambda: (
        time.monotonic() < refusal["until"]
    )) as fault:  # fmt: skip
        first = sync_account(runtime, "acme", account_id, full=True, mailbox=starting)
    fault_ended = max(refusal["until"], 0.0)
    assert first.status == "failed" and fault["refused"] > 0, (first, fault)
    runs = _poll_until_ok(lambda: sync_account(runtime, "acme", account_id, mailbox=mailbox))
    seconds = time.monotonic() - fault_ended
    compare(
        "database refusing every write for 3 s mid-sync",
        int(fault["refused"]),
        clean_stored_set(runtime, emulator),
        runtime,
        "acme",
        seconds,
        detail=f"the run failed cleanly ({first.error}); {len(runs)} poll run(s) to converge",
    )
