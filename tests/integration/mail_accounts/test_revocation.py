"""Revocation on Google's side: detected on the next use, account disconnected, owner told once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector, account_row

from inboxcrm.adapters.db.tenant_tables import ConsentLogRow, NotificationRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import ProviderAuthError
from inboxcrm.services.mail_accounts import find_mailbox_route, mark_account_revoked, open_mailbox
from inboxcrm.services.notifications import notify


def test_revoked_grant_disconnects_and_notifies_the_owner_exactly_once(
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
    client: TestClient,
    emulator: EmulatorHandle,
) -> None:
    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "revoked@example.com")["account"]
    assert open_mailbox(runtime, "acme", account["id"]).get_profile().email == "revoked@example.com"

    emulator.revoke_tokens("revoked@example.com")
    mailbox = open_mailbox(runtime, "acme", account["id"])
    with pytest.raises(ProviderAuthError):
        mailbox.get_profile()

    assert mark_account_revoked(runtime, "acme", account["id"], "invalid_grant") is True
    assert mark_account_revoked(runtime, "acme", account["id"], "invalid_grant") is False
    row = account_row(runtime, "acme", account["id"])
    assert row.status == "disconnected" and row.last_error is not None
    assert row.last_error.startswith("invalid_grant. Likely cause: ")
    assert row.access_token_enc is None and row.refresh_token_enc is None
    assert row.purge_after is not None
    assert find_mailbox_route(runtime, "revoked@example.com") is None
    with pytest.raises(ProviderAuthError):
        open_mailbox(runtime, "acme", account["id"])

    with runtime.tenant_uow("acme") as uow:
        notes = list(uow.session.scalars(select(NotificationRow)))
        actions = list(uow.session.scalars(select(ConsentLogRow.action).order_by(ConsentLogRow.id)))
    assert [(n.user_id, n.kind) for n in notes] == [(account["user_id"], "mail_account_revoked")]
    assert actions == ["connect", "revoked"]

    listed = client.get("/api/v1/notifications", headers=rep.headers).json()
    assert [n["kind"] for n in listed["items"]] == ["mail_account_revoked"]
    assert "revoked@example.com" in listed["items"][0]["title"]
    assert listed["items"][0]["read"] is False


def test_user_disconnect_then_late_auth_error_sends_no_notification(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    rep = tenants.member("acme", "rep")
    account = gmail.connect(rep, "gone@example.com")["account"]
    client.delete(f"/api/v1/mail-accounts/{account['id']}", headers=rep.headers)
    assert mark_account_revoked(runtime, "acme", account["id"], "invalid_grant") is False
    assert client.get("/api/v1/notifications", headers=rep.headers).json()["items"] == []


def test_notifications_are_private_paginated_newest_first_and_can_be_read(
    tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    rep = tenants.member("acme", "rep")
    other = tenants.member("acme", "manager")
    user_ids = {
        m.email: client.get("/api/v1/me", headers=m.headers).json()["user_id"] for m in (rep, other)
    }
    with runtime.tenant_uow("acme") as uow:
        for i in range(5):
            notify(uow, user_ids[rep.email], "test", f"note {i}")
        foreign = notify(uow, user_ids[other.email], "test", "not yours")
        uow.commit()

    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/v1/notifications{query}", headers=rep.headers).json()
        seen += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"note {i}" for i in reversed(range(5))]

    first = client.get("/api/v1/notifications", headers=rep.headers).json()["items"][0]
    read = client.post(f"/api/v1/notifications/{first['id']}/read", headers=rep.headers)
    assert read.status_code == 200 and read.json()["read"] is True
    unread = client.get("/api/v1/notifications?unread=true", headers=rep.headers).json()
    assert len(unread["items"]) == 4
    stolen = client.post(f"/api/v1/notifications/{foreign.id}/read", headers=rep.headers)
    assert stolen.status_code == 404
    bad = client.get("/api/v1/notifications?cursor=zzz", headers=rep.headers)
    assert bad.status_code == 422
