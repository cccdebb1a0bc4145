"""The tenant-isolation sweep: every route of the app (each OpenAPI path and every UI page,
hook and callback) with every method, called as tenant B's owner with tenant A's ids.

Ids repeat across tenant databases (both start at 1), so a 200 proves nothing either way; the
sweep judges by **content**: tenant A's rows all carry a marker string that appears nowhere
in tenant B, and no answer (body or headers) may contain it. Afterwards tenant A's database
must be exactly as before (nothing B did changed it). A route added later is swept without
touching this file. The figures (requests, route-and-method pairs) are printed for
docs/security.md.

Jobs: every registered task that works on one tenant must be told which; called with no, an
empty, a malformed or an unknown tenant it fails (closed) and touches no tenant's data.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.privacy_tables import ErasureRequestRow, ExportJobRow
from inboxcrm.adapters.db.sending_tables import OutboundMessageRow
from inboxcrm.adapters.db.tenant_tables import NeverLogEntryRow, TenantBase
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.jobs.registry import load_default_registry
from inboxcrm.jobs.worker_runtime import use_worker_runtime
from inboxcrm.services.audit import record_event
from inboxcrm.services.notifications import notify
from tests.factories import (
    make_account,
    make_contact,
    make_deal,
    make_email_message,
    make_lead,
    make_mail_account,
    make_note,
    make_thread,
)
from tests.fixtures.web import Member, TenantFactory
from tests.security.routes import app_routes

MARKER = "zqxalphasecret"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _seed_tenant_a(runtime: Runtime, user_id: int) -> dict[str, Any]:
    m = MARKER
    with runtime.tenant_uow("tenant-a") as uow:
        account = make_account(uow, name=f"{m} Holdings", emails=[f"ap@{m}.example"])
        contact = make_contact(
            uow,
            first_name=f"{m}first",
            last_name=f"{m}last",
            account_id=account.id,
            emails=[f"ceo@{m}.example"],
        )
        lead = make_lead(uow, first_name=f"{m}lead", last_name=m, emails=[f"lead@{m}.example"])
        deal = make_deal(uow, name=f"{m} renewal", account_id=account.id)
        note = make_note(uow, ("contact", contact.id), body=f"{m} confidential note")
        mailbox = make_mail_account(uow, user_id=user_id, email=f"rep@{m}.example")
        thread = make_thread(uow, mailbox, subject=f"{m} contract")
        message = make_email_message(
            uow,
            mail_account=mailbox,
            thread=thread,
            link_to=[("contact", contact.id), ("account", account.id), ("lead", lead.id)],
            subject=f"{m} contract",
            snippet=f"{m} snippet",
            body_text=f"{m} body text",
            body_html=f"<p>{m} body html</p>",
            from_address=f"ceo@{m}.example",
        )
        uow.session.add(NeverLogEntryRow(entry=f"{m}.example", created_by_user_id=user_id))
        notify(uow, user_id, "info", f"{m} notification", f"{m} notification body")
        # What the later routes show: a deleted record (restore), a sent and a failed message
        # (messages, retry, tracking), an export, an erasure request and the audit log.
        gone = make_contact(uow, last_name=f"{m}deleted", deleted_at=utcnow())
        outbound = OutboundMessageRow(
            mail_account_id=mailbox.id,
            sender_user_id=user_id,
            record_kind="contact",
            record_id=contact.id,
            status="failed",
            from_address=f"rep@{m}.example",
            to_addresses=[f"ceo@{m}.example"],
            subject=f"{m} outbound subject",
            body_text=f"{m} outbound body",
            message_id_header=f"<{m}@outbound.example>",
            error=f"{m} error",
        )
        export_job = ExportJobRow(
            requested_by_user_id=user_id, record_kind="contact", record_id=contact.id, counts={}
        )
        erasure_row = ErasureRequestRow(
            requested_by_user_id=user_id, subject=f"{m}:erased"[:40], note=f"{m} erasure"
        )
        uow.session.add_all([outbound, export_job, erasure_row])
        uow.session.flush()
        record_event(
            uow,
            action="record.delete",
            actor_user_id=user_id,
            target=f"contact:{gone.id}",
            details={"name": f"{m} audited"},
        )
        uow.commit()
        ids = [account.id, contact.id, lead.id, deal.id, note.id, mailbox.id, thread.id]
        ids.extend([message.id, gone.id, outbound.id, export_job.id, erasure_row.id])
    return {"ids": sorted(set(ids) | {1, 2}), "entry": f"{MARKER}.example"}


def _seed_tenant_b(runtime: Runtime) -> None:
    """Tenant B has rows under the same ids, without the marker."""
    with runtime.tenant_uow("tenant-b") as uow:
        for _ in range(3):
            account = make_account(uow, name="Beta Corp")
            contact = make_contact(uow, last_name="Beta", account_id=account.id)
            make_lead(uow, last_name="Beta")
            make_deal(uow, name="Beta deal", account_id=account.id)
            make_note(uow, ("contact", contact.id), body="beta note")
            mailbox = make_mail_account(uow, email=f"rep{contact.id}@beta.example")
            make_email_message(uow, mail_account=mailbox, link_to=[("contact", contact.id)])


def _snapshot(runtime: Runtime, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a tenant database."""
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with runtime.tenant_uow(tenant) as uow:
        for table in TenantBase.metadata.sorted_tables:
            rows = uow.session.execute(select(table)).all()
            dump[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return dump


def _urls(path: str, int_names: list[str], ids: list[int], entry: str) -> list[str]:
    names = re.findall(r"\{([^}:]+)(?::[^}]*)?\}", path)
    if not names:
        return [path]
    urls = []
    for value in ids:
        url = path
        for name in names:
            filled = str(value) if name in int_names else entry
            url = re.sub(r"\{" + re.escape(name) + r"(?::[^}]*)?\}", filled, url)
        urls.append(url)
    return list(dict.fromkeys(urls))


def _user_id(client: TestClient, member: Member) -> int:
    return int(client.get("/api/v1/me", headers=member.headers).json()["user_id"])


def test_tenant_b_sees_and_changes_nothing_of_tenant_a_on_any_route(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    owner_a = tenants.member("tenant-a", "owner")
    owner_b = tenants.member("tenant-b", "owner")
    seeded = _seed_tenant_a(runtime, _user_id(client, owner_a))
    _seed_tenant_b(runtime)
    # The marker really is visible to A (so its absence for B means something).
    timeline = client.get(f"/api/v1/contacts/{seeded['ids'][0]}/timeline", headers=owner_a.headers)
    assert MARKER in client.get("/api/v1/contacts", headers=owner_a.headers).text
    assert timeline.status_code in (200, 404)
    before = _snapshot(runtime, "tenant-a")

    pairs: set[tuple[str, str]] = set()
    requests = 0
    leaks: list[str] = []
    server_errors: list[str] = []
    for route in app_routes(client.app):  # type: ignore[arg-type]
        path_ints, _ = route.int_params()
        for method in METHODS:
            pairs.add((method, route.path))
            for url in _urls(route.path, path_ints, seeded["ids"], seeded["entry"]):
                if url.startswith("/api/"):
                    answer = client.request(method, url, json={}, headers=owner_b.headers)
                else:
                    answer = client.request(
                        method,
                        url,
                        data={"csrf_token": "x"},
                        headers=owner_b.headers,
                        follow_redirects=False,
                    )
                requests += 1
                seen = (answer.text + " " + " ".join(answer.headers.values())).lower()
                if seeded["entry"] in url:
                    # B named A's value itself: an echo of B's own input is no leak, but the
                    # answer must be the one for a value that exists nowhere.
                    control = url.replace(seeded["entry"], "absent-everywhere.example")
                    twin = client.request(method, control, json={}, headers=owner_b.headers)
                    if twin.status_code != answer.status_code:
                        leaks.append(
                            f"{method} {url} -> {answer.status_code} (absent: {twin.status_code})"
                        )
                    seen = seen.replace(seeded["entry"], "")
                if MARKER in seen:
                    leaks.append(f"{method} {url} -> {answer.status_code}")
                if answer.status_code >= 500:
                    server_errors.append(f"{method} {url} -> {answer.status_code}")
    print(
        f"\ntenant sweep: {len(pairs)} route x method pairs, {requests} requests, "
        f"{len(leaks)} leaks"
    )
    app = client.app
    app.openapi_schema = None  # type: ignore[attr-defined]
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in operations
    }
    assert documented <= pairs, documented - pairs  # every OpenAPI operation was swept
    assert leaks == []
    assert server_errors == []
    assert _snapshot(runtime, "tenant-a") == before
    assert len(pairs) >= 350 and requests >= 800


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tenant_scoped_jobs_fail_closed_without_a_valid_tenant(
    runtime: Runtime, tenants: TenantFactory
) -> None:
    tenants.member("tenant-a", "owner")
    owner_id_less = _seed_tenant_a(runtime, 1)
    assert owner_id_less["ids"]
    before = _snapshot(runtime, "tenant-a")
    registry = load_default_registry()
    scoped = {
        name: spec
        for name, spec in registry.tasks().items()
        if {"tenant", "tenant_slug"} & set(inspect.signature(spec.func).parameters)
    }
    assert len(scoped) >= 3
    previous = use_worker_runtime(runtime)
    try:
        for name, spec in scoped.items():
            params = inspect.signature(spec.func).parameters
            tenant_param = "tenant" if "tenant" in params else "tenant_slug"
            assert params[tenant_param].default is inspect.Parameter.empty, name
            others = {
                p: (["someone@example.com"] if "address" in p else 1)
                for p, info in params.items()
                if p != tenant_param and info.default is inspect.Parameter.empty
            }
            with pytest.raises(TypeError):
                spec.func(**others)  # no tenant at all
            for bad in (None, "", "../tenant-a", "TENANT-A", "ghost-tenant"):
                if name.endswith("provision_tenant_database"):
                    # Provisioning acts only on a tenant of the control plane; any other name
                    # is a logged no-op (the snapshot below proves it touched nothing).
                    spec.func(**{tenant_param: bad})
                    continue
                with pytest.raises(Exception, match=r".") as raised:
                    spec.func(**{tenant_param: bad}, **others)
                assert raised.value is not None, (name, bad)
    finally:
        use_worker_runtime(previous)
    assert _snapshot(runtime, "tenant-a") == before
