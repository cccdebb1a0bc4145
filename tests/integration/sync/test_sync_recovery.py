"""A sync recovers by itself and its status tells the truth (issue 7, defects 3, 4 and 5).

- a run whose database writes are refused fails cleanly: error recorded, lease released, no
  message given up; the next poll completes it with the clean stored set;
- a sync asked for while the mailbox is busy is not dropped: the run holding the mailbox runs
  it next, and the first-sync notification counts the stored mail;
- the status comes from facts: a run whose worker died shows as stalled with an error, a poll
  queues its recovery, and totals come from the stored rows, not from the last run's counters.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from inboxcrm.adapters.db.tenant_tables import MailAccountRow, MailSyncLeaseRow, NotificationRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sync import backfill_addresses, queue_polls, sync_account
from inboxcrm.services.tenants import create_tenant
from inboxcrm.sync.lease import MailboxLease
from inboxcrm.sync.status import STALLED_ERROR
from tests.factories import make_contact, make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import (
    add_customer_contacts,
    customer_mail,
    emulator_mailbox,
    stored_mail,
)
from tests.integration.ui.ui_session import sign_in

OWNER = "rep@acme-sales.example"
SYNC_TASK = "inboxcrm.mail.sync_account"


def _mailbox(emulator: EmulatorHandle, count: int = 150) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, count, seed=5, customer_fraction=0.3)


def _account(runtime: Runtime, tenant: str, emulator: EmulatorHandle) -> int:
    create_tenant(runtime, tenant)
    add_customer_contacts(runtime, tenant, emulator, OWNER)
    with runtime.tenant_uow(tenant) as uow:
        return make_mail_account(uow, email=OWNER, status="connected").id


def _lease_row(runtime: Runtime, tenant: str, account_id: int) -> MailSyncLeaseRow:
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailSyncLeaseRow, account_id)
    assert row is not None
    return row


def _account_row(runtime: Runtime, tenant: str, account_id: int) -> MailAccountRow:
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
    assert row is not None
    return row


@contextmanager
def refused_writes(
    runtime: Runtime,
    tenant: str,
    *,
    after: str,
    count: int,
    active: Callable[[], bool] | None = None,
) -> Iterator[Any]:
    """The tenant database refuses ``count`` writes, starting with the first ``after`` statement
    (or, with ``active``, every write while ``active()`` is true).

    The refusal is raised where the driver would raise it (as SQLAlchemy's OperationalError of
    a read-only database), so every layer above sees what a real refusal looks like.
    """
    engine = runtime.tenants.engine(tenant)
    state = {"armed": False, "left": count, "refused": 0}

    def refuse(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any
    ) -> None:
        head = statement.lstrip().upper()
        if not head.startswith(("INSERT", "UPDATE", "DELETE")):
            return
        if active is not None:
            if active():
                state["refused"] += 1
                raise OperationalError(statement, None, Exception("database is read-only"))
            return
        if not state["armed"] and head.startswith(after.upper()):
            state["armed"] = True
        if state["armed"] and state["left"] > 0:
            state["left"] -= 1
            state["refused"] += 1
            raise OperationalError(statement, None, Exception("database is read-only"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        yield state
    finally:
        event.remove(engine, "before_cursor_execute", refuse)


def _clean_run(runtime: Runtime, emulator: EmulatorHandle) -> Any:
    account_id = _account(runtime, "clean", emulator)
    report = sync_account(
        runtime, "clean", account_id, full=True, mailbox=emulator_mailbox(emulator, OWNER)
    )
    assert report.status == "ok", report
    return stored_mail(runtime, "clean")


def test_a_run_whose_writes_are_refused_records_the_error_and_releases_its_lease(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    _mailbox(emulator)
    account_id = _account(runtime, "acme", emulator)
    mailbox = emulator_mailbox(emulator, OWNER)
    with refused_writes(runtime, "acme", after="INSERT INTO email_messages", count=2) as fault:
        report = sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox)
    assert fault["refused"] == 2
    assert report.status == "failed" and "database" in (report.error or ""), report

    lease = _lease_row(runtime, "acme", account_id)
    assert lease.holder == "" and lease.failures == 1  # released at once, streak recorded
    account = _account_row(runtime, "acme", account_id)
    assert account.last_error and "database refused" in account.last_error
    assert account.sync_phase == "error"

    # No message was given up as "store_error" because the database said no for a moment.
    again = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert again.status == "ok" and again.skipped_by_reason.get("store_error") is None, again
    assert _lease_row(runtime, "acme", account_id).failures == 0
    assert _account_row(runtime, "acme", account_id).last_error is None
    assert stored_mail(runtime, "acme") == _clean_run(runtime, emulator)


class _TriggerOnFirstCall:
    """The real Gmail client, with one extra act at its first call: ``trigger()`` runs there, in
    the middle of the run, as a second worker's job would."""

    def __init__(self, inner: Any, trigger: Any) -> None:
        self._inner = inner
        self._trigger = trigger

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute) or self._trigger is None:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            trigger, self._trigger = self._trigger, None
            if trigger is not None:
                trigger()
            return attribute(*args, **kwargs)

        return call


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_sync_asked_for_while_a_backfill_holds_the_mailbox_runs_right_after_it(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    recorded_jobs: RecordedJobs,
) -> None:
    _mailbox(emulator)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    assert (SYNC_TASK, {"tenant": "acme", "account_id": account_id, "full": True}) in (
        recorded_jobs.queued
    )  # connecting queued the first sync; here it arrives while a back-fill runs
    customer = next(c["email"] for c in emulator.correspondents(OWNER) if c["customer"])
    answers: list[str] = []

    def first_sync_arrives() -> None:
        answers.append(sync_account(runtime, "acme", account_id, full=True).status)

    busy = _TriggerOnFirstCall(emulator_mailbox(emulator, OWNER), first_sync_arrives)
    backfill_addresses(runtime, "acme", [customer], mailboxes={account_id: busy})

    assert answers == ["already_running"]
    account = _account_row(runtime, "acme", account_id)
    assert account.last_full_sync_at is not None, "the first sync was dropped"
    assert _lease_row(runtime, "acme", account_id).holder == ""
    stored = stored_mail(runtime, "acme")
    assert stored == _clean_run(runtime, emulator)
    with runtime.tenant_uow("acme") as uow:
        notes = list(
            uow.session.scalars(
                select(NotificationRow.body).where(NotificationRow.kind == "mail_sync_completed")
            )
        )
    assert len(notes) == 1
    assert f"{len(stored)} messages in " in notes[0], notes[0]
    assert " 0 " not in notes[0]


def test_a_follow_up_left_on_a_run_that_died_is_honoured_by_the_next_run(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    _mailbox(emulator)
    account_id = _account(runtime, "acme", emulator)
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "acme", account_id, mailbox=mailbox).mode == "full"
    # A new contact whose mail is older than the cursor: only a full sync finds it.
    with runtime.tenant_uow("acme") as uow:
        make_contact(uow, emails=["late.contact@partner.example"])
    old = emulator.deliver(
        OWNER,
        customer_mail("late.contact@partner.example", OWNER, "Older mail"),
        internal_date_ms=1_700_000_000_000,
    )["id"]

    holder = MailboxLease(lambda: runtime.tenant_uow("acme"), account_id, holder="other:1:x")
    assert holder.acquire()  # another worker's run holds the mailbox
    busy = sync_account(runtime, "acme", account_id, full=True, mailbox=mailbox)
    assert busy.status == "already_running"
    assert _lease_row(runtime, "acme", account_id).follow_up == "full"
    # That worker dies: its lease runs out without being renewed.
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailSyncLeaseRow, account_id)
        assert row is not None
        row.expires_at = utcnow()
        uow.commit()

    poll = sync_account(runtime, "acme", account_id, mailbox=mailbox)  # a plain poll
    assert poll.status == "ok" and poll.mode == "full", poll
    assert old in stored_mail(runtime, "acme")
    assert _lease_row(runtime, "acme", account_id).follow_up is None


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(30)
    return process.pid


def test_status_comes_from_the_lease_the_last_run_and_the_stored_rows(
    runtime: Runtime,
    emulator: EmulatorHandle,
    client: TestClient,
    tenants: TenantFactory,
    recorded_jobs: RecordedJobs,
) -> None:
    _mailbox(emulator)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    with runtime.tenant_uow("acme") as uow:
        account_id = make_mail_account(
            uow, email=OWNER, status="connected", user_id=_user_id(client, rep)
        ).id
    mailbox = emulator_mailbox(emulator, OWNER)
    full = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert full.status == "ok" and full.stored > 20
    nothing_new = sync_account(runtime, "acme", account_id, mailbox=mailbox)
    assert nothing_new.mode == "incremental" and nothing_new.stored == 0

    shown = client.get(f"/api/v1/mail-accounts/{account_id}", headers=rep.headers).json()
    assert shown["messages_stored"] == full.stored  # the account's total, not the last run's
    assert shown["sync_state"] == "synced" and shown["sync_phase"] == "done"
    assert shown["sync_status"]["totals"]["stored"] == full.stored
    # Setup → Email says the same (issue 15 item 3): the last run's counts and the totals.
    sign_in(client, rep)
    fragment = client.get("/setup/email/accounts").text
    row = fragment[fragment.index(f'id="account-{account_id}"') :]
    assert "Last run: 0 scanned · 0 stored · 0 skipped" in row
    conversations = shown["sync_status"]["totals"]["conversations"]
    assert conversations > 0
    assert (
        f'In total: <span class="total-stored">{full.stored}</span> stored in '
        f"{conversations} conversations" in row
    )

    # A worker is killed in the middle of a run: progress says "fetching", the lease names a
    # process of this host that no longer exists.
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        lease = uow.session.get(MailSyncLeaseRow, account_id)
        assert row is not None and lease is not None
        row.sync_phase = "fetching"
        row.sync_progress = {**row.sync_progress, "mode": "full", "phase": "fetching"}
        lease.holder = f"{socket.gethostname()[:40]}:{_dead_pid()}:deadbeef0000"
        lease.expires_at = utcnow().replace(year=utcnow().year + 1)
        uow.commit()
    stalled = client.get(f"/api/v1/mail-accounts/{account_id}", headers=rep.headers).json()
    assert stalled["sync_state"] == "stalled" and stalled["sync_phase"] == "stalled", stalled
    assert stalled["last_error"] == STALLED_ERROR
    assert stalled["messages_stored"] == full.stored

    recorded_jobs.queued.clear()
    assert queue_polls(runtime) == 1  # recovery is queued at the next poll, not in 10 minutes
    assert recorded_jobs.queued == [
        (SYNC_TASK, {"tenant": "acme", "account_id": account_id, "full": False})
    ]


def _user_id(client: TestClient, member: Any) -> int:
    return int(client.get("/api/v1/me", headers=member.headers).json()["user_id"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_run_killed_mid_sync_shows_as_stalled_at_once(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    """The pid check in the status: no waiting for the lease to run out on this host."""
    create_tenant(runtime, "acme")
    with runtime.tenant_uow("acme") as uow:
        account_id = make_mail_account(uow, email=OWNER, status="connected").id
    env = {**os.environ}
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    try:
        holder = MailboxLease(
            lambda: runtime.tenant_uow("acme"),
            account_id,
            holder=f"{socket.gethostname()[:40]}:{child.pid}:abc",
        )
        assert holder.acquire()
        with runtime.tenant_uow("acme") as uow:
            row = uow.session.get(MailAccountRow, account_id)
            assert row is not None
            row.sync_phase = "fetching"
            uow.commit()
        from inboxcrm.sync.status import sync_statuses

        with runtime.tenant_uow("acme") as uow:
            rows = [uow.session.get(MailAccountRow, account_id)]
            assert sync_statuses(uow.session, rows)[account_id].state == "running"  # type: ignore[arg-type]
        child.kill()
        child.wait(30)
        with runtime.tenant_uow("acme") as uow:
            rows = [uow.session.get(MailAccountRow, account_id)]
            assert sync_statuses(uow.session, rows)[account_id].state == "stalled"  # type: ignore[arg-type]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
