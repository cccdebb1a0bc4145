"""The Mail Integration permission: role defaults, admins set it per user, connect and send are
refused with a 403 problem document without it, Setup → Email explains the missing button."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import list_events
from tests.fixtures.web import Member, TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sending.conftest import CUSTOMER, Mailroom


def _user_id(client: TestClient, member: Member) -> int:
    response = client.get("/api/v1/me", headers=member.headers)
    assert response.status_code == 200, response.text
    user_id: int = response.json()["user_id"]
    return user_id


def _set(client: TestClient, admin: Member, user_id: int, value: bool | None) -> Any:
    return client.patch(
        f"/api/v1/users/{user_id}", json={"mail_integration": value}, headers=admin.headers
    )


def test_role_defaults(client: TestClient, tenants: TenantFactory) -> None:
    admin = tenants.member("acme", "admin")
    for role in ("owner", "manager", "rep", "read-only"):
        tenants.member("acme", role)
    listed = client.get("/api/v1/users", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    by_role = {u["role"]: u for u in listed.json()["items"]}
    assert {r: u["mail_integration"] for r, u in by_role.items()} == {
        "owner": True,
        "admin": True,
        "manager": True,
        "rep": True,
        "read-only": False,
    }
    assert all(u["mail_integration_setting"] is None for u in by_role.values())


def test_without_permission_connect_is_403(
    client: TestClient, tenants: TenantFactory, gmail: GmailConnector, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    rep_id = _user_id(client, rep)
    changed = _set(client, admin, rep_id, False)
    assert changed.status_code == 200, changed.text
    assert changed.json()["mail_integration"] is False
    assert changed.json()["mail_integration_setting"] is False

    refused = client.post("/api/v1/mail-accounts/gmail/authorize", headers=rep.headers)
    assert refused.status_code == 403
    problem = refused.json()
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "mail_integration_required"
    assert "Mail Integration permission" in problem["detail"]

    page = client.get("/setup/email", headers=gmail.session_cookie(rep))
    assert page.status_code == 200
    assert 'id="connect-gmail"' not in page.text
    assert 'id="mail-integration-missing"' in page.text
    assert "Mail Integration permission" in page.text

    restored = _set(client, admin, rep_id, None)
    assert restored.json()["mail_integration"] is True
    assert (
        client.post("/api/v1/mail-accounts/gmail/authorize", headers=rep.headers).status_code == 200
    )
    page = client.get("/setup/email", headers=gmail.session_cookie(rep))
    assert 'id="connect-gmail"' in page.text
    assert 'id="mail-integration-missing"' not in page.text

    with runtime.tenant_uow("acme") as uow:
        events = [e for e in list_events(uow).items if e.action == "user.mail_integration"]
    assert [(e.target, e.details["after"]) for e in reversed(events)] == [
        (f"user:{rep_id}", False),
        (f"user:{rep_id}", None),
    ]


def test_without_permission_send_is_403(
    client: TestClient, mailroom: Mailroom, tenants: TenantFactory
) -> None:
    admin = tenants.member("acme", "admin")
    rep_id = _user_id(client, mailroom.member)
    assert _set(client, admin, rep_id, False).status_code == 200
    refused = mailroom.send(to=[CUSTOMER], subject="Not allowed")
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "mail_integration_required"
    assert mailroom.sent_ids() == []
    assert _set(client, admin, rep_id, True).status_code == 200
    # Past the permission gate again: the request's own validation answers now.
    checked = mailroom.send(to=[CUSTOMER], subject="Injected\r\nBcc: x@evil.example")
    assert checked.status_code == 422, checked.text


def test_only_admins_set_it_and_only_in_their_tenant(
    client: TestClient, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    manager = tenants.member("acme", "manager")
    other_admin = tenants.member("globex", "admin")
    rep_id = _user_id(client, rep)
    assert _set(client, manager, rep_id, False).status_code == 403
    assert _set(client, rep, rep_id, True).status_code == 403
    assert _set(client, other_admin, rep_id, False).status_code == 404
    assert client.get(f"/api/v1/users/{rep_id}", headers=other_admin.headers).status_code == 404
    mine = client.get(f"/api/v1/users/{rep_id}", headers=rep.headers)
    assert mine.status_code == 200 and mine.json()["mail_integration"] is True
    bad = client.patch(
        f"/api/v1/users/{rep_id}", json={"mail_integration": "yes"}, headers=rep.headers
    )
    assert bad.status_code in (403, 422)
