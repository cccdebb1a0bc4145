"""Logging in and out of the UI: cookies, login CSRF, no account enumeration, redirects."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.identity import create_user
from inboxcrm.services.tenants import create_tenant
from inboxcrm.web.app import create_app
from inboxcrm.web.ui.session_pages import safe_next
from tests.fixtures.web import DEFAULT_PASSWORD, TenantFactory
from tests.integration.ui.ui_session import login_form_token, sign_in

_TOKEN_VALUE = re.compile(r'value="[A-Za-z0-9_-]{40,}"')


def _set_cookie_headers(response: object) -> list[str]:
    return list(response.headers.get_list("set-cookie"))  # type: ignore[attr-defined]


def test_login_sets_an_httponly_lax_session_cookie_and_redirects_home(
    client: TestClient, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    token = login_form_token(client)
    response = client.post(
        "/login",
        data={"email": rep.email.upper(), "password": rep.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    session_cookie = next(c for c in _set_cookie_headers(response) if c.startswith("icrm_session="))
    flags = {part.strip().lower() for part in session_cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # INBOXCRM_PUBLIC_URL is plain http in tests
    page = client.get("/")
    assert page.status_code == 200
    assert rep.email in page.text


def test_session_cookie_is_secure_when_the_public_url_is_https(
    runtime: Runtime, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    runtime.settings.public_url = "https://crm.example.com"
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        token = login_form_token(client)
        response = client.post(
            "/login",
            data={"email": rep.email, "password": rep.password, "csrf_token": token},
            follow_redirects=False,
        )
    assert response.status_code == 303
    cookies = _set_cookie_headers(response)
    session_cookie = next(c for c in cookies if c.startswith("icrm_session="))
    assert "secure" in {part.strip().lower() for part in session_cookie.split(";")}


def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: TestClient, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    answers = []
    for email, password in ((rep.email, "not-the-password"), ("nobody@acme.example.com", "x" * 9)):
        token = login_form_token(client)
        response = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 401
        assert "icrm_session=" not in response.headers.get("set-cookie", "")
        assert "Wrong email, password or workspace." in response.text
        answers.append(_TOKEN_VALUE.sub('value="TOKEN"', response.text.replace(email, "EMAIL")))
    assert answers[0] == answers[1]


def test_login_without_the_form_token_is_refused(
    client: TestClient, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    login_form_token(client)
    for token in ("", "forged-token-value"):
        response = client.post(
            "/login",
            data={"email": rep.email, "password": rep.password, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert "icrm_session=" not in response.headers.get("set-cookie", "")
    client.cookies.clear()
    token = "a" * 43
    response = client.post(
        "/login",
        data={"email": rep.email, "password": rep.password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 403  # no cookie to match: a cross-site post


def test_a_user_of_two_tenants_picks_one_with_the_workspace_field(
    client: TestClient, runtime: Runtime, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep", email="sam@consult.example.com")
    create_tenant(runtime, "globex")
    create_user(
        runtime,
        tenant_slug="globex",
        email=rep.email,
        password=DEFAULT_PASSWORD,
        role="manager",
    )
    token = login_form_token(client)
    response = client.post(
        "/login",
        data={
            "email": rep.email,
            "password": rep.password,
            "tenant": "globex",
            "csrf_token": token,
        },
    )
    assert response.status_code == 200
    assert "globex · manager" in response.text


def test_pages_redirect_to_login_and_back_after_it(
    client: TestClient, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    response = client.get("/contacts?q=ann", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcontacts%3Fq%3Dann"
    htmx = client.get("/contacts", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"].startswith("/login")

    token = login_form_token(client)
    response = client.post(
        "/login",
        data={
            "email": rep.email,
            "password": rep.password,
            "csrf_token": token,
            "next": "/contacts?q=ann",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/contacts?q=ann"


def test_only_local_paths_are_followed_after_login() -> None:
    assert safe_next("/contacts/7?x=1") == "/contacts/7?x=1"
    for hostile in ("//evil.example", "https://evil.example/", "/\\evil.example", "", None,
                    "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1"):  # fmt: skip
        assert safe_next(hostile) == "/"


def test_logout_needs_the_csrf_token_and_ends_the_session(
    client: TestClient, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    csrf = sign_in(client, rep)
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    stolen = client.cookies.get("icrm_session")
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    client.cookies.set("icrm_session", stolen or "")
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
