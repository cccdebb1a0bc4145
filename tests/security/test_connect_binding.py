"""Defect 1: a Gmail connect flow completes only in a browser session of the user who started it.

The attack: tenant B's API token starts the flow, B forwards the consent link to A, A approves
at Google and A's browser lands on the callback. Before the fix that connected A's mailbox
into tenant B (the callback needed no session at all for token-started flows).
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.control_tables import OAuthStateRow
from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector

VICTIM_MAILBOX = "victim.mailbox@example.com"


def _accounts(runtime: Runtime, tenant: str) -> list[str]:
    with runtime.tenant_uow(tenant) as uow:
        return list(uow.session.scalars(select(MailAccountRow.email)))


def _state_used(runtime: Runtime) -> bool:
    with runtime.control_uow() as uow:
        row = uow.session.scalar(select(OAuthStateRow).order_by(OAuthStateRow.id.desc()))
    assert row is not None
    return row.used_at is not None


def test_token_started_flow_without_a_browser_session_connects_nothing(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    attacker = tenants.member("tenant-b", "rep")
    consent = gmail.consent(gmail.authorize(attacker), VICTIM_MAILBOX)

    answer = gmail.callback(consent, browser_session=False)
    assert answer.status_code == 403
    assert answer.json()["code"] == "oauth_session_required"
    page = gmail.callback(consent, json=False, browser_session=False)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "sign in to inboxcrm in this browser" in page.text
    assert _accounts(runtime, "tenant-b") == []
    assert not _state_used(runtime)  # the right user may still sign in and finish

    # The starter, signed in, finishes the very same callback: the refusal was the session's.
    assert gmail.callback(consent).status_code == 200
    assert _accounts(runtime, "tenant-b") == [VICTIM_MAILBOX]


def test_forwarded_link_opened_by_another_signed_in_user_fails_and_is_voided(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    attacker = tenants.member("tenant-b", "rep")
    victim = tenants.member("tenant-a", "rep")
    consent = gmail.consent(gmail.authorize(attacker), VICTIM_MAILBOX)

    page = gmail.callback(consent, json=False, signed_in_as=victim)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "started by someone else" in page.text and "/setup/email" in page.text
    assert _accounts(runtime, "tenant-b") == [] and _accounts(runtime, "tenant-a") == []
    assert _state_used(runtime)
    # The link is dead for its starter too now.
    replay = gmail.callback(consent)
    assert replay.status_code == 400 and replay.json()["code"] == "oauth_state_used"
    assert _accounts(runtime, "tenant-b") == []


def test_same_user_in_another_tenant_is_another_principal(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    starter = tenants.member("tenant-b", "rep", email="consultant@example.com")
    elsewhere = tenants.member("tenant-a", "rep", email="consultant@example.com")
    consent = gmail.consent(gmail.authorize(starter), VICTIM_MAILBOX)
    answer = gmail.callback(consent, signed_in_as=elsewhere)
    assert answer.status_code == 403 and answer.json()["code"] == "oauth_session_mismatch"
    assert _accounts(runtime, "tenant-a") == [] and _accounts(runtime, "tenant-b") == []
