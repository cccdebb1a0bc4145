"""Record lists: filters, search, and cursor pagination that neither repeats nor skips."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.services import record_search
from tests.factories import make_account, make_contact, make_lead
from tests.fixtures.web import TenantFactory


def _walk(
    client: TestClient, url: str, headers: dict[str, str], limit: int
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


def test_walking_every_page_returns_each_item_once(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme", "read-only").headers
    with runtime.tenant_uow("acme") as uow:
        ids = [make_contact(uow).id for _ in range(23)]
        doomed = make_contact(uow)
        ids_leads = [make_lead(uow).id for _ in range(10)]
    client_rep = tenants.member("acme", "rep").headers
    assert client.delete(f"/api/v1/contacts/{doomed.id}", headers=client_rep).status_code == 204

    for limit in (1, 5, 23, 200):
        items = _walk(client, "/api/v1/contacts", h, limit)
        assert [c["id"] for c in items] == ids
    assert [x["id"] for x in _walk(client, "/api/v1/leads", h, 3)] == ids_leads
    # The default page size is 50 and a full last page says there is nothing more.
    page = client.get("/api/v1/contacts", params={"limit": 23}, headers=h).json()
    assert len(page["items"]) == 23 and page["next_cursor"] is None
    assert len(client.get("/api/v1/leads", headers=h).json()["items"]) == 10


def test_pages_stay_stable_when_records_are_added(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        first = [make_account(uow).id for _ in range(4)]
    page1 = client.get("/api/v1/accounts", params={"limit": 2}, headers=h).json()
    with runtime.tenant_uow("acme") as uow:
        later = make_account(uow).id
    page2 = client.get(
        "/api/v1/accounts", params={"limit": 10, "cursor": page1["next_cursor"]}, headers=h
    ).json()
    assert [a["id"] for a in page1["items"] + page2["items"]] == [*first, later]


# A word with few matches is answered from the indexes, one with many by a scan in id order
# that tests each row (record_search.SPARSE_LIMIT); both must find the same records.
@pytest.mark.parametrize("strategy", ["indexes", "scan"])
def test_search_by_name_email_and_company(
    client: TestClient,
    tenants: TenantFactory,
    runtime: Runtime,
    strategy: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if strategy == "scan":
        monkeypatch.setattr(record_search, "SPARSE_LIMIT", 0)
    h = tenants.member("acme").headers
    with runtime.tenant_uow("acme") as uow:
        globex = make_account(uow, name="Globex Corporation", domain="globex.com")
        hank = make_contact(
            uow,
            first_name="Hank",
            last_name="Scorpio",
            account_id=globex.id,
            emails=["hank@globex.com"],
        )
        homer = make_contact(uow, first_name="Homer", last_name="Simpson", emails=["hs@snpp.gov"])
        pct = make_contact(uow, first_name="100%", last_name="Under_score", emails=[])
        lead = make_lead(uow, first_name="Frank", last_name="Grimes", company="Power Plant")

    def ids(url: str, **params: Any) -> list[int]:
        response = client.get(url, params=params, headers=h)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids("/api/v1/contacts", q="hank") == [hank.id]
    assert ids("/api/v1/contacts", q="SIMPSON") == [homer.id]
    assert ids("/api/v1/contacts", q="snpp.gov") == [homer.id]
    assert ids("/api/v1/contacts", q="globex") == [hank.id]  # the account's name
    assert ids("/api/v1/contacts", q="hank scorpio") == [hank.id]
    assert ids("/api/v1/contacts", q="hank simpson") == []
    assert ids("/api/v1/contacts", q="100%") == [pct.id]  # LIKE wildcards are literal
    assert ids("/api/v1/contacts", q="sc_r") == []  # would match "Scorpio" as a wildcard
    assert ids("/api/v1/contacts", q="under_s") == [pct.id]
    assert ids("/api/v1/contacts", q="unde_") == []  # would match "Under_score" as a wildcard
    assert ids("/api/v1/contacts", q="1%") == []  # would match "100%" as a wildcard
    # A word matches the beginning of a field, an address or its domain, not its middle.
    assert ids("/api/v1/contacts", q="sco") == [hank.id]
    assert ids("/api/v1/contacts", q="corpio") == []
    assert ids("/api/v1/contacts", q="hank@glo") == [hank.id]
    assert ids("/api/v1/contacts", q="snpp") == [homer.id]
    assert ids("/api/v1/leads", q="plant") == []  # a later word of a field ...
    assert ids("/api/v1/leads", q="power plant") == [lead.id]  # ... is found with the whole
    assert ids("/api/v1/accounts", q="GLOBEX.COM") == [globex.id]
    assert ids("/api/v1/contacts", email="HANK@Globex.com") == [hank.id]
    assert ids("/api/v1/contacts", email="nobody@globex.com") == []


def test_filters(client: TestClient, tenants: TenantFactory, runtime: Runtime) -> None:
    rep = tenants.member("acme", "rep")
    h = rep.headers
    me = client.get("/api/v1/me", headers=h).json()["user_id"]
    with runtime.tenant_uow("acme") as uow:
        a1 = make_account(uow, domain="one.example")
        a2 = make_account(uow, domain="two.example", owner_user_id=me)
        c1 = make_contact(uow, account_id=a1.id)
        c2 = make_contact(uow, account_id=a2.id, owner_user_id=me)
        l1 = make_lead(uow, status="new")
        l2 = make_lead(uow, status="qualified", owner_user_id=me)

    def ids(url: str, **params: Any) -> list[int]:
        response = client.get(url, params=params, headers=h)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids("/api/v1/contacts", account_id=a1.id) == [c1.id]
    assert ids("/api/v1/contacts", owner_user_id=me) == [c2.id]
    assert ids("/api/v1/leads", status="qualified") == [l2.id]
    assert ids("/api/v1/leads", status="new") == [l1.id]
    assert ids("/api/v1/accounts", domain="TWO.example") == [a2.id]
    assert ids("/api/v1/accounts", owner_user_id=me) == [a2.id]
    assert ids("/api/v1/leads", owner_user_id=me, status="new") == []
