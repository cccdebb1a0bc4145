"""What lands in the audit log today: sign-ins, settings, never-log and sharing changes; and the
``GET /api/v1/audit-log`` list (admins only, filters, cursor pages)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from tests.fixtures.web import TenantFactory
from tests.integration.privacy.audit_helpers import actions, audit_entries
from tests.integration.ui.ui_session import login_form_token


def _login(client: TestClient, email: str, password: str) -> int:
    client.cookies.clear()
    token = login_form_token(client)
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return response.status_code


def test_sign_ins_and_refusals_are_audited(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    assert _login(client, rep.email, "wrong-password-1") == 401
    assert _login(client, rep.email, rep.password) == 303
    assert _login(client, "nobody@nowhere.example.com", "whatever-pass") == 401

    entries = audit_entries(runtime, "acme")
    login_entries = [e for e in entries if e.action.startswith("auth.")]
    assert [(e.action, e.outcome) for e in login_entries] == [
        ("auth.login", "success"),
        ("auth.login_failed", "failure"),
    ]
    failed = login_entries[1]
    assert failed.details == {"reason": "wrong_password"}
    assert failed.ip == "testclient" and failed.target is not None
    assert all(rep.email not in str(e) and "wrong-password-1" not in str(e) for e in entries)

    control = audit_entries(runtime, None, "auth.login_failed")
    assert [e.details for e in control] == [{"reason": "unknown_user"}]
    assert "nobody@nowhere" not in str(control)


def test_settings_never_log_and_sharing_changes_are_audited(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    h = admin.headers
    assert client.patch("/api/v1/mail-settings", json={"storage_policy": "snippet"}, headers=h)
    added = client.post(
        "/api/v1/mail-settings/never-log", json={"entry": "Secret@Example.com"}, headers=h
    )
    assert added.status_code == 201, added.text
    assert (
        client.post(
            "/api/v1/mail-settings/never-log", json={"entry": "example.net"}, headers=h
        ).status_code
        == 201
    )
    removed = client.delete("/api/v1/mail-settings/never-log/example.net", headers=h)
    assert removed.status_code == 204
    maximum = client.patch("/api/v1/mail-settings/sharing", json={"visibility": "team"}, headers=h)
    assert maximum.status_code == 200, maximum.text

    entries = audit_entries(runtime, "acme")
    assert [e.action for e in entries] == [
        "sharing.tenant_maximum",
        "never_log.remove",
        "never_log.add",
        "never_log.add",
        "mail_settings.update",
    ]
    assert entries[-1].details["storage_policy"] == "snippet"
    assert entries[1].details == {"domain": "example.net"}
    address_entry = entries[3]
    assert set(address_entry.details) == {"address_sha256", "messages_removed"}
    assert "secret@example.com" not in str(entries).lower()
    assert all(e.actor_user_id is not None and e.outcome == "success" for e in entries)


def test_audit_log_api_admins_filters_and_pages(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    for _ in range(3):
        assert _login(client, rep.email, rep.password) == 303
    assert _login(client, admin.email, admin.password) == 303

    assert client.get("/api/v1/audit-log", headers=rep.headers).status_code == 403
    everything = client.get("/api/v1/audit-log", headers=admin.headers)
    assert everything.status_code == 200
    items = everything.json()["items"]
    assert [i["action"] for i in items] == ["auth.login"] * 4
    assert [i["seq"] for i in items] == [4, 3, 2, 1]

    rep_id = items[-1]["actor_user_id"]
    only_rep = client.get(f"/api/v1/audit-log?actor={rep_id}", headers=admin.headers).json()
    assert len(only_rep["items"]) == 3

    first = client.get("/api/v1/audit-log?limit=3", headers=admin.headers).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = client.get(
        "/api/v1/audit-log",
        params={"limit": 3, "cursor": first["next_cursor"]},
        headers=admin.headers,
    ).json()
    assert [i["seq"] for i in second["items"]] == [1] and second["next_cursor"] is None

    by_area = client.get("/api/v1/audit-log?action=auth.*", headers=admin.headers).json()
    assert len(by_area["items"]) == 4
    none = client.get("/api/v1/audit-log?action=export.request", headers=admin.headers).json()
    assert none["items"] == []

    future = (utcnow() + timedelta(hours=1)).isoformat()
    past = (utcnow() - timedelta(hours=1)).isoformat()
    later = client.get("/api/v1/audit-log", params={"from": future}, headers=admin.headers)
    assert later.json()["items"] == []
    window = client.get(
        "/api/v1/audit-log", params={"from": past, "to": future}, headers=admin.headers
    )
    assert len(window.json()["items"]) == 4

    naive = client.get("/api/v1/audit-log?from=2026-01-01T00:00:00", headers=admin.headers)
    assert naive.status_code == 422
    assert naive.headers["content-type"].startswith("application/problem+json")
    bad_cursor = client.get("/api/v1/audit-log?cursor=nope", headers=admin.headers)
    assert bad_cursor.status_code == 422
    assert actions(runtime, "acme") == ["auth.login"] * 4
