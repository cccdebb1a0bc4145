"""``/api/v1/users``: admins invite, change roles and deactivate; owners alone make owners;
nobody changes or removes themselves; a deactivated user's token stops working; audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from tests.fixtures.web import TenantFactory
from tests.integration.privacy.audit_helpers import audit_entries


def test_user_administration_through_the_api(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    owner = tenants.member("acme", "owner")
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    url = "/api/v1/users"
    assert client.get(url, headers=rep.headers).status_code == 403
    invite = {"email": "New.Person@acme.example.com", "role": "rep"}
    assert client.post(url, json=invite, headers=rep.headers).status_code == 403
    invited = client.post(url, json=invite, headers=admin.headers)
    assert invited.status_code == 201, invited.text
    body = invited.json()
    assert body["email"] == "new.person@acme.example.com" and body["role"] == "rep"
    assert body["generated_password"] and len(body["generated_password"]) >= 12
    assert client.post(url, json=invite, headers=admin.headers).status_code == 409
    as_owner = {"email": "boss@acme.example.com", "role": "owner", "password": "boss-password"}
    assert client.post(url, json=as_owner, headers=admin.headers).status_code == 403
    made = client.post(url, json=as_owner, headers=owner.headers)
    assert made.status_code == 201 and made.json()["generated_password"] is None

    new_id = body["user_id"]
    changed = client.patch(f"{url}/{new_id}", json={"role": "manager"}, headers=admin.headers)
    assert changed.status_code == 200 and changed.json()["role"] == "manager"
    bad = client.patch(f"{url}/{new_id}", json={"role": "emperor"}, headers=admin.headers)
    assert bad.status_code == 422
    me = client.get("/api/v1/me", headers=admin.headers).json()
    admin_id = me["user_id"]
    selfish = client.patch(f"{url}/{admin_id}", json={"role": "owner"}, headers=admin.headers)
    assert selfish.status_code == 422
    assert client.delete(f"{url}/{admin_id}", headers=admin.headers).status_code == 422

    rep_id = next(m["user_id"] for m in client.get(url, headers=admin.headers).json()["items"]
                  if m["email"] == rep.email)  # fmt: skip
    assert client.get("/api/v1/contacts", headers=rep.headers).status_code == 200
    assert client.delete(f"{url}/{rep_id}", headers=admin.headers).status_code == 204
    assert client.get("/api/v1/contacts", headers=rep.headers).status_code == 401
    emails = {m["email"] for m in client.get(url, headers=admin.headers).json()["items"]}
    assert rep.email not in emails and "new.person@acme.example.com" in emails

    actions = [e.action for e in audit_entries(runtime, "acme") if e.action.startswith("user.")]
    assert actions == ["user.deactivate", "user.role_change", "user.invite", "user.invite"]
