"""Every unsafe UI route refuses a cookie-authenticated post without the CSRF token, accepts it
with the token, and refuses read-only users. The routes are walked from the UI's page routers,
so a new route without an entry in ``VALID_POSTS`` fails here until it is covered."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.records import DEAL_STAGES
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import (
    SampleData,
    login_form_token,
    make_sample_data,
    page_routes,
    sign_in,
    user_id_of,
)

Form = dict[str, str | list[str]]


def _record_forms() -> dict[str, Callable[[SampleData], Form]]:
    forms: dict[str, Callable[[SampleData], Form]] = {}
    person = {"first_name": "Kim", "last_name": "Park", "emails": ["kim@park.example.com"]}
    bodies: dict[str, Form] = {
        "leads": {**person, "status": "contacted", "company": "Park & Co"},
        "contacts": {**person, "title": "Buyer"},
        "accounts": {"name": "Park Industries", "domain": "park.example.com", "emails": []},
    }
    for plural, body in bodies.items():
        # a create with a known address asks first: confirm, as the form's second button does
        forms[f"/{plural}"] = lambda _d, body=body: {**body, "confirm_duplicate": "1"}
        forms[f"/{plural}/{{record_id}}/edit"] = lambda _d, body=body: dict(body)
        forms[f"/{plural}/{{record_id}}/delete"] = lambda _d: {}
        forms[f"/{plural}/{{record_id}}/notes"] = lambda _d: {"body": "Sent the proposal."}
        forms[f"/{plural}/{{record_id}}/drafts"] = lambda d: {
            "mail_account_id": str(d.mail_account)
        }
        forms[f"/{plural}/{{record_id}}/meetings"] = lambda d: {
            "mail_account_id": str(d.mail_account),
            "title": "Review",
            "start": "2030-01-31T10:00",
            "minutes": "30",
        }
        forms[f"/{plural}/{{record_id}}/compose"] = lambda d: {
            "mail_account_id": str(d.mail_account),
            "to": "pat@sample.example.com",
            "subject": "Proposal",
            "body_text": "Attached.",
        }
    return forms


def _deal_form(data: SampleData) -> Form:
    return {
        "name": "Expansion",
        "account_id": str(data.account),
        "stage": "proposal",
        "status": "open",
        "amount": "2500",
        "currency": "EUR",
        "close_date": "2030-01-31",
    }


#: A valid body for each unsafe route (keyed by route path); login and logout are special.
VALID_POSTS: dict[str, Callable[[SampleData], Form]] = {
    **_record_forms(),
    "/notes/{note_id}/delete": lambda _d: {},
    "/deals": _deal_form,
    "/deals/{deal_id}/edit": _deal_form,
    "/deals/{deal_id}/stage": lambda _d: {"stage": DEAL_STAGES[-1]},
    "/deals/{deal_id}/delete": lambda _d: {},
    "/notifications/{notification_id}/read": lambda _d: {},
    "/setup/email/connect": lambda _d: {},
    "/setup/email/imap": lambda _d: {"action": "test", "host": "", "username": ""},
    "/setup/email/{account_id}/sync": lambda _d: {"full": "1"},
    "/setup/email/{account_id}/disconnect": lambda _d: {},
    "/setup/email/{account_id}/grant-missing": lambda _d: {},
    "/setup/email/{account_id}/options": lambda _d: {
        "labels_mode": "chosen",
        "labels": ["INBOX", "SENT"],
        "lookback_days": "90",
    },
    "/setup/email/settings": lambda _d: {"storage_policy": "snippet", "contact_autocreate": "sent"},
    "/setup/email/never-log": lambda _d: {"entry": "noise.example.org"},
    "/setup/email/never-log/remove": lambda d: {"entry": d.never_log_entry},
    "/setup/email/{account_id}/sharing": lambda _d: {"visibility": "team", "detail": "subject"},
    "/setup/email/sharing": lambda _d: {"visibility": "team", "detail": "everything"},
    "/setup/email/sending": lambda _d: {"track_by_default": "1"},
    "/setup/email/google-features": lambda _d: {"deal_state_labels_enabled": "1"},
    "/setup/email/meeting-prep": lambda _d: {"meeting_prep_enabled": "1"},
    "/setup/email/google/features": lambda _d: {},
    "/setup/email/{account_id}/authorize-scopes": lambda _d: {"feature": "contacts"},
    "/setup/email/{account_id}/contacts-import": lambda _d: {},
    "/setup/email/customer-alerts": lambda _d: {"customer_mail_alerts": "1"},
    "/preferences": lambda _d: {"time_zone": "Europe/Berlin"},
    **{
        f"/email-{kind}/{{{param}}}/{action}": lambda d: {"next": f"/contacts/{d.contact}"}
        for kind, param in (("messages", "message_id"), ("threads", "thread_id"))
        for action in ("archive", "mark-read", "mark-unread", "remove")
    },
    **{
        f"/email-{kind}/{{{param}}}/support-flag": lambda d: {
            "next": f"/contacts/{d.contact}",
            "reason": "The walk flags it",
        }
        for kind, param in (("messages", "message_id"), ("threads", "thread_id"))
    },
    **{
        f"/email-{kind}/{{{param}}}/support-flag/withdraw": lambda d: {
            "next": f"/contacts/{d.contact}"
        }
        for kind, param in (("messages", "message_id"), ("threads", "thread_id"))
    },
    "/email-threads/{thread_id}/sharing": lambda d: {
        "visibility": "team",
        "detail": "subject",
        "next": f"/contacts/{d.contact}",
    },
    "/setup/users/invite": lambda d: {
        "email": f"invitee{d.colleague}@acme.example.com",
        "role": "rep",
        "password": "invitee-password",
    },
    "/setup/users/{user_id}/role": lambda _d: {"role": "manager"},
    "/setup/users/{user_id}/deactivate": lambda _d: {},
    "/setup/privacy/grants": lambda _d: {"hours": "2", "reason": "ticket 1"},
    "/setup/privacy/grants/{grant_id}/revoke": lambda _d: {},
    "/setup/privacy/exports": lambda _d: {"record": ""},
    "/setup/privacy/erasure": lambda d: {"address": f"gone{d.colleague}@example.org"},
}
SESSION_ROUTES = {"/login", "/logout"}
#: Accepted posts that answer other than 303: "Connect IMAP/POP3" logs in to a mail server
#: first, so without one its well-formed post is answered with the form and the error (422).
ACCEPTED_STATUS = {"/setup/email/imap": 422}
#: Unsafe routes only tenant owners and admins may use (the CSRF walk posts them as an admin).
ADMIN_ONLY = {
    "/setup/email/settings",
    "/setup/email/google-features",
    "/setup/email/never-log",
    "/setup/email/never-log/remove",
    "/setup/email/sharing",
    "/setup/email/google/features",
    "/setup/users/invite",
    "/setup/users/{user_id}/role",
    "/setup/users/{user_id}/deactivate",
    "/setup/privacy/grants",
    "/setup/privacy/grants/{grant_id}/revoke",
    "/setup/privacy/exports",
    "/setup/privacy/erasure",
}
#: Unsafe routes a read-only user may use: they change no CRM data.
READ_ONLY_ALLOWED = {
    "/login",
    "/logout",
    "/notifications/{notification_id}/read",
    "/preferences",
    "/setup/email/meeting-prep",
    "/setup/email/customer-alerts",  # the member's own notifications
}

UNSAFE = [(m, p) for m, p in page_routes() if m not in {"GET", "HEAD", "OPTIONS"}]


def test_every_unsafe_ui_route_is_covered() -> None:
    assert UNSAFE, "no unsafe routes found"
    assert all(method == "POST" for method, _ in UNSAFE)
    assert {path for _, path in UNSAFE} == set(VALID_POSTS) | SESSION_ROUTES


def _as_member(client: TestClient, tenants: TenantFactory, role: str) -> tuple[str, int]:
    """Sign in a new ``role`` member of acme; returns (session CSRF token, user id)."""
    member = tenants.member("acme", role)
    return sign_in(client, member), user_id_of(client, member)


def test_unsafe_routes_refuse_posts_without_the_csrf_token_and_accept_them_with_it(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    assert set(VALID_POSTS) >= ADMIN_ONLY
    csrf, user_id = _as_member(client, tenants, "rep")
    member_routes = [p for _, p in UNSAFE if p not in SESSION_ROUTES | ADMIN_ONLY]
    _check_csrf_rules(client, runtime, csrf, user_id, member_routes)
    for route_path in sorted(ADMIN_ONLY):  # a rep with the right token is still refused
        data = make_sample_data(runtime, "acme", user_id)
        refused = client.post(
            data.fill(route_path),
            data={**VALID_POSTS[route_path](data), "csrf_token": csrf},
            follow_redirects=False,
        )
        assert refused.status_code == 403, (route_path, refused.status_code)
    client.cookies.clear()
    admin_csrf, admin_id = _as_member(client, tenants, "admin")
    _check_csrf_rules(client, runtime, admin_csrf, admin_id, sorted(ADMIN_ONLY))


def _check_csrf_rules(
    client: TestClient, runtime: Runtime, csrf: str, user_id: int, routes: list[str]
) -> None:
    for route_path in routes:
        data = make_sample_data(runtime, "acme", user_id)
        path = data.fill(route_path)
        body = VALID_POSTS[route_path](data)
        for forged in ({}, {"csrf_token": "not-the-token"}):
            refused = client.post(path, data={**body, **forged}, follow_redirects=False)
            assert refused.status_code == 403, (route_path, refused.status_code)
            assert refused.headers["content-type"].startswith("text/html")
        by_header = client.post(
            path, data=body, headers={"X-CSRF-Token": csrf}, follow_redirects=False
        )
        accepted = ACCEPTED_STATUS.get(route_path, 303)
        assert by_header.status_code == accepted, (route_path, by_header.status_code)
        assert not by_header.headers.get("location", "").startswith("/login")
        # The same post with the hidden form field works too (on fresh data: deletes are final).
        fresh = make_sample_data(runtime, "acme", user_id)
        by_field = client.post(
            fresh.fill(route_path),
            data={**VALID_POSTS[route_path](fresh), "csrf_token": csrf},
            follow_redirects=False,
        )
        assert by_field.status_code == accepted, (route_path, by_field.status_code)


def test_a_refused_post_changes_nothing(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    _, user_id = _as_member(client, tenants, "rep")
    data = make_sample_data(runtime, "acme", user_id)
    assert client.post(f"/contacts/{data.contact}/delete").status_code == 403
    assert client.post("/accounts", data={"name": "Forged"}).status_code == 403
    assert client.get(f"/contacts/{data.contact}").status_code == 200
    assert "Forged" not in client.get("/accounts").text


def test_read_only_users_see_no_write_buttons_and_get_403_on_write_posts(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    csrf, user_id = _as_member(client, tenants, "read-only")
    data = make_sample_data(runtime, "acme", user_id)
    page = client.get(f"/contacts/{data.contact}")
    assert page.status_code == 200
    record = f"/contacts/{data.contact}"
    for write_control in (f"{record}/edit", f"{record}/delete", f"{record}/notes", "/notes/",
                          "New deal", "Add contact"):  # fmt: skip
        assert write_control not in page.text
    assert "New contact" not in client.get("/contacts").text
    for route in ("/contacts/new", "/deals/new", f"/accounts/{data.account}/edit"):
        refused = client.get(route)
        assert refused.status_code == 403
        assert "You cannot do that" in refused.text

    for _, route_path in UNSAFE:
        if route_path in READ_ONLY_ALLOWED:
            continue
        fresh = make_sample_data(runtime, "acme", user_id)
        response = client.post(
            fresh.fill(route_path),
            data={**VALID_POSTS[route_path](fresh), "csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 403, (route_path, response.status_code)
    assert client.get(f"/contacts/{data.contact}").status_code == 200

    response = client.post(
        f"/notifications/{data.notification}/read",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_login_post_is_the_one_unsafe_route_without_a_session(
    client: TestClient, tenants: TenantFactory
) -> None:
    member = tenants.member("acme", "rep")
    assert client.post("/login", data={"email": member.email}).status_code == 403
    token = login_form_token(client)
    response = client.post(
        "/login",
        data={"email": member.email, "password": member.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
