"""Defect 2: one Gmail mailbox connected in two tenants: a push syncs every tenant's copy.

Before the fix, the push hook followed only the newest route of an address, so tenant A's
copy was never synced by push once tenant B connected the same mailbox.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.services.mail_accounts import find_mailbox_routes
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.test_push_hook import AUDIENCE, _Jwks, body, push, token

SHARED = "shared.support@example.com"
SYNC = "inboxcrm.mail.sync_account"


@pytest.fixture
def jwks() -> Iterator[_Jwks]:
    server = _Jwks()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def settings(settings: Settings, jwks: _Jwks) -> Settings:
    return settings.model_copy(update={"push_audience": AUDIENCE, "push_jwks_url": jwks.url})


def _syncs(jobs: RecordedJobs) -> set[tuple[str, int]]:
    return {(kw["tenant"], kw["account_id"]) for name, kw in jobs.queued if name == SYNC}


def test_push_fans_out_to_every_tenant_holding_the_mailbox(
    client: TestClient,
    runtime: Runtime,
    recorded_jobs: RecordedJobs,
    tenants: TenantFactory,
    gmail: GmailConnector,
) -> None:
    first = gmail.connect(tenants.member("tenant-a", "rep"), SHARED)["account"]["id"]
    second = gmail.connect(tenants.member("tenant-b", "rep"), SHARED)["account"]["id"]
    assert set(find_mailbox_routes(runtime, SHARED)) == {("tenant-a", first), ("tenant-b", second)}
    recorded_jobs.queued.clear()

    assert push(client, "Bearer " + token(), body(SHARED, 10**9)).status_code == 204
    assert _syncs(recorded_jobs) == {("tenant-a", first), ("tenant-b", second)}


def test_one_tenant_disconnecting_leaves_the_other_tenants_push_intact(
    client: TestClient,
    runtime: Runtime,
    recorded_jobs: RecordedJobs,
    tenants: TenantFactory,
    gmail: GmailConnector,
) -> None:
    rep_a = tenants.member("tenant-a", "rep")
    rep_b = tenants.member("tenant-b", "rep")
    first = gmail.connect(rep_a, SHARED)["account"]["id"]
    second = gmail.connect(rep_b, SHARED)["account"]["id"]
    gone = client.delete(f"/api/v1/mail-accounts/{second}", headers=rep_b.headers)
    assert gone.status_code == 200 and gone.json()["status"] == "disconnected"
    assert find_mailbox_routes(runtime, SHARED) == [("tenant-a", first)]
    recorded_jobs.queued.clear()

    assert push(client, "Bearer " + token(), body(SHARED, 10**9)).status_code == 204
    assert _syncs(recorded_jobs) == {("tenant-a", first)}
    # Tenant A's grant still works (B's disconnect did not revoke the shared Google grant).
    listed = client.get(f"/api/v1/mail-accounts/{first}", headers=rep_a.headers).json()
    assert listed["status"] == "connected"
