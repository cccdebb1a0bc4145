"""No access token, refresh token or client secret reaches any log record, even at DEBUG."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector, account_row, plaintext_tokens

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_accounts import open_mailbox


def test_connect_refresh_and_disconnect_log_no_secrets(
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "secretive@example.com")["account"]
    secrets = set(
        filter(None, plaintext_tokens(runtime, account_row(runtime, "acme", account["id"])))
    )

    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account["id"])
        assert row is not None
        row.token_expiry = utcnow() - timedelta(minutes=1)
        uow.commit()
    open_mailbox(runtime, "acme", account["id"]).get_profile()  # refreshes the access token
    secrets |= set(
        filter(None, plaintext_tokens(runtime, account_row(runtime, "acme", account["id"])))
    )
    assert len(secrets) == 3  # first access token, refresh token, refreshed access token

    assert (
        client.delete(f"/api/v1/mail-accounts/{account['id']}", headers=rep.headers).status_code
        == 200
    )

    client_secret = runtime.settings.google_client_secret.get_secret_value()
    basic = base64.b64encode(
        f"{runtime.settings.google_client_id}:{client_secret}".encode()
    ).decode()
    forbidden = [*secrets, client_secret, basic]
    product_records = [r for r in caplog.records if not r.name.startswith("inboxcrm.emulator")]
    assert product_records, "the flow is expected to log something"
    for record in product_records:
        text = f"{record.getMessage()} {record.exc_text or ''}"
        for secret in forbidden:
            assert secret not in text, f"a secret leaked into a log record of {record.name}"
