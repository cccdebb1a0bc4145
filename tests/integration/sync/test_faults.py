"""Faults end with exactly the stored set of a clean run, without duplicates: an expired history
cursor (full resync), a storm of 429s and 5xx answers, and a sync process killed with SIGKILL in
the middle of a full sync and then started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.jobs.embedded import settings_environment
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import (
    add_customer_contacts,
    customer_mail,
    emulator_mailbox,
    stored_mail,
    wait_for,
)

OWNER = "rep@acme-sales.example"


def _mailbox_with_mail(emulator: EmulatorHandle, count: int = 400) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, count, seed=5, customer_fraction=0.3)


def _account(runtime: Runtime, tenant: str, emulator: EmulatorHandle) -> int:
    create_tenant(runtime, tenant)
    add_customer_contacts(runtime, tenant, emulator, OWNER)
    with runtime.tenant_uow(tenant) as uow:
        return make_mail_account(uow, email=OWNER, status="connected").id


def _clean_run(
    runtime: Runtime, emulator: EmulatorHandle
) -> dict[str, tuple[tuple[str, str], ...]]:
    """The stored mail of an undisturbed full sync of the same mailbox, in a tenant of its own."""
    emulator.set_config(fault_rate=0.0, quota_units_per_s=None, latency_ms=0.0)
    account_id = _account(runtime, "clean", emulator)
    report = sync_account(
        runtime, "clean", account_id, full=True, mailbox=emulator_mailbox(emulator, OWNER)
    )
    assert report.status == "ok", report
    clean = stored_mail(runtime, "clean")
    assert len(clean) > 50
    return clean


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_expired_history_turns_into_a_full_resync_with_nothing_lost(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    _mailbox_with_mail(emulator)
    account_id = _account(runtime, "acme", emulator)
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).mode == "full"
    customer = next(c["email"] for c in emulator.correspondents(OWNER) if c["customer"])
    late = emulator.deliver(OWNER, customer_mail(customer, OWNER, "After the first sync"))["id"]
    emulator.expire_history(OWNER)

    report = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert report.status == "ok" and report.mode == "full" and report.resynced, report
    stored = stored_mail(runtime, "acme")
    assert late in stored
    # Incremental from the new cursor works again afterwards.
    later = emulator.deliver(OWNER, customer_mail(customer, OWNER, "Later still"))["id"]
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).mode == "incremental"
    assert stored_mail(runtime, "acme") == {**stored, later: stored_mail(runtime, "acme")[later]}
    assert set(stored_mail(runtime, "acme")) == set(_clean_run(runtime, emulator))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_storms_of_429_and_5xx_end_with_the_clean_stored_set(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    _mailbox_with_mail(emulator)
    account_id = _account(runtime, "acme", emulator)
    # Roughly one call in ten fails (429/500/503) and the quota is below one batch per second.
    emulator.set_config(fault_rate=0.1, fault_seed=17, quota_units_per_s=300, quota_window_s=1.0)
    mailbox = emulator_mailbox(emulator, OWNER, attempts=4)
    statuses = []
    for _ in range(40):  # what the periodic poll would do: try again until it completes
        report = sync_account(runtime, "acme", account_id, mailbox=mailbox)
        statuses.append(report.status)
        if report.status == "ok":
            break
    assert statuses[-1] == "ok", statuses
    stats = emulator.stats(OWNER)
    assert sum(stats["faults"].values()) > 0 and sum(stats["rate_limited"].values()) > 0, stats
    faulty = stored_mail(runtime, "acme")
    assert faulty == _clean_run(runtime, emulator)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sync_process_killed_mid_sync_resumes_to_the_clean_stored_set(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
) -> None:
    _mailbox_with_mail(emulator, 600)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    env = {**os.environ, **settings_environment(runtime.settings)}
    command = [
        sys.executable,
        "-c",
        "from inboxcrm.cli import main; main()",
        "sync",
        "--tenant",
        "acme",
        str(account_id),
        "--full",
    ]

    def stored_count() -> int:
        with runtime.tenant_uow("acme") as uow:
            return int(uow.session.scalar(select(func.count()).select_from(EmailMessageRow)) or 0)

    emulator.set_config(latency_ms=60.0)  # slow enough to be caught in the middle
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(
            lambda: stored_count() > 0 or process.poll() is not None,
            timeout=120,
            interval=0.02,
            what="the first stored batch",
        )
        assert process.poll() is None, "the sync finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    partial = stored_count()
    with runtime.tenant_uow("acme") as uow:
        account = uow.session.get(MailAccountRow, account_id)
        assert account is not None and account.sync_progress["phase"] in ("listing", "fetching")
    emulator.set_config(latency_ms=0.0)

    started = time.monotonic()
    again = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert time.monotonic() - started < 300
    resumed = stored_mail(runtime, "acme")
    assert 0 < partial < len(resumed)
    assert resumed == _clean_run(runtime, emulator)
