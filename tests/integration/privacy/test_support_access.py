"""Support access: staff get 403 on every tenant route without a live grant; with one they can
read (each request audited in the tenant's log) but not write; after expiry or revocation, 403."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from inboxcrm.adapters.db.staff_tables import SupportGrantRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from tests.fixtures.web import TenantFactory
from tests.integration.privacy.audit_helpers import audit_entries
from tests.integration.privacy.conftest import CliInvoker

_PARAM = re.compile(r"\{[^}]+\}")


def _tenant_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the API that needs a signed-in member (401 without one)."""
    found = []
    paths = client.get("/openapi.json").json()["paths"]
    for template, operations in sorted(paths.items()):
        if not template.startswith("/api/v1"):
            continue
        path = _PARAM.sub("1", template)
        for method in sorted(m.upper() for m in operations if m != "parameters"):
            anonymous = client.request(method, path)
            if anonymous.status_code == 401:
                found.append((method, path))
    return found


def _staff_headers(token: str, tenant: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Inboxcrm-Tenant": tenant}


def test_staff_need_a_live_grant_for_every_tenant_route(
    client: TestClient, tenants: TenantFactory, runtime: Runtime, cli: CliInvoker
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    tenants.member("other", "admin")
    assert cli(["staff", "--help"]).exit_code == 0
    created = cli(
        ["staff", "create", "--email", "help@inboxcrm.example", "--password", "s3cret-pass"]
    )
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("icrmstaff_")
    staff = _staff_headers(token)

    routes = _tenant_routes(client)
    assert len(routes) > 30
    refused = {(m, p): client.request(m, p, headers=staff).status_code for m, p in routes}
    assert set(refused.values()) == {403}, {k: v for k, v in refused.items() if v != 403}

    grants = "/api/v1/support-grants"
    assert (
        client.post(
            grants, json={"hours": 2, "reason": "ticket 42"}, headers=rep.headers
        ).status_code
        == 403
    )
    too_long = client.post(grants, json={"hours": 1000, "reason": "x" * 10}, headers=admin.headers)
    assert too_long.status_code == 422
    grant = client.post(grants, json={"hours": 2, "reason": "ticket 42"}, headers=admin.headers)
    assert grant.status_code == 201, grant.text
    assert grant.json()["live"] is True

    assert client.get("/api/v1/contacts", headers=staff).status_code == 200
    assert client.get("/api/v1/leads", headers=staff).status_code == 200
    write = client.post("/api/v1/contacts", json={"last_name": "X"}, headers=staff)
    assert write.status_code == 403
    assert client.get("/api/v1/contacts", headers=_staff_headers(token, "other")).status_code == 403
    assert (
        client.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )
    accesses = audit_entries(runtime, "acme", "support.access")
    assert [(e.details["method"], e.details["path"]) for e in accesses] == [
        ("GET", "/api/v1/leads"),
        ("GET", "/api/v1/contacts"),
    ]
    assert all(e.actor_kind == "staff" for e in accesses)
    listed = client.get(grants, headers=admin.headers).json()["items"]
    assert [g["reason"] for g in listed] == ["ticket 42"]

    with runtime.control_uow() as uow:
        uow.session.execute(
            update(SupportGrantRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        uow.commit()
    assert client.get("/api/v1/contacts", headers=staff).status_code == 403

    second = client.post(grants, json={"hours": 1, "reason": "ticket 43"}, headers=admin.headers)
    assert client.get("/api/v1/contacts", headers=staff).status_code == 200
    revoked = client.delete(f"{grants}/{second.json()['id']}", headers=admin.headers)
    assert revoked.status_code == 200 and revoked.json()["live"] is False
    assert client.get("/api/v1/contacts", headers=staff).status_code == 403
    tenant_actions = [e.action for e in audit_entries(runtime, "acme")]
    assert tenant_actions.count("support_grant.create") == 2
    assert "support_grant.revoke" in tenant_actions
    denied = [e for e in audit_entries(runtime, None, "support.access") if e.outcome == "denied"]
    assert len(denied) >= len(routes)


def test_the_privacy_page_shows_grants_and_staff_requests(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    from inboxcrm.services.support_access import create_staff
    from tests.integration.ui.ui_session import sign_in

    admin = tenants.member("acme", "admin")
    _, token = create_staff(runtime, email="desk@inboxcrm.example", password="desk-password")
    grant = client.post(
        "/api/v1/support-grants", json={"hours": 3, "reason": "ticket 77"}, headers=admin.headers
    )
    assert grant.status_code == 201
    assert client.get("/api/v1/deals", headers=_staff_headers(token)).status_code == 200
    sign_in(client, admin)
    page = client.get("/setup/privacy")
    assert page.status_code == 200
    assert "ticket 77" in page.text and "active" in page.text
    assert "GET /api/v1/deals" in page.text
