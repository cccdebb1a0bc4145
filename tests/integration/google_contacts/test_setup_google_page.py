"""Setup → Email → Google in the UI: admins switch the features on and off, members see what
their mailboxes granted with an opt-in button per enabled feature, and turn their customer
mail alerts on; the forms write through the same services as the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.oauth import SCOPES
from tests.factories import make_mail_account
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import sign_in, user_id_of


def test_features_opt_in_buttons_and_alert_toggle(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    rep_id = user_id_of(client, rep)
    with runtime.tenant_uow("acme") as uow:
        box_id = make_mail_account(uow, user_id=rep_id, email="rep.box@acme.example").id

    admin_csrf = sign_in(client, admin)
    fragment = client.get("/setup/email/google")
    assert fragment.status_code == 200 and 'id="google-contacts-enabled"' in fragment.text
    saved = client.post(
        "/setup/email/google/features",
        data={"google_contacts_enabled": "1", "csrf_token": admin_csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and "google_features_saved" in saved.headers["location"]
    settings = client.get("/api/v1/mail-settings", headers=admin.headers).json()
    assert settings["google_contacts_enabled"] is True
    assert settings["google_calendar_enabled"] is False
    client.cookies.clear()

    rep_csrf = sign_in(client, rep)
    page = client.get("/setup/email")
    assert 'href="#section-google"' in page.text
    fragment = client.get("/setup/email/google").text
    assert 'id="google-contacts-enabled"' not in fragment  # members do not switch features
    assert f'id="google-grants-{box_id}"' in fragment
    assert 'data-feature="contacts"' in fragment and 'data-feature="calendar"' not in fragment
    for scope in SCOPES:
        assert f'data-scope="{scope}"' in fragment

    # The calendar is off: asking for it comes back with a notice.
    refused = client.post(
        f"/setup/email/{box_id}/authorize-scopes",
        data={"feature": "calendar", "csrf_token": rep_csrf},
        follow_redirects=False,
    )
    assert "google_feature_disabled" in refused.headers["location"]
    # Contacts: on to Google's consent page, asking for contacts.readonly.
    consent = client.post(
        f"/setup/email/{box_id}/authorize-scopes",
        data={"feature": "contacts", "csrf_token": rep_csrf},
        follow_redirects=False,
    )
    assert consent.status_code == 303
    assert "contacts.readonly" in consent.headers["location"]
    assert "include_granted_scopes=true" in consent.headers["location"]
    # Not granted yet: the import button is not shown and the post says why.
    assert "contacts-import" not in fragment
    early = client.post(
        f"/setup/email/{box_id}/contacts-import",
        data={"csrf_token": rep_csrf},
        follow_redirects=False,
    )
    assert "contacts_not_granted" in early.headers["location"]

    assert client.get("/api/v1/me", headers=rep.headers).json()["customer_mail_alerts"] is False
    on = client.post(
        "/setup/email/customer-alerts",
        data={"customer_mail_alerts": "1", "csrf_token": rep_csrf},
        follow_redirects=False,
    )
    assert on.status_code == 303
    assert client.get("/api/v1/me", headers=rep.headers).json()["customer_mail_alerts"] is True
    assert 'id="customer-mail-alerts" checked' in client.get("/setup/email/google").text
