"""Bearer tokens identify the caller; bad credentials get problem documents."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.web import TenantFactory


def test_bearer_token_identifies_user_and_tenant(
    client: TestClient, tenants: TenantFactory
) -> None:
    alice = tenants.member("acme", "admin")
    response = client.get("/api/v1/me", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == {
        "user_id": response.json()["user_id"],
        "email": alice.email,
        "display_name": "",
        "tenant": "acme",
        "role": "admin",
        "meeting_prep_enabled": True,
        "customer_mail_alerts": False,
    }


def test_missing_or_bad_token_is_a_401_problem(client: TestClient, tenants: TenantFactory) -> None:
    tenants.member("acme")
    for headers in ({}, {"Authorization": "Bearer icrm_nope"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 401 and body["code"] == "authentication_failed"


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_healthz_reports_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_csp_lets_forms_lead_only_to_self_and_the_oauth_consent_origin(
    client: TestClient,
) -> None:
    from inboxcrm.providers.gmail.oauth import endpoints_for
    from inboxcrm.web.security_headers import origin_of

    policy = client.get("/healthz").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
    consent = origin_of(endpoints_for(settings).auth_uri)
    assert directives["form-action"].split() == ["'self'", consent]
