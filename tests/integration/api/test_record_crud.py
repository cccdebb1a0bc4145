"""Leads, Contacts and Accounts through /api/v1: create, read, PATCH, soft delete, emails."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.web import TenantFactory


def test_contact_lifecycle_with_account_and_emails(
    client: TestClient, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    h = rep.headers
    account = client.post(
        "/api/v1/accounts",
        json={"name": "Initech", "domain": " WWW.Initech.COM. ", "emails": ["Sales@Initech.com"]},
        headers=h,
    )
    assert account.status_code == 201, account.text
    acc = account.json()
    assert acc["domain"] == "initech.com"
    assert acc["emails"] == ["sales@initech.com"]

    created = client.post(
        "/api/v1/contacts",
        json={
            "first_name": " Peter ",
            "last_name": "Gibbons",
            "title": "Engineer",
            "account_id": acc["id"],
            "emails": ["Peter@Initech.com", "peter@bücher.de"],
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["first_name"] == "Peter"
    assert contact["emails"] == ["peter@initech.com", "peter@xn--bcher-kva.de"]
    assert contact["account_id"] == acc["id"]
    assert contact["account_name"] == "Initech"
    assert contact["owner_user_id"] == client.get("/api/v1/me", headers=h).json()["user_id"]

    fetched = client.get(f"/api/v1/contacts/{contact['id']}", headers=h)
    assert fetched.status_code == 200
    assert fetched.json() == contact

    # PATCH changes only what was sent; emails replace the list; null clears a nullable field.
    patched = client.patch(
        f"/api/v1/contacts/{contact['id']}",
        json={"title": None, "emails": ["peter.g@initech.com", "PETER@initech.com"]},
        headers=h,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["title"] is None
    assert body["first_name"] == "Peter" and body["last_name"] == "Gibbons"
    assert body["emails"] == ["peter.g@initech.com", "peter@initech.com"]
    assert body["updated_at"] >= contact["updated_at"]

    deleted = client.delete(f"/api/v1/contacts/{contact['id']}", headers=h)
    assert deleted.status_code == 204
    assert deleted.content == b""
    for method in ("GET", "PATCH", "DELETE"):
        again = client.request(method, f"/api/v1/contacts/{contact['id']}", json={}, headers=h)
        assert again.status_code == 404, method
        assert again.json()["code"] == "not_found"
    assert client.get("/api/v1/contacts", headers=h).json()["items"] == []


def test_lead_and_account_crud(client: TestClient, tenants: TenantFactory) -> None:
    h = tenants.member("acme", "manager").headers
    lead = client.post(
        "/api/v1/leads",
        json={"last_name": "Doe", "company": "Umbrella", "status": "contacted", "source": "web"},
        headers=h,
    ).json()
    assert lead["status"] == "contacted" and lead["emails"] == [] and lead["first_name"] == ""
    lead = client.patch(
        f"/api/v1/leads/{lead['id']}",
        json={"status": "qualified", "emails": ["j@umbrella.io"]},
        headers=h,
    ).json()
    assert (lead["status"], lead["company"], lead["emails"]) == (
        "qualified",
        "Umbrella",
        ["j@umbrella.io"],
    )

    account = client.post("/api/v1/accounts", json={"name": "Umbrella"}, headers=h).json()
    assert account["domain"] is None and account["emails"] == []
    renamed = client.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"name": "Umbrella Corp", "domain": "umbrella.io"},
        headers=h,
    ).json()
    assert (renamed["name"], renamed["domain"]) == ("Umbrella Corp", "umbrella.io")
    assert client.delete(f"/api/v1/accounts/{account['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/accounts/{account['id']}", headers=h).status_code == 404
    assert client.delete(f"/api/v1/leads/{lead['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=h).status_code == 404


def test_email_rules(client: TestClient, tenants: TenantFactory) -> None:
    h = tenants.member("acme").headers
    # One address may belong to several records (of any kind).
    for path in ("/api/v1/contacts", "/api/v1/leads"):
        for _ in range(2):
            response = client.post(
                path, json={"first_name": "Shared", "emails": ["shared@ex.com"]}, headers=h
            )
            assert response.status_code == 201, response.text
    # The same address twice on one record is refused, whatever its spelling.
    twice = client.post(
        "/api/v1/contacts", json={"emails": ["dup@ex.com", " DUP@EX.COM "]}, headers=h
    )
    assert twice.status_code == 422
    assert twice.json()["field"] == "emails"
    contact = client.post("/api/v1/contacts", json={"emails": ["a@ex.com"]}, headers=h).json()
    patched = client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"emails": ["b@ex.com", "B@ex.com"]}, headers=h
    )
    assert patched.status_code == 422
    assert client.get(f"/api/v1/contacts/{contact['id']}", headers=h).json()["emails"] == [
        "a@ex.com"
    ]
    # A person record needs some name or address; an account needs a name.
    assert client.post("/api/v1/contacts", json={}, headers=h).status_code == 422
    assert client.post("/api/v1/leads", json={"first_name": "  "}, headers=h).status_code == 422
    assert client.post("/api/v1/accounts", json={"name": ""}, headers=h).status_code == 422
    assert (
        client.patch(
            f"/api/v1/contacts/{contact['id']}", json={"emails": []}, headers=h
        ).status_code
        == 422
    )


def test_contact_account_must_exist_in_tenant(client: TestClient, tenants: TenantFactory) -> None:
    h = tenants.member("acme").headers
    account = client.post("/api/v1/accounts", json={"name": "Gone"}, headers=h).json()
    client.delete(f"/api/v1/accounts/{account['id']}", headers=h)
    for account_id in (account["id"], 999):
        response = client.post(
            "/api/v1/contacts", json={"last_name": "X", "account_id": account_id}, headers=h
        )
        assert response.status_code == 422
        assert response.json()["field"] == "account_id"
    contact = client.post("/api/v1/contacts", json={"last_name": "X"}, headers=h).json()
    assert (
        client.patch(
            f"/api/v1/contacts/{contact['id']}", json={"account_id": 999}, headers=h
        ).status_code
        == 422
    )
    # Non-nullable fields refuse an explicit null instead of storing it.
    refused = client.patch(f"/api/v1/contacts/{contact['id']}", json={"last_name": None}, headers=h)
    assert refused.status_code == 422
    assert refused.json()["field"] == "last_name"
