"""Connecting and disconnecting a mailbox lands in the audit log (through the consent log)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.privacy.audit_helpers import audit_entries

from inboxcrm.bootstrap import Runtime


def test_connect_and_disconnect_are_audited(
    gmail: GmailConnector, tenants: TenantFactory, client: TestClient, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    account_id = gmail.connect(rep, "audited@example.com")["account"]["id"]
    assert client.delete(
        f"/api/v1/mail-accounts/{account_id}", headers=rep.headers
    ).status_code in (
        200,
        204,
    )
    entries = [e for e in audit_entries(runtime, "acme") if e.action.startswith("mail_account.")]
    assert [e.action for e in entries] == ["mail_account.disconnect", "mail_account.connect"]
    assert all(e.target == f"mail_account:{account_id}" for e in entries)
    assert entries[1].details["provider"] == "gmail"
    assert "audited@example.com" not in str(entries)
