"""Deals and notes through /api/v1, including a note's entry on the record's timeline."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from tests.factories import make_account, make_contact, make_deal
from tests.fixtures.web import TenantFactory


def test_deal_lifecycle(client: TestClient, tenants: TenantFactory, runtime: Runtime) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        account = make_account(uow)
        contact = make_contact(uow, account_id=account.id)
    created = client.post(
        "/api/v1/deals",
        json={
            "name": "Renewal 2026",
            "amount": "12500.5",
            "currency": "eur",
            "close_date": "2026-06-30",
            "account_id": account.id,
        },
        headers=h,
    )
    assert created.status_code == 201, created.text
    deal = created.json()
    assert deal["amount"] == "12500.50"
    assert (deal["currency"], deal["stage"], deal["status"]) == ("EUR", "qualification", "open")
    assert deal["close_date"] == "2026-06-30"

    won = client.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"status": "won", "stage": "closing", "contact_id": contact.id, "amount": 99},
        headers=h,
    ).json()
    assert (won["status"], won["stage"], won["contact_id"], won["amount"]) == (
        "won",
        "closing",
        contact.id,
        "99.00",
    )
    assert won["account_id"] == account.id and won["name"] == "Renewal 2026"
    cleared = client.patch(f"/api/v1/deals/{deal['id']}", json={"amount": None}, headers=h)
    assert cleared.json()["amount"] is None

    assert client.delete(f"/api/v1/deals/{deal['id']}", headers=h).status_code == 204
    assert client.get(f"/api/v1/deals/{deal['id']}", headers=h).status_code == 404
    assert client.get("/api/v1/deals", headers=h).json()["items"] == []


def test_deal_rules(client: TestClient, tenants: TenantFactory, runtime: Runtime) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        account_id = make_account(uow).id
    base: dict[str, Any] = {"name": "D", "account_id": account_id}
    bad_bodies: list[dict[str, Any]] = [
        {"name": "No parent"},
        {**base, "account_id": 424242},
        {**base, "contact_id": 424242},
        {**base, "currency": "EURO"},
        {**base, "currency": "XYZ"},
        {**base, "currency": 978},
        {**base, "amount": "-1"},
        {**base, "amount": "1.005"},
        {**base, "amount": "1e20"},
        {**base, "amount": "NaN"},
        {**base, "amount": "Infinity"},
        {**base, "stage": "dreaming"},
        {**base, "status": "maybe"},
        {**base, "close_date": "2026-02-30"},
        {**base, "name": "x" * 201},
    ]
    for body in bad_bodies:
        response = client.post("/api/v1/deals", json=body, headers=h)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    deal = client.post("/api/v1/deals", json=base, headers=h).json()
    for patch in ({"name": None}, {"account_id": None}, {"currency": "usd1"}, {"stage": None}):
        response = client.patch(f"/api/v1/deals/{deal['id']}", json=patch, headers=h)
        assert response.status_code == 422, (patch, response.text)


def test_deal_filters_and_search(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        account = make_account(uow)
        contact = make_contact(uow)
        d1 = make_deal(uow, name="Alpha expansion", account_id=account.id, stage="proposal")
        d2 = make_deal(uow, name="Beta pilot", contact_id=contact.id, status="won")
        d3 = make_deal(uow, name="Alpha renewal", account_id=account.id, status="lost")

    def ids(**params: Any) -> list[int]:
        response = client.get("/api/v1/deals", params=params, headers=h)
        assert response.status_code == 200, response.text
        return [d["id"] for d in response.json()["items"]]

    assert ids(account_id=account.id) == [d1.id, d3.id]
    assert ids(contact_id=contact.id) == [d2.id]
    assert ids(status="won") == [d2.id]
    assert ids(stage="proposal") == [d1.id]
    assert ids(q="alpha") == [d1.id, d3.id]
    assert ids(q="alpha", status="lost") == [d3.id]
    assert ids(limit=2) == [d1.id, d2.id]


def test_notes_and_their_timeline_entries(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    alice = tenants.member("acme", "rep", email="alice@acme.example.com")
    bob = tenants.member("acme", "rep", email="bob@acme.example.com")
    boss = tenants.member("acme", "manager")
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow)
    created = client.post(
        "/api/v1/notes",
        json={"record_kind": "contact", "record_id": contact.id, "body": "Called.\nWants a demo."},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    note = created.json()
    alice_id = client.get("/api/v1/me", headers=alice.headers).json()["user_id"]
    assert note["author_user_id"] == alice_id
    assert note["body"] == "Called.\nWants a demo."

    timeline = client.get(f"/api/v1/contacts/{contact.id}/timeline", headers=bob.headers).json()
    (entry,) = timeline["items"]
    assert entry["kind"] == "note"
    assert entry["summary"] == "Called."
    assert entry["body"] == "Called.\nWants a demo."
    assert entry["author_user_id"] == alice_id

    # Only the author or a manager changes a note.
    url = f"/api/v1/notes/{note['id']}"
    assert client.patch(url, json={"body": "mine"}, headers=bob.headers).status_code == 403
    assert client.delete(url, headers=bob.headers).status_code == 403
    edited = client.patch(url, json={"body": "Demo booked"}, headers=alice.headers)
    assert edited.status_code == 200 and edited.json()["body"] == "Demo booked"
    timeline = client.get(f"/api/v1/contacts/{contact.id}/timeline", headers=bob.headers).json()
    assert timeline["items"][0]["summary"] == "Demo booked"

    listed = client.get(
        "/api/v1/notes",
        params={"record_kind": "contact", "record_id": contact.id},
        headers=bob.headers,
    ).json()
    assert [n["id"] for n in listed["items"]] == [note["id"]]

    assert client.delete(url, headers=boss.headers).status_code == 204
    assert client.get(url, headers=alice.headers).status_code == 404
    timeline = client.get(f"/api/v1/contacts/{contact.id}/timeline", headers=bob.headers).json()
    assert timeline["items"] == []


def test_notes_need_a_live_record(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow)
        account = make_account(uow)
    for body in (
        {"record_kind": "contact", "record_id": 999, "body": "x"},
        {"record_kind": "deal", "record_id": contact.id, "body": "x"},
        {"record_kind": "contact", "record_id": contact.id, "body": "   "},
        {"record_kind": "contact", "record_id": contact.id, "body": "x" * 20_001},
    ):
        response = client.post("/api/v1/notes", json=body, headers=h)
        assert response.status_code in (404, 422), (body, response.text)
    note = client.post(
        "/api/v1/notes",
        json={"record_kind": "account", "record_id": account.id, "body": "Kept"},
        headers=h,
    ).json()
    client.delete(f"/api/v1/accounts/{account.id}", headers=h)
    # The notes of a deleted record go with it.
    assert client.get(f"/api/v1/notes/{note['id']}", headers=h).status_code == 404
    assert client.get("/api/v1/notes", headers=h).json()["items"] == []
    listed = client.get(
        "/api/v1/notes", params={"record_kind": "account", "record_id": account.id}, headers=h
    )
    assert listed.status_code == 404
