"""Disconnect: revoked at Google, tokens gone at once, purge scheduled; only owner or admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request
from sqlalchemy import select
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector, account_row, plaintext_tokens

from inboxcrm.adapters.db.tenant_tables import ConsentLogRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderAuthError
from inboxcrm.providers.gmail.oauth import credentials_from_tokens
from inboxcrm.services.mail_accounts import find_mailbox_route, open_mailbox


def test_disconnect_revokes_deletes_tokens_and_schedules_purge(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "leaving@example.com")["account"]
    _access, refresh = plaintext_tokens(runtime, account_row(runtime, "acme", account["id"]))
    assert refresh

    response = client.delete(f"/api/v1/mail-accounts/{account['id']}", headers=rep.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "disconnected"
    row = account_row(runtime, "acme", account["id"])
    assert row.access_token_enc is None and row.refresh_token_enc is None
    assert row.status == "disconnected" and row.disconnected_at is not None
    assert row.purge_after is not None
    expected = row.disconnected_at + timedelta(days=runtime.settings.account_purge_days)
    assert abs((row.purge_after - expected).total_seconds()) < 1
    assert find_mailbox_route(runtime, "leaving@example.com") is None

    stale = credentials_from_tokens(runtime.settings, access_token=None, refresh_token=refresh)
    with pytest.raises(auth_exceptions.RefreshError, match="invalid_grant"):
        stale.refresh(Request())  # revoked at the emulator

    with runtime.tenant_uow("acme") as uow:
        actions = list(uow.session.scalars(select(ConsentLogRow.action).order_by(ConsentLogRow.id)))
    assert actions == ["connect", "disconnect"]
    with pytest.raises(ProviderAuthError):
        open_mailbox(runtime, "acme", account["id"])

    again = client.delete(f"/api/v1/mail-accounts/{account['id']}", headers=rep.headers)
    assert again.status_code == 200 and again.json()["status"] == "disconnected"
    resync = client.post(f"/api/v1/mail-accounts/{account['id']}/sync", headers=rep.headers)
    assert resync.status_code == 409


def test_disconnect_still_happens_when_revocation_fails(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "offline@example.com")["account"]
    runtime.settings = runtime.settings.model_copy(update={"google_api_base": "http://127.0.0.1:9"})
    response = client.delete(f"/api/v1/mail-accounts/{account['id']}", headers=rep.headers)
    assert response.status_code == 200
    row = account_row(runtime, "acme", account["id"])
    assert row.status == "disconnected" and row.refresh_token_enc is None


def test_only_owner_or_admin_may_act_other_tenants_get_404_read_only_403(
    gmail: GmailConnector, tenants: TenantFactory, client: TestClient
) -> None:
    owner = tenants.member("acme", "rep", email="owner@acme.example.com")
    colleague = tenants.member("acme", "rep", email="colleague@acme.example.com")
    viewer = tenants.member("acme", "read-only", email="viewer@acme.example.com")
    admin = tenants.member("acme", "admin", email="admin@acme.example.com")
    stranger = tenants.member("globex", "admin", email="admin@globex.example.com")
    account = gmail.connect(owner, "owned@example.com")["account"]
    path = f"/api/v1/mail-accounts/{account['id']}"

    for member in (colleague, stranger):
        assert client.get(path, headers=member.headers).status_code == 404
        assert client.post(f"{path}/sync", headers=member.headers).status_code == 404
        assert client.delete(path, headers=member.headers).status_code == 404
        assert client.get("/api/v1/mail-accounts", headers=member.headers).json()["items"] == []
    assert client.delete(path, headers=viewer.headers).status_code == 403
    assert client.post(f"{path}/sync", headers=viewer.headers).status_code == 403
    assert client.get("/api/v1/mail-accounts/999999", headers=owner.headers).status_code == 404

    admin_view = client.get("/api/v1/mail-accounts", headers=admin.headers).json()["items"]
    assert [a["email"] for a in admin_view] == ["owned@example.com"]
    assert client.get(path, headers=admin.headers).status_code == 200
    assert client.delete(path, headers=admin.headers).json()["status"] == "disconnected"


def test_sync_now_queues_the_sync_task(
    gmail: GmailConnector,
    tenants: TenantFactory,
    client: TestClient,
    recorded_jobs: RecordedJobs,
) -> None:
    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "busy@example.com")["account"]
    recorded_jobs.queued.clear()
    path = f"/api/v1/mail-accounts/{account['id']}/sync"
    response = client.post(path, headers=rep.headers)
    assert response.status_code == 202 and response.json()["full"] is False
    response = client.post(f"{path}?full=true", headers=rep.headers)
    assert response.status_code == 202
    assert recorded_jobs.queued == [
        (
            "inboxcrm.mail.sync_account",
            {"tenant": "acme", "account_id": account["id"], "full": False},
        ),
        (
            "inboxcrm.mail.sync_account",
            {"tenant": "acme", "account_id": account["id"], "full": True},
        ),
    ]


def test_expired_access_token_is_refreshed_and_stored_on_open(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "fresh@example.com")["account"]
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(type(account_row(runtime, "acme", account["id"])), account["id"])
        assert row is not None
        old_access, _ = plaintext_tokens(runtime, row)
        row.token_expiry = utcnow() - timedelta(minutes=5)
        uow.commit()
    mailbox = open_mailbox(runtime, "acme", account["id"])
    assert mailbox.get_profile().email == "fresh@example.com"
    row = account_row(runtime, "acme", account["id"])
    new_access, _ = plaintext_tokens(runtime, row)
    assert new_access and new_access != old_access
    assert row.token_expiry is not None and row.token_expiry > utcnow()
