"""Gmail push end to end: new mail delivered to the emulator reaches the record's timeline with
no poll at all (emulator push → live app's /hooks/gmail/push → broker → Celery worker → sync),
and the push hook refuses requests without a valid token for our audience."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import (
    celery_runtime,
    celery_worker,
    customer_mail,
    unique_prefix,
    wait_for,
)

OWNER = "rep@acme-sales.example"
CUSTOMER = "carol@customer.example"
AUDIENCE = "https://crm.test.example/hooks/gmail/push"


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    return settings.model_copy(
        update={
            "push_audience": AUDIENCE,
            "push_jwks_url": emulator.url + "/oauth2/v3/certs",
            "poll_interval_seconds": 86_400,
        }
    )


@pytest.fixture
def key_prefix() -> str:
    return unique_prefix()


@pytest.fixture
def runtime(settings: Settings, key_prefix: str) -> Iterator[Runtime]:
    rt = celery_runtime(settings, key_prefix)
    try:
        yield rt
    finally:
        rt.close()


def _timeline_subjects(client: TestClient, headers: dict[str, str], contact_id: int) -> list[str]:
    response = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=headers)
    assert response.status_code == 200, response.text
    return [item["subject"] for item in response.json()["items"] if item["kind"] == "email"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_new_mail_reaches_the_timeline_through_push_without_polling(
    runtime: Runtime,
    settings: Settings,
    key_prefix: str,
    emulator: EmulatorHandle,
    live_server: str,
    tenants: TenantFactory,
    client: TestClient,
    gmail: GmailConnector,
) -> None:
    emulator.set_config(
        push_endpoint=live_server + "/hooks/gmail/push",
        push_audience=AUDIENCE,
        push_min_interval_s=0.05,
    )
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=[CUSTOMER])
    emulator.create_user(OWNER)
    emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "Before connecting"))

    with celery_worker(settings, runtime, key_prefix):
        account_id = gmail.connect(rep, OWNER)["account"]["id"]

        def watched() -> MailAccountRow | None:
            with runtime.tenant_uow("acme") as uow:
                row = uow.session.get(MailAccountRow, account_id)
            done = row is not None and row.watch_expiration is not None
            return row if done and row.last_full_sync_at is not None else None

        first = wait_for(watched, what="the first full sync and the watch")
        assert _timeline_subjects(client, rep.headers, contact.id) == ["Before connecting"]

        emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "Pushed to the CRM"))
        emulator.deliver(OWNER, customer_mail("stranger@else.example", OWNER, "Not for the CRM"))
        subjects = wait_for(
            lambda: (
                (s := _timeline_subjects(client, rep.headers, contact.id))
                and "Pushed to the CRM" in s
                and s
            ),
            what="the pushed message on the timeline",
        )
    assert sorted(subjects) == ["Before connecting", "Pushed to the CRM"]
    deliveries = emulator.pushes(OWNER)
    assert deliveries and all(d["status"] == 204 for d in deliveries)
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None
        # Only push triggered the second sync: the cursor moved past the first full sync's.
        assert row.history_id is not None and first.history_id is not None
        assert row.history_id > first.history_id
        assert row.sync_progress["mode"] == "incremental"
