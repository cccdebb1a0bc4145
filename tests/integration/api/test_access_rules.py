"""Tenant isolation and roles, checked on every route the app has (new routes are covered too).

- A member of tenant A gets 404 for every id of tenant B's records on every ``{id}`` route.
- A read-only member can read, and gets 403 on every write to the CRM resources.
- Nobody without credentials gets anything.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from tests.factories import make_account, make_contact, make_deal, make_lead, make_note
from tests.fixtures.web import TenantFactory

API = "/api/v1/"
CRM_RESOURCES = ("leads", "contacts", "accounts", "deals", "notes")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _api_routes(client: TestClient) -> Iterator[tuple[str, str]]:
    """Every (method, path template) of the API, from the app's own route table.

    FastAPI keeps included routers nested in ``app.routes``; the OpenAPI document it builds
    from them is the public, flattened view, and every API route is in it.
    """
    app = client.app
    assert isinstance(app, FastAPI)
    app.openapi_schema = None  # rebuild from the current routes
    for path, operations in app.openapi()["paths"].items():
        if path.startswith(API):
            for method in sorted(operations):
                yield method.upper(), path


def _resource(path: str) -> str:
    return path.removeprefix(API).split("/")[0]


def _seed(runtime: Runtime, tenant: str) -> dict[str, int]:
    with runtime.tenant_uow(tenant) as uow:
        account = make_account(uow)
        contact = make_contact(uow, account_id=account.id)
        lead = make_lead(uow)
        deal = make_deal(uow, account_id=account.id)
        note = make_note(uow, ("contact", contact.id))
    return {
        "accounts": account.id,
        "contacts": contact.id,
        "leads": lead.id,
        "deals": deal.id,
        "notes": note.id,
    }


def test_other_tenants_ids_are_404_on_every_id_route(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    owner_a = tenants.member("tenant-a", "owner")
    owner_b = tenants.member("tenant-b", "owner")
    # Tenant B holds several of each, so its ids are not the first ones.
    for _ in range(3):
        ids_b = _seed(runtime, "tenant-b")
    before = {
        r: client.get(f"{API}{r}/{i}", headers=owner_b.headers).json() for r, i in ids_b.items()
    }

    user_b = int(client.get(f"{API}me", headers=owner_b.headers).json()["user_id"])
    # Support staff's read routes answer every member 403 before any id is looked at
    # (tests/integration/message_actions/test_staff_reads_flagged_mail.py covers them).
    routes = [
        (m, p) for m, p in _api_routes(client) if "{id}" in p and not p.startswith(f"{API}support/")
    ]
    assert len(routes) >= 18  # GET/PATCH/DELETE of five resources and three timelines
    for method, path in routes:
        resource = _resource(path)
        # Resources this test does not know yet: id 1 exists in no table of tenant A either.
        # Users are global ids: tenant B's owner is a user, but no member of tenant A.
        record_id = user_b if resource == "users" else ids_b.get(resource, 1)
        url = path.replace("{id}", str(record_id))
        body: dict[str, object] = {}
        if resource == "users":
            body = {"role": "rep"}  # a role change needs a role
        elif path.endswith("/support-flag"):
            body = {"reason": "a support question", "hours": 1}  # a flag needs its reason
        elif path.endswith("/authorize-scopes"):
            body = {"features": ["contacts"]}  # an opt-in names its features
        response = client.request(method, url, json=body, headers=owner_a.headers)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert str(record_id) not in response.json().get("title", "")

    after = {
        r: client.get(f"{API}{r}/{i}", headers=owner_b.headers).json() for r, i in ids_b.items()
    }
    assert after == before
    # And lists never show another tenant's rows.
    for resource in CRM_RESOURCES:
        assert client.get(f"{API}{resource}", headers=owner_a.headers).json()["items"] == []


def test_read_only_member_reads_but_cannot_write(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    viewer = tenants.member("acme", "read-only")
    ids = _seed(runtime, "acme")
    routes = [(m, p) for m, p in _api_routes(client) if _resource(p) in CRM_RESOURCES]

    writes = [(m, p) for m, p in routes if m in WRITE_METHODS]
    assert len(writes) >= 15
    for method, path in writes:
        url = path.replace("{id}", str(ids[_resource(path)]))
        response = client.request(method, url, json={}, headers=viewer.headers)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["code"] == "permission_denied"

    reads = [(m, p) for m, p in routes if m == "GET"]
    for method, path in reads:
        url = path.replace("{id}", str(ids[_resource(path)]))
        assert client.request(method, url, headers=viewer.headers).status_code == 200, url
    # Nothing changed.
    for resource, record_id in ids.items():
        assert client.get(f"{API}{resource}/{record_id}", headers=viewer.headers).status_code == 200


def test_every_route_needs_credentials(client: TestClient, tenants: TenantFactory) -> None:
    tenants.member("acme")
    for method, path in _api_routes(client):
        url = path.replace("{id}", "1")
        response = client.request(method, url, json={})
        assert response.status_code == 401, (method, url, response.status_code)
