"""Purge: a disconnected account's mail is deleted once its grace period has passed."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import (
    GmailConnector,
    account_row,
    add_mail,
    mail_counts,
)

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_accounts import purge_due_accounts


def test_purge_deletes_only_due_disconnected_accounts_mail(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    rep = tenants.member("acme", "rep")
    leaving = gmail.connect(rep, "leaving@example.com")["account"]
    staying = gmail.connect(rep, "staying@example.com")["account"]
    add_mail(runtime, "acme", leaving["id"], 3)
    add_mail(runtime, "acme", staying["id"], 2)
    with runtime.tenant_uow("acme") as uow:
        uow.session.add(
            ActivityRow(
                record_kind="contact", record_id=1, kind="note", ref_id=1, occurred_at=utcnow()
            )
        )
        uow.commit()
    client.delete(f"/api/v1/mail-accounts/{leaving['id']}", headers=rep.headers)

    assert purge_due_accounts(runtime) == 0  # still within the grace period
    assert mail_counts(runtime, "acme")["email_messages"] == 5

    later = utcnow() + timedelta(days=runtime.settings.account_purge_days, minutes=1)
    assert purge_due_accounts(runtime, now=later) == 1
    assert mail_counts(runtime, "acme") == {
        "email_threads": 1,
        "email_messages": 2,
        "email_attachments": 2,
        "activities": 3,  # the other account's two emails and the note
    }
    row = account_row(runtime, "acme", leaving["id"])
    assert row.status == "disconnected" and row.purge_after is None
    assert purge_due_accounts(runtime, now=later) == 0


def test_periodic_purge_task_runs_the_purge(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    from inboxcrm.jobs import account_tasks, privacy_tasks
    from inboxcrm.jobs.registry import load_default_registry
    from inboxcrm.jobs.worker_runtime import use_worker_runtime

    registry = load_default_registry()
    assert (
        registry.tasks()[account_tasks.PURGE_TASK].func is account_tasks.purge_disconnected_accounts
    )
    # The hourly schedule runs the retention purge, which purges disconnected mailboxes and then
    # vacuums the database (the account purge alone would leave their bytes in the files).
    purge_tasks = (account_tasks.PURGE_TASK, privacy_tasks.PURGE_TASK)
    periodic = [p for p in registry.periodic().values() if p.task_name in purge_tasks]
    assert [p.task_name for p in periodic] == [privacy_tasks.PURGE_TASK]
    assert periodic[0].seconds == account_tasks.PURGE_INTERVAL_SECONDS

    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "expired@example.com")["account"]
    add_mail(runtime, "acme", account["id"], 2)
    client.delete(f"/api/v1/mail-accounts/{account['id']}", headers=rep.headers)
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(type(account_row(runtime, "acme", account["id"])), account["id"])
        assert row is not None
        row.purge_after = utcnow() - timedelta(seconds=1)
        uow.commit()

    previous = use_worker_runtime(runtime)
    try:
        privacy_tasks.purge_due_data()
    finally:
        use_worker_runtime(previous)
    assert mail_counts(runtime, "acme")["email_messages"] == 0
