"""Retention: soft delete hides a record and the mail only it showed, an admin restores it within
the grace period, and ``inboxcrm purge --now`` really deletes (a byte scan of the database files
finds nothing of the purged mail), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    ContactRow,
    EmailMessageRow,
    EmailThreadRow,
    MailLedgerRow,
    RecordEmailRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.retention import purge_all
from tests.factories import make_contact, make_email_message, make_mail_account, make_thread
from tests.fixtures.web import TenantFactory
from tests.integration.privacy.audit_helpers import audit_entries
from tests.integration.privacy.conftest import CliInvoker
from tests.integration.privacy.residue import residue


def _timeline_ids(client: TestClient, headers: dict[str, str], contact_id: int) -> list[str]:
    response = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=headers)
    assert response.status_code == 200, response.text
    return [i["provider_message_id"] for i in response.json()["items"] if i["kind"] == "email"]


def _count(runtime: Runtime, table: type, *where: object) -> int:
    with runtime.tenant_uow("acme") as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def test_delete_hides_only_the_records_own_mail_and_restore_brings_it_back(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        mailbox = make_mail_account(uow, user_id=1)
        alone = make_contact(uow, emails=["alone@example.org"])
        other = make_contact(uow, emails=["other@example.org"])
        only_here = make_email_message(uow, mail_account=mailbox, link_to=[("contact", alone.id)])
        shared = make_email_message(
            uow, mail_account=mailbox, link_to=[("contact", alone.id), ("contact", other.id)]
        )
    own_id, shared_id = only_here.provider_message_id, shared.provider_message_id
    assert set(_timeline_ids(client, admin.headers, alone.id)) == {own_id, shared_id}

    assert client.delete(f"/api/v1/contacts/{alone.id}", headers=rep.headers).status_code == 204
    assert client.get(f"/api/v1/contacts/{alone.id}", headers=admin.headers).status_code == 404
    listed = client.get("/api/v1/contacts", headers=admin.headers).json()["items"]
    assert [c["id"] for c in listed] == [other.id]
    assert _timeline_ids(client, admin.headers, other.id) == [shared_id]
    hidden = _count(runtime, EmailMessageRow, EmailMessageRow.deleted_at.is_not(None))
    assert hidden == 1  # only the message no live record shows

    restore = f"/api/v1/contacts/{alone.id}/restore"
    assert client.post(restore, headers=rep.headers).status_code == 403
    restored = client.post(restore, headers=admin.headers)
    assert restored.status_code == 200, restored.text
    assert restored.json()["emails"] == ["alone@example.org"]
    assert set(_timeline_ids(client, admin.headers, alone.id)) == {own_id, shared_id}
    assert _count(runtime, EmailMessageRow, EmailMessageRow.deleted_at.is_not(None)) == 0
    again = client.post(restore, headers=admin.headers)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")

    actions = [e.action for e in audit_entries(runtime, "acme") if e.action.startswith("record.")]
    assert actions == ["record.restore", "record.delete"]


def test_restore_is_refused_after_the_grace_period_and_purge_waits_for_it(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    with runtime.tenant_uow("acme") as uow:
        recent = make_contact(uow, emails=["recent@example.org"])
        old = make_contact(uow, emails=["old@example.org"])
        make_email_message(uow, link_to=[("contact", old.id)])
    for contact in (recent, old):
        assert client.delete(f"/api/v1/contacts/{contact.id}", headers=admin.headers).status_code
    grace = runtime.settings.record_deletion_grace_days
    long_ago = utcnow() - timedelta(days=grace + 1)
    with runtime.tenant_uow("acme") as uow:
        for table in (ContactRow, EmailMessageRow):
            uow.session.execute(
                update(table).where(table.deleted_at.is_not(None)).values(deleted_at=long_ago)
            )
        uow.session.execute(
            update(ContactRow).where(ContactRow.id == recent.id).values(deleted_at=utcnow())
        )
        uow.commit()
    late = client.post(f"/api/v1/contacts/{old.id}/restore", headers=admin.headers)
    assert late.status_code == 404

    (report,) = purge_all(runtime, tenant="acme")
    assert (report.records, report.messages) == (1, 1)
    assert _count(runtime, ContactRow) == 1  # the recently deleted one waits for its grace
    assert _count(runtime, RecordEmailRow, RecordEmailRow.email == "old@example.org") == 0
    ok = client.post(f"/api/v1/contacts/{recent.id}/restore", headers=admin.headers)
    assert ok.status_code == 200


def test_purge_leaves_no_bytes_of_deleted_mail_in_the_database_files(
    client: TestClient, tenants: TenantFactory, runtime: Runtime, cli: CliInvoker
) -> None:
    admin = tenants.member("acme", "admin")
    tag = uuid.uuid4().hex[:12]
    deleted_markers = [f"GMID{tag}a", f"SUBJ{tag}a", f"BODY{tag}a", f"SNIP{tag}a", f"THRD{tag}a"]
    gone_markers = [f"GMID{tag}b", f"SUBJ{tag}b", f"BODY{tag}b", f"SNIP{tag}b"]
    kept_marker = f"KEEP{tag}c"
    with runtime.tenant_uow("acme") as uow:
        mailbox = make_mail_account(uow, user_id=1)
        contact = make_contact(uow, emails=["subject@example.org"])
        survivor = make_contact(uow, emails=["survivor@example.org"])
        thread = make_thread(uow, mailbox, provider_thread_id=deleted_markers[4])
        make_email_message(
            uow,
            mail_account=mailbox,
            thread=thread,
            link_to=[("contact", contact.id)],
            provider_message_id=deleted_markers[0],
            subject=deleted_markers[1],
            body_text=deleted_markers[2],
            snippet=deleted_markers[3],
        )
        uow.session.add(
            MailLedgerRow(
                mail_account_id=mailbox.id,
                provider_message_id=deleted_markers[0],
                provider_thread_id=deleted_markers[4],
                outcome="stored",
            )
        )
        make_email_message(
            uow, mail_account=mailbox, link_to=[("contact", survivor.id)], subject=kept_marker
        )
        gone = make_mail_account(
            uow, user_id=2, status="disconnected", purge_after=utcnow() - timedelta(hours=1)
        )
        make_email_message(
            uow,
            mail_account=gone,
            link_to=[("contact", survivor.id)],
            provider_message_id=gone_markers[0],
            subject=gone_markers[1],
            body_text=gone_markers[2],
            snippet=gone_markers[3],
        )
        uow.commit()
    markers = deleted_markers + gone_markers
    assert sorted(residue(runtime, "acme", markers)) == sorted(markers)  # the scan sees them

    assert client.delete(f"/api/v1/contacts/{contact.id}", headers=admin.headers).status_code
    assert cli(["purge", "--help"]).exit_code == 0
    refused = cli(["purge"])
    assert refused.exit_code == 2
    result = cli(["purge", "--now", "--tenant", "acme", "--force"])
    assert result.exit_code == 0, result.output
    assert "acme: 1 record(s), 2 message(s), 1 mailbox(es) purged, vacuumed" in result.output

    assert residue(runtime, "acme", markers) == {}
    assert kept_marker in residue(runtime, "acme", [kept_marker])
    assert _count(runtime, EmailThreadRow, EmailThreadRow.provider_thread_id == markers[4]) == 0
    assert _count(runtime, ActivityRow, ActivityRow.record_id == contact.id) == 0
    assert [i["subject"] for i in _timeline(client, admin.headers, survivor.id)] == [kept_marker]
    purges = audit_entries(runtime, "acme", "retention.purge")
    assert purges[0].details == {"records": 1, "messages": 2, "accounts": 1, "forced": True}


def _timeline(client: TestClient, headers: dict[str, str], contact_id: int) -> list[dict[str, str]]:
    response = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=headers)
    items: list[dict[str, str]] = response.json()["items"]
    return items


def test_postgres_vacuum_waits_out_old_snapshots_and_a_later_purge_finishes_it(
    client: TestClient,
    tenants: TenantFactory,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if runtime.tenants.backend == "sqlite":
        pytest.skip("SQLite has no concurrent snapshots that keep deleted rows alive")
    admin = tenants.member("acme", "admin")
    marker = f"SNAPSHOT{uuid.uuid4().hex[:12]}"
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["held@example.org"])
        make_email_message(uow, link_to=[("contact", contact.id)], subject=marker)
    monkeypatch.setattr("inboxcrm.services.vacuum.PG_CLEAN_DEADLINE_SECONDS", 1.0)

    engine = runtime.tenants.engine("acme")
    with engine.connect() as reader:  # a transaction older than the deletion, holding no lock
        reader.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        reader.execute(text("SELECT 1")).scalar_one()
        assert client.delete(f"/api/v1/contacts/{contact.id}", headers=admin.headers).status_code
        blocked = purge_all(runtime, tenant="acme", force=True)
        assert blocked[0].messages == 1 and blocked[0].vacuumed is False
        assert marker in residue(runtime, "acme", [marker])
        reader.rollback()

    (later,) = purge_all(runtime, tenant="acme")
    assert later.messages == 0 and later.vacuumed is True
    assert residue(runtime, "acme", [marker]) == {}


def test_closed_tenants_lose_their_database_after_the_purge_period(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    from inboxcrm.adapters.db.control_tables import TenantRow
    from tests.integration.privacy.audit_helpers import actions

    for slug in ("gone", "recent", "open"):
        tenants.member(slug, "admin")
    days = runtime.settings.account_purge_days
    with runtime.control_uow() as uow:
        for slug, closed_at in (
            ("gone", utcnow() - timedelta(days=days + 1)),
            ("recent", utcnow()),
        ):
            uow.session.execute(
                update(TenantRow)
                .where(TenantRow.slug == slug)
                .values(status="closed", closed_at=closed_at)
            )
        uow.commit()
    reports = {r.tenant: r for r in purge_all(runtime)}
    assert reports["gone"].tenant_dropped and "recent" not in reports and "open" in reports
    with runtime.control_uow() as uow:
        rows = uow.session.execute(select(TenantRow.slug, TenantRow.status)).all()
    statuses = {str(slug): str(status) for slug, status in rows}
    assert statuses == {"gone": "purged", "recent": "closed", "open": "active"}
    assert runtime.tenants.create_database("gone") is True  # it was gone
    runtime.tenants.drop_database("gone")
    assert "tenant.purge" in actions(runtime, None)

    (forced,) = purge_all(runtime, tenant="recent", force=True)
    assert forced.tenant_dropped
