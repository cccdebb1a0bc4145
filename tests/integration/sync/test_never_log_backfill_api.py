"""Never-log list, back-fill and the mail sync API, through HTTP on a connected mailbox.

- Adding a never-log entry removes the synced mail it now excludes (a message that still has
  another CRM counterpart stays, without the blocked link); new mail of that address is skipped.
- Removing the entry queues a back-fill that brings the mail back, links included.
- A record gaining an address (PATCH) queues a back-fill that fetches and links mail already in
  the mailbox.
- Ledger and mail-settings endpoints: counts and reasons; read-only users get 403 on changes,
  another tenant's users 404, bad input 422.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.services import mail_sync
from inboxcrm.services.mail_sync import sync_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import Member, TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sync.conftest import customer_mail, stored_mail

OWNER = "admin@acme-sales.example"
CAROL = "carol@customer.example"
DAVE = "dave@partner.example"
ERIN = "erin@prospect.example"
SETTINGS = "/api/v1/mail-settings"
NEVER_LOG = "/api/v1/mail-settings/never-log"


def _contact(client: TestClient, member: Member, email: str) -> int:
    response = client.post(
        "/api/v1/contacts", headers=member.headers, json={"first_name": "X", "emails": [email]}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _subjects(client: TestClient, member: Member, contact_id: int) -> set[str]:
    response = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=member.headers)
    assert response.status_code == 200, response.text
    return {i["subject"] for i in response.json()["items"] if i["kind"] == "email"}


def _run_backfills(runtime: Runtime, jobs: RecordedJobs) -> list[Any]:
    reports = []
    for name, kwargs in list(jobs.queued):
        if name == "inboxcrm.mail.backfill_addresses":
            reports += mail_sync.backfill_addresses(runtime, kwargs["tenant"], kwargs["addresses"])
    jobs.queued.clear()
    return reports


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_never_log_removes_and_back_fills_and_new_addresses_back_fill(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    client: TestClient,
    recorded_jobs: RecordedJobs,
) -> None:
    admin = tenants.member("acme", "admin", email=OWNER)
    carol = _contact(client, admin, CAROL)
    dave = _contact(client, admin, DAVE)
    emulator.create_user(OWNER)
    only_carol = emulator.deliver(OWNER, customer_mail(CAROL, OWNER, "Carol alone"))["id"]
    both = emulator.deliver(OWNER, customer_mail(CAROL, OWNER, "Carol and Dave", cc=DAVE))["id"]
    only_dave = emulator.deliver(OWNER, customer_mail(DAVE, OWNER, "Dave alone"))["id"]
    erin_mail = emulator.deliver(OWNER, customer_mail(ERIN, OWNER, "Erin, not a contact"))["id"]
    account_id = gmail.connect(admin, OWNER)["account"]["id"]
    recorded_jobs.queued.clear()
    assert sync_account(runtime, "acme", account_id).status == "ok"
    assert set(stored_mail(runtime, "acme")) == {only_carol, both, only_dave}

    added = client.post(
        "/api/v1/mail-settings/never-log",
        headers=admin.headers,
        json={"entry": " Carol@Customer.example "},
    )
    assert added.status_code == 201, added.text
    assert added.json() == {"entry": CAROL, "removed_messages": 1}
    assert set(stored_mail(runtime, "acme")) == {both, only_dave}
    assert _subjects(client, admin, carol) == set()
    assert _subjects(client, admin, dave) == {"Carol and Dave", "Dave alone"}
    listed = client.get("/api/v1/mail-settings/never-log", headers=admin.headers).json()
    assert listed == {"items": [CAROL]}

    later = emulator.deliver(OWNER, customer_mail(CAROL, OWNER, "Carol again"))["id"]
    assert sync_account(runtime, "acme", account_id).mode == "incremental"
    assert later not in stored_mail(runtime, "acme")
    ledger = client.get(
        f"/api/v1/mail-accounts/{account_id}/ledger?outcome=skipped", headers=admin.headers
    ).json()
    reasons = {e["provider_message_id"]: e["reason"] for e in ledger["items"]}
    assert reasons[later] == "never_log" and reasons[only_carol] == "never_log"

    removed = client.delete(f"/api/v1/mail-settings/never-log/{CAROL}", headers=admin.headers)
    assert removed.status_code == 204
    assert recorded_jobs.names() == ["inboxcrm.mail.backfill_addresses"]
    assert [r.status for r in _run_backfills(runtime, recorded_jobs)] == ["ok"]
    assert set(stored_mail(runtime, "acme")) == {only_carol, both, only_dave, later}
    assert _subjects(client, admin, carol) == {"Carol alone", "Carol and Dave", "Carol again"}

    # A record gains an address: mail already in the mailbox with it is fetched and linked.
    patched = client.patch(
        f"/api/v1/contacts/{dave}", headers=admin.headers, json={"emails": [DAVE, ERIN]}
    )
    assert patched.status_code == 200, patched.text
    assert recorded_jobs.queued == [
        ("inboxcrm.mail.backfill_addresses", {"tenant": "acme", "addresses": [ERIN]})
    ]
    _run_backfills(runtime, recorded_jobs)
    assert erin_mail in stored_mail(runtime, "acme")
    assert _subjects(client, admin, dave) == {"Carol and Dave", "Dave alone", "Erin, not a contact"}
    summary = client.get(f"/api/v1/mail-accounts/{account_id}/ledger", headers=admin.headers).json()
    assert summary["stored"] == 5 and summary["pending"] == 0
    assert summary["in_scope"] == summary["stored"] + summary["skipped"]
    # Nothing is stored twice whatever ran.
    assert len(stored_mail(runtime, "acme")) == 5


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_mail_settings_api_roles_tenants_and_bad_input(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    client: TestClient,
) -> None:
    admin = tenants.member("acme", "admin", email=OWNER)
    reader = tenants.member("acme", "read-only")
    outsider = tenants.member("other", "owner")
    account_id = gmail.connect(admin, OWNER)["account"]["id"]
    assert sync_account(runtime, "acme", account_id).status == "ok"

    got = client.get("/api/v1/mail-settings", headers=reader.headers)
    assert got.status_code == 200
    assert _mail_policy(got.json()) == {"storage_policy": "full", "contact_autocreate": "off"}
    changed = client.patch(
        "/api/v1/mail-settings",
        headers=admin.headers,
        json={"storage_policy": "snippet", "contact_autocreate": "sent"},
    )
    assert changed.status_code == 200
    assert _mail_policy(changed.json()) == {
        "storage_policy": "snippet",
        "contact_autocreate": "sent",
    }
    assert client.get("/api/v1/mail-settings", headers=admin.headers).json()["storage_policy"] == (
        "snippet"
    )
    # The other tenant's settings are its own.
    assert _mail_policy(client.get("/api/v1/mail-settings", headers=outsider.headers).json()) == {
        "storage_policy": "full",
        "contact_autocreate": "off",
    }

    forbidden = [
        client.patch(
            "/api/v1/mail-settings", headers=reader.headers, json={"storage_policy": "full"}
        ),
        client.post(
            "/api/v1/mail-settings/never-log", headers=reader.headers, json={"entry": "x.com"}
        ),
        client.delete("/api/v1/mail-settings/never-log/x.com", headers=reader.headers),
        client.get(f"/api/v1/mail-accounts/{account_id}/ledger", headers=reader.headers),
        client.patch(
            f"/api/v1/mail-accounts/{account_id}/sync-options",
            headers=reader.headers,
            json={"lookback_days": 30},
        ),
    ]
    for response in forbidden:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")

    for response in (
        client.get(f"/api/v1/mail-accounts/{account_id}/ledger", headers=outsider.headers),
        client.patch(
            f"/api/v1/mail-accounts/{account_id}/sync-options",
            headers=outsider.headers,
            json={"lookback_days": 30},
        ),
        client.delete("/api/v1/mail-settings/never-log/nothing.example", headers=outsider.headers),
    ):
        assert response.status_code == 404, response.text

    bad = [
        client.patch(
            "/api/v1/mail-settings", headers=admin.headers, json={"storage_policy": "all"}
        ),
        client.patch("/api/v1/mail-settings", headers=admin.headers, json={"colour": "red"}),
        client.post("/api/v1/mail-settings/never-log", headers=admin.headers, json={"entry": "no"}),
        client.post(
            "/api/v1/mail-settings/never-log", headers=admin.headers, json={"entry": "a b@@c"}
        ),
        client.get(f"/api/v1/mail-accounts/{account_id}/ledger?cursor=abc", headers=admin.headers),
        client.get(f"/api/v1/mail-accounts/{account_id}/ledger?limit=0", headers=admin.headers),
        client.get(
            f"/api/v1/mail-accounts/{account_id}/ledger?outcome=lost", headers=admin.headers
        ),
        client.patch(
            f"/api/v1/mail-accounts/{account_id}/sync-options",
            headers=admin.headers,
            json={"lookback_days": 0},
        ),
        client.patch(
            f"/api/v1/mail-accounts/{account_id}/sync-options",
            headers=admin.headers,
            json={"labels": []},
        ),
    ]
    for response in bad:
        assert response.status_code == 422, response.text

    options = client.patch(
        f"/api/v1/mail-accounts/{account_id}/sync-options",
        headers=admin.headers,
        json={"labels": ["INBOX"], "lookback_days": 30},
    )
    assert options.status_code == 200
    assert options.json() == {"labels": ["INBOX"], "lookback_days": 30}
    ledger = client.get(f"/api/v1/mail-accounts/{account_id}/ledger", headers=admin.headers)
    assert ledger.status_code == 200 and ledger.json()["account_id"] == account_id


def _mail_policy(settings: dict[str, object]) -> dict[str, object]:
    """The two settings this test is about (the same document carries the feature switches)."""
    return {k: settings[k] for k in ("storage_policy", "contact_autocreate")}
