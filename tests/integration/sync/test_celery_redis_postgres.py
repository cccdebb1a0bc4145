"""The scale-out path: a sync queued as ``inboxcrm.mail.sync_account`` runs on a real Celery
worker consuming Redis, against tenant databases on PostgreSQL, with the Gmail quota bucket in
Redis, and stores exactly what an in-process run stores. Skips with the reason when PostgreSQL or
Redis is not there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import (
    add_customer_contacts,
    celery_runtime,
    celery_worker,
    customer_mail,
    emulator_mailbox,
    stored_mail,
    unique_prefix,
    wait_for,
)

OWNER = "rep@acme-sales.example"
pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def key_prefix() -> str:
    return unique_prefix()


@pytest.fixture
def settings(settings: Settings, redis_server_url: str) -> Settings:
    return settings.model_copy(
        update={
            "broker_url": redis_server_url,
            "redis_url": redis_server_url,
            "quota_units_per_second": 2000.0,
        }
    )


@pytest.fixture
def runtime(settings: Settings, key_prefix: str) -> Iterator[Runtime]:
    rt = celery_runtime(settings, key_prefix)
    try:
        yield rt
    finally:
        rt.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_sync_runs_on_celery_with_redis_and_postgresql(
    runtime: Runtime,
    settings: Settings,
    key_prefix: str,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
) -> None:
    assert settings.tenant_database_url.startswith("postgresql")
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 300, seed=8, customer_fraction=0.3)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)

    with celery_worker(settings, runtime, key_prefix):
        # Connecting queues the first (full) sync on the broker.
        account_id = gmail.connect(rep, OWNER)["account"]["id"]

        def synced() -> MailAccountRow | None:
            with runtime.tenant_uow("acme") as uow:
                row = uow.session.get(MailAccountRow, account_id)
            return row if row is not None and row.last_full_sync_at is not None else None

        wait_for(synced, what="the queued full sync")
        customer = next(c["email"] for c in emulator.correspondents(OWNER) if c["customer"])
        new = emulator.deliver(OWNER, customer_mail(customer, OWNER, "Queued by hand"))["id"]
        runtime.jobs.enqueue(
            "inboxcrm.mail.sync_account", tenant="acme", account_id=account_id, full=False
        )

        def has_new() -> bool:
            with runtime.tenant_uow("acme") as uow:
                return new in set(uow.session.scalars(select(EmailMessageRow.provider_message_id)))

        wait_for(has_new, what="the message of the queued incremental sync")
    by_worker = stored_mail(runtime, "acme")

    create_tenant(runtime, "direct")
    add_customer_contacts(runtime, "direct", emulator, OWNER)
    with runtime.tenant_uow("direct") as uow:
        direct_id = make_mail_account(uow, email=OWNER, status="connected").id
    direct = sync_account(runtime, "direct", direct_id, mailbox=emulator_mailbox(emulator, OWNER))
    assert direct.status == "ok"
    assert by_worker == stored_mail(runtime, "direct")
    assert len(by_worker) > 30
