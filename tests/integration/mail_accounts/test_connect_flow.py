"""Connect Gmail end to end: authorize → the emulator's consent → callback → stored account."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.runtime import RecordedJobs
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import (
    GmailConnector,
    account_row,
    add_mail,
    mail_counts,
    plaintext_tokens,
)

from inboxcrm.adapters.db.control_tables import OAuthStateRow
from inboxcrm.adapters.db.tenant_tables import ConsentLogRow, MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.oauth import SCOPES
from inboxcrm.services.mail_accounts import find_mailbox_route, find_mailbox_routes


def test_authorization_url_asks_for_exactly_the_five_scopes_with_pkce(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, emulator: EmulatorHandle
) -> None:
    rep = tenants.member("acme", "rep")
    url = gmail.authorize(rep)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == emulator.url
    query = parse_qs(parts.query)
    assert sorted(query["scope"][0].split()) == sorted(SCOPES)
    assert len(query["scope"][0].split()) == 5
    assert query["access_type"] == ["offline"]
    assert query["prompt"] == ["consent"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [f"{runtime.settings.public_url}/oauth/google/callback"]
    state = query["state"][0]
    with runtime.control_uow() as uow:
        row = uow.session.scalar(select(OAuthStateRow))
    assert row is not None and row.used_at is None
    assert state not in row.state_hash  # only a hash of the state is stored
    assert 590 <= (row.expires_at - row.created_at).total_seconds() <= 600


def test_full_connect_flow_stores_encrypted_tokens_consent_route_and_queues_sync(
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
    recorded_jobs: RecordedJobs,
    client: TestClient,
) -> None:
    rep = tenants.member("acme", "rep")
    body = gmail.connect(rep, "Rep.Mailbox@Example.com")
    assert body["tenant"] == "acme" and body["created"] is True
    account = body["account"]
    assert account["email"] == "rep.mailbox@example.com"
    assert account["provider"] == "gmail" and account["status"] == "connected"
    assert sorted(account["scopes"]) == sorted(SCOPES)
    assert "token" not in str(account).lower().replace("token_expiry", "")

    row = account_row(runtime, "acme", account["id"])
    access, refresh = plaintext_tokens(runtime, row)
    assert access and refresh
    assert row.access_token_enc and access.encode() not in row.access_token_enc
    assert row.refresh_token_enc and refresh.encode() not in row.refresh_token_enc
    assert row.provider_subject and row.token_expiry is not None and row.token_expiry > utcnow()

    with runtime.tenant_uow("acme") as uow:
        consents = list(uow.session.scalars(select(ConsentLogRow)))
    assert len(consents) == 1
    consent = consents[0]
    assert consent.action == "connect" and consent.account_email == "rep.mailbox@example.com"
    assert sorted(consent.scopes) == sorted(SCOPES) and consent.ip
    assert consent.mail_account_id == account["id"]

    assert find_mailbox_route(runtime, "REP.mailbox@example.com") == ("acme", account["id"])
    assert recorded_jobs.queued[-1] == (
        "inboxcrm.mail.sync_account",
        {"tenant": "acme", "account_id": account["id"], "full": True},
    )

    listed = client.get("/api/v1/mail-accounts", headers=rep.headers).json()
    assert [a["email"] for a in listed["items"]] == ["rep.mailbox@example.com"]
    assert listed["next_cursor"] is None
    one = client.get(f"/api/v1/mail-accounts/{account['id']}", headers=rep.headers).json()
    for key in ("sync_phase", "messages_scanned", "messages_stored", "last_sync_at", "last_error"):
        assert key in one
    assert one["watch_expiration"] is None


def test_browser_callback_redirects_to_setup_email(
    gmail: GmailConnector, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    consent = gmail.consent(gmail.authorize(rep), "browser@example.com")
    response = gmail.callback(consent, json=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/setup/email?connected=")


def test_two_google_accounts_for_one_user_and_reconnect_updates(
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
    recorded_jobs: RecordedJobs,
    client: TestClient,
) -> None:
    rep = tenants.member("acme", "rep")
    first = gmail.connect(rep, "work@example.com")["account"]
    second = gmail.connect(rep, "sales@example.com")["account"]
    assert first["id"] != second["id"]
    before = account_row(runtime, "acme", first["id"])

    again = gmail.connect(rep, "work@example.com")
    assert again["created"] is False and again["account"]["id"] == first["id"]
    after = account_row(runtime, "acme", first["id"])
    assert plaintext_tokens(runtime, after) != plaintext_tokens(runtime, before)

    with runtime.tenant_uow("acme") as uow:
        emails = sorted(uow.session.scalars(select(MailAccountRow.email)))
        actions = list(uow.session.scalars(select(ConsentLogRow.action)))
    assert emails == ["sales@example.com", "work@example.com"]
    assert actions == ["connect", "connect", "connect"]
    assert find_mailbox_routes(runtime, "work@example.com") == [("acme", first["id"])]
    assert [name for name in recorded_jobs.names() if name == "inboxcrm.mail.sync_account"] == [
        "inboxcrm.mail.sync_account"
    ] * 3
    listed = client.get("/api/v1/mail-accounts", headers=rep.headers).json()["items"]
    assert [a["email"] for a in listed] == ["work@example.com", "sales@example.com"]


def test_mailbox_connected_by_another_user_is_a_conflict(
    gmail: GmailConnector, tenants: TenantFactory
) -> None:
    alice = tenants.member("acme", "rep", email="alice@acme.example.com")
    bob = tenants.member("acme", "rep", email="bob@acme.example.com")
    gmail.connect(alice, "shared@example.com")
    response = gmail.callback(gmail.consent(gmail.authorize(bob), "shared@example.com"))
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


def test_denied_consent_and_bad_used_expired_state_are_clear_errors(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")

    denied = gmail.callback(gmail.consent(gmail.authorize(rep), "x@example.com", decision="deny"))
    assert denied.status_code == 400 and denied.json()["code"] == "oauth_access_denied"
    html = gmail.callback(
        gmail.consent(gmail.authorize(rep), "x@example.com", decision="deny"), json=False
    )
    assert html.status_code == 400 and html.headers["content-type"].startswith("text/html")
    assert "declined" in html.text and "/setup/email" in html.text

    bogus = gmail.client.get(
        "/oauth/google/callback?state=nope&code=abc", headers={"Accept": "application/json"}
    )
    assert bogus.status_code == 400 and bogus.json()["code"] == "oauth_state_invalid"
    missing = gmail.client.get("/oauth/google/callback", headers={"Accept": "application/json"})
    assert missing.status_code == 400 and missing.json()["code"] == "oauth_state_invalid"

    consent = gmail.consent(gmail.authorize(rep), "used@example.com")
    assert gmail.callback(consent).status_code == 200
    replay = gmail.callback(consent)
    assert replay.status_code == 400 and replay.json()["code"] == "oauth_state_used"

    late = gmail.consent(gmail.authorize(rep), "late@example.com")
    with runtime.control_uow() as uow:
        for row in uow.session.scalars(
            select(OAuthStateRow).where(OAuthStateRow.used_at.is_(None))
        ):
            row.expires_at = utcnow()
        uow.commit()
    expired = gmail.callback(late)
    assert expired.status_code == 400 and expired.json()["code"] == "oauth_state_expired"
    with runtime.tenant_uow("acme") as uow:
        emails = list(uow.session.scalars(select(MailAccountRow.email)))
    assert emails == ["used@example.com"]


def test_a_grant_that_cannot_read_mail_is_refused(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    url = gmail.authorize(rep)
    fewer = " ".join(s for s in SCOPES if not s.endswith(("gmail.readonly", "gmail.modify")))
    response = gmail.callback(gmail.consent(url, "narrow@example.com", scope=fewer))
    assert response.status_code == 400
    assert response.json()["code"] == "oauth_scope_mismatch"
    with runtime.tenant_uow("acme") as uow:
        assert uow.session.scalar(select(MailAccountRow)) is None


def test_authorize_needs_a_writer_and_authentication(
    client: TestClient, tenants: TenantFactory
) -> None:
    viewer = tenants.member("acme", "read-only")
    response = client.post("/api/v1/mail-accounts/gmail/authorize", headers=viewer.headers)
    assert response.status_code == 403
    assert client.post("/api/v1/mail-accounts/gmail/authorize").status_code == 401


def test_auto_consent_flow_connects_without_a_form(
    gmail: GmailConnector, tenants: TenantFactory, emulator: EmulatorHandle
) -> None:
    emulator.set_config(auto_consent="demo@example.com")
    rep = tenants.member("acme", "rep")
    answer = gmail.http.get(gmail.authorize(rep))
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    response = gmail.client.get(
        f"{location.path}?{location.query}",
        headers={"Accept": "application/json", **gmail.session_cookie(rep)},
    )
    assert response.status_code == 200
    assert response.json()["account"]["email"] == "demo@example.com"


def test_another_users_disconnected_mailbox_is_taken_over_without_its_old_mail(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime, client: TestClient
) -> None:
    alice = tenants.member("acme", "rep", email="alice@acme.example.com")
    bob = tenants.member("acme", "rep", email="bob@acme.example.com")
    first = gmail.connect(alice, "handover@example.com")["account"]
    add_mail(runtime, "acme", first["id"], 2)
    client.delete(f"/api/v1/mail-accounts/{first['id']}", headers=alice.headers)

    taken = gmail.connect(bob, "handover@example.com")
    assert taken["created"] is False and taken["account"]["id"] == first["id"]
    assert taken["account"]["user_id"] != first["user_id"]
    assert taken["account"]["status"] == "connected" and taken["account"]["purge_after"] is None
    assert mail_counts(runtime, "acme")["email_messages"] == 0
    assert client.get("/api/v1/mail-accounts", headers=alice.headers).json()["items"] == []
