"""The ``live`` storage policy: only ids and matching/threading headers are stored; opening a
message fetches its content from Gmail (real client, emulator); after disconnect it is gone."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sync import sync_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.privacy.residue import residue
from tests.integration.sync.conftest import customer_mail

OWNER = "owner@live-sales.example"
CAROL = "carol@live-customer.example"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_live_policy_stores_no_content_and_fetches_it_when_opened(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    client: TestClient,
) -> None:
    admin = tenants.member("acme", "admin", email=OWNER)
    rep = tenants.member("acme", "rep")
    h = admin.headers
    policy = client.patch("/api/v1/mail-settings", json={"storage_policy": "live"}, headers=h)
    assert policy.status_code == 200 and policy.json()["storage_policy"] == "live"
    created = client.post("/api/v1/contacts", headers=h, json={"emails": [CAROL]})
    contact_id = created.json()["id"]
    tag = uuid.uuid4().hex[:10]
    subject, body = f"LIVESUBJ{tag}", f"LIVEBODY{tag} the offer"
    emulator.create_user(OWNER)
    provider_id = emulator.deliver(OWNER, customer_mail(CAROL, OWNER, subject, body=body))["id"]
    account_id = gmail.connect(admin, OWNER)["account"]["id"]
    assert sync_account(runtime, "acme", account_id).status == "ok"

    with runtime.tenant_uow("acme") as uow:
        row = uow.session.scalar(select(EmailMessageRow))
        assert row is not None
        assert row.provider_message_id == provider_id
        assert row.message_id_header and row.from_address == CAROL
        assert (row.subject, row.snippet, row.body_text, row.body_html) == ("", "", None, None)
        assert uow.session.scalar(select(EmailThreadRow.subject)) == ""
        assert uow.session.scalar(select(ActivityRow.summary)) == ""
        assert uow.session.scalar(select(EmailAttachmentRow.id)) is None
        message_id = row.id
    assert residue(runtime, "acme", [subject, f"LIVEBODY{tag}"]) == {}

    timeline = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=h).json()["items"]
    assert [i["provider_message_id"] for i in timeline] == [provider_id]
    url = f"/api/v1/email-messages/{message_id}/content"
    opened = client.get(url, headers=h)
    assert opened.status_code == 200, opened.text
    content = opened.json()
    assert content["source"] == "live" and content["subject"] == subject
    assert body in (content["body_text"] or "")
    assert residue(runtime, "acme", [subject, f"LIVEBODY{tag}"]) == {}  # opened, never written
    assert client.get(url, headers=rep.headers).status_code == 200  # shared with the tenant
    assert client.get("/api/v1/email-messages/999999/content", headers=h).status_code == 404

    assert client.delete(f"/api/v1/mail-accounts/{account_id}", headers=h).status_code in (200, 204)
    gone = client.get(url, headers=h)
    assert gone.status_code == 410
    assert gone.json()["code"] == "no_longer_viewable"
