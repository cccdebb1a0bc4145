"""Incremental authorization for the optional Google features: the first connect asks for exactly
the five Gmail scopes; contacts and calendar scopes are asked for only after an admin enabled the
feature and the mailbox's owner opted in, and the grant is stored and logged."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.oauth import SCOPES
from inboxcrm.services.consent import consent_history
from tests.fixtures.web import TenantFactory
from tests.integration.google_contacts.steps import (
    CALENDAR_SCOPE,
    CONTACTS_SCOPE,
    GmailConnector,
    account_of,
    enable_features,
    opt_in,
)

EMAIL = "opt.in@acme-sales.example"


def test_first_connect_asks_for_exactly_the_five_gmail_scopes_even_with_features_enabled(
    gmail: GmailConnector, tenants: TenantFactory
) -> None:
    admin = tenants.member("acme", "admin")
    enable_features(gmail, admin, google_contacts_enabled=True, google_calendar_enabled=True)
    rep = tenants.member("acme", "rep")
    url = gmail.authorize(rep)
    asked = parse_qs(urlsplit(url).query)["scope"][0].split()
    assert sorted(asked) == sorted(SCOPES) and len(asked) == 5
    account = gmail.connect(rep, EMAIL)["account"]
    assert set(account["scopes"]) == set(SCOPES)
    assert CONTACTS_SCOPE not in account["scopes"] and CALENDAR_SCOPE not in account["scopes"]


def test_a_feature_is_asked_for_only_once_an_admin_enabled_it(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    account_id = gmail.connect(rep, EMAIL)["account"]["id"]
    path = f"/api/v1/mail-accounts/{account_id}/authorize-scopes"

    refused = gmail.client.post(path, json={"features": ["contacts"]}, headers=rep.headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "google_feature_disabled"
    settings = gmail.client.get("/api/v1/mail-settings", headers=rep.headers).json()
    assert settings["google_contacts_enabled"] is False
    assert settings["google_calendar_enabled"] is False

    # Only admins switch features on.
    denied = gmail.client.patch(
        "/api/v1/mail-settings", json={"google_contacts_enabled": True}, headers=rep.headers
    )
    assert denied.status_code == 403
    enable_features(gmail, admin, google_contacts_enabled=True)
    # Calendar is still off: asking for both is refused, asking for contacts works.
    both = gmail.client.post(path, json={"features": ["contacts", "calendar"]}, headers=rep.headers)
    assert both.status_code == 409 and both.json()["code"] == "google_feature_disabled"
    bad = gmail.client.post(path, json={"features": ["drive"]}, headers=rep.headers)
    assert bad.status_code == 422

    asked = opt_in(gmail, rep, account_id, EMAIL, ["contacts"])
    assert asked == {CONTACTS_SCOPE, "openid", "https://www.googleapis.com/auth/userinfo.email"}
    account = account_of(gmail, rep, account_id)
    assert set(account["scopes"]) == {*SCOPES, CONTACTS_SCOPE}
    assert CALENDAR_SCOPE not in account["scopes"]

    # The consent log records the grant (what it added), after the first connect.
    with runtime.tenant_uow("acme") as uow:
        entries = consent_history(uow, account_email=EMAIL)
    assert [e.action for e in entries] == ["connect", "grant"]
    assert entries[1].scopes == (CONTACTS_SCOPE,)

    again = gmail.client.post(path, json={"features": ["contacts"]}, headers=rep.headers)
    assert again.status_code == 409

    enable_features(gmail, admin, google_calendar_enabled=True)
    opt_in(gmail, rep, account_id, EMAIL, ["calendar"])
    account = account_of(gmail, rep, account_id)
    assert set(account["scopes"]) == {*SCOPES, CONTACTS_SCOPE, CALENDAR_SCOPE}


def test_only_the_mailbox_owner_may_ask_for_its_features(
    gmail: GmailConnector, tenants: TenantFactory
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    other = tenants.member("acme", "manager")
    enable_features(gmail, admin, google_contacts_enabled=True)
    account_id = gmail.connect(rep, EMAIL)["account"]["id"]
    answer = gmail.client.post(
        f"/api/v1/mail-accounts/{account_id}/authorize-scopes",
        json={"features": ["contacts"]},
        headers=other.headers,
    )
    assert answer.status_code == 404
    reader = tenants.member("acme", "read-only")
    answer = gmail.client.post(
        f"/api/v1/mail-accounts/{account_id}/authorize-scopes",
        json={"features": ["contacts"]},
        headers=reader.headers,
    )
    assert answer.status_code == 403
