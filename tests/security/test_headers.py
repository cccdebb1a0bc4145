"""Defect 8: HSTS when ``INBOXCRM_PUBLIC_URL`` is https, ``Cache-Control: no-store`` on JSON."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.web.app import create_app
from tests.fixtures.web import TenantFactory


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_hsts_on_every_answer_when_served_over_https(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"public_url": "https://crm.example"})
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        for path in ("/healthz", "/login", "/api/v1/me", "/no-such-page", "/openapi.json"):
            answer = client.get(path)
            hsts = answer.headers.get("strict-transport-security", "")
            assert "max-age=31536000" in hsts and "includeSubDomains" in hsts, path


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_no_hsts_over_plain_http(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/login").headers


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_json_answers_are_never_stored(client: TestClient, tenants: TenantFactory) -> None:
    rep = tenants.member("acme", "rep")
    answers = {
        "item list": client.get("/api/v1/contacts", headers=rep.headers),
        "me": client.get("/api/v1/me", headers=rep.headers),
        "problem 401": client.get("/api/v1/contacts"),
        "problem 404": client.get("/api/v1/contacts/424242", headers=rep.headers),
        "problem 422": client.get("/api/v1/contacts/1%0A", headers=rep.headers),
        "oauth callback json": client.get(
            "/oauth/google/callback?state=x", headers={"Accept": "application/json"}
        ),
    }
    for name, answer in answers.items():
        assert answer.headers["content-type"].startswith("application/"), name
        assert answer.headers.get("cache-control") == "no-store", name
