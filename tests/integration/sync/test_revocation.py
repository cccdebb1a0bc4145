"""Revoking the grant at Google (the emulator) → the next sync disconnects the account and
notifies its owner exactly once; later syncs do nothing and notify nobody."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import MailAccountRow, NotificationRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_accounts import find_mailbox_route
from inboxcrm.services.mail_sync import sync_account
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import customer_mail, stored_mail

OWNER = "rep@acme-sales.example"
CUSTOMER = "carol@customer.example"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_revoked_grant_disconnects_on_the_next_sync_and_notifies_once(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    client: TestClient,
) -> None:
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        make_contact(uow, emails=[CUSTOMER])
    emulator.create_user(OWNER)
    first = emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER))["id"]
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    assert sync_account(runtime, "acme", account_id).status == "ok"
    assert set(stored_mail(runtime, "acme")) == {first}

    assert emulator.revoke_tokens(OWNER) >= 1
    emulator.deliver(OWNER, customer_mail(CUSTOMER, OWNER, "after revocation"))
    report = sync_account(runtime, "acme", account_id)
    assert report.status == "revoked", report
    for _ in range(3):  # the next polls: nothing to do, nobody told again
        assert sync_account(runtime, "acme", account_id).status == "not_connected"

    with runtime.tenant_uow("acme") as uow:
        account = uow.session.get(MailAccountRow, account_id)
        notes = list(uow.session.scalars(select(NotificationRow)))
    assert account is not None and account.status == "disconnected"
    assert account.access_token_enc is None and account.refresh_token_enc is None
    revoked = [n for n in notes if n.kind == "mail_account_revoked"]
    assert len(revoked) == 1 and revoked[0].user_id == account.user_id
    assert not [n for n in notes if n.kind == "mail_sync_failed"]
    assert find_mailbox_route(runtime, OWNER) is None
    assert set(stored_mail(runtime, "acme")) == {first}  # kept until the purge is due
    listed = client.get("/api/v1/mail-accounts", headers=rep.headers).json()
    assert [a["status"] for a in listed["items"]] == ["disconnected"]
