"""Privacy paths with colleagues' copies of one email: an ``email`` timeline entry points at the
message's tenant-wide identity (``email_message_keys``), not at one copy, so delete, restore,
purge, erasure and export act on every copy of the messages the record shows, and on nothing
else. The world is built so that identity ids and copy ids differ."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from inboxcrm.adapters.db.dedup_tables import EmailMessageKeyRow
from inboxcrm.adapters.db.tenant_tables import ActivityRow, EmailMessageRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.export import export_to_directory
from inboxcrm.services.retention import purge_all
from tests.factories import make_contact, make_email_message, make_mail_account
from tests.fixtures.web import TenantFactory


def _world(runtime: Runtime) -> dict[str, int]:
    """A contact whose timeline shows two emails; the first is held by two mailboxes (two
    copies, one identity). Another contact's email lies in between, so ids do not line up."""
    with runtime.tenant_uow("acme") as uow:
        mine = make_mail_account(uow, user_id=1)
        colleague = make_mail_account(uow, user_id=2)
        ann = make_contact(uow, emails=["ann@customer.example"])
        bob = make_contact(uow, emails=["bob@customer.example"])
        make_email_message(uow, mail_account=mine, link_to=[("contact", bob.id)], subject="Bob")
        copy = {
            "message_id_header": "<shared-1@customer.example>",
            "from_address": "ann@customer.example",
            "subject": "Shared",
        }
        first = make_email_message(uow, mail_account=mine, link_to=[("contact", ann.id)], **copy)
        second = make_email_message(uow, mail_account=colleague, **copy)
        assert first.message_key_id == second.message_key_id
        make_email_message(
            uow, mail_account=colleague, link_to=[("contact", ann.id)], subject="Own"
        )
    return {"ann": ann.id, "bob": bob.id}


def _messages(runtime: Runtime, *where: object) -> int:
    with runtime.tenant_uow("acme") as uow:
        query = select(func.count()).select_from(EmailMessageRow).where(*where)
        return int(uow.session.scalar(query) or 0)


def _subjects(runtime: Runtime, *where: object) -> list[str]:
    with runtime.tenant_uow("acme") as uow:
        return sorted(uow.session.scalars(select(EmailMessageRow.subject).where(*where)))


def test_delete_restore_and_purge_act_on_every_copy_of_the_records_mail(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    ids = _world(runtime)
    ann = f"/api/v1/contacts/{ids['ann']}"
    assert client.delete(ann, headers=admin.headers).status_code == 204
    hidden = EmailMessageRow.deleted_at.is_not(None)
    assert _subjects(runtime, hidden) == ["Own", "Shared", "Shared"]

    assert client.post(f"{ann}/restore", headers=admin.headers).status_code == 200
    assert _messages(runtime, hidden) == 0

    assert client.delete(ann, headers=admin.headers).status_code == 204
    (report,) = purge_all(runtime, tenant="acme", force=True)
    assert report.messages == 3
    assert _subjects(runtime) == ["Bob"]
    with runtime.tenant_uow("acme") as uow:
        keys = uow.session.scalar(select(func.count()).select_from(EmailMessageKeyRow))
        entries = list(uow.session.scalars(select(ActivityRow.record_id)))
    assert keys == 1  # Bob's message's identity only
    assert entries == [ids["bob"]]


def test_erasing_a_record_removes_every_copy_of_the_mail_only_it_showed(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    ids = _world(runtime)
    answer = client.post(
        "/api/v1/erasure-requests",
        json={"record": {"type": "contact", "id": ids["ann"]}},
        headers=admin.headers,
    )
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["deleted"]["messages"] == 3
    assert _subjects(runtime) == ["Bob"]
    timeline = client.get(f"/api/v1/contacts/{ids['bob']}/timeline", headers=admin.headers)
    assert [i["subject"] for i in timeline.json()["items"] if i["kind"] == "email"] == ["Bob"]


def test_a_record_export_names_the_records_own_mail_once_per_message(
    tenants: TenantFactory, runtime: Runtime, tmp_path: Path
) -> None:
    tenants.member("acme", "admin")
    ids = _world(runtime)
    result = export_to_directory(runtime, "acme", tmp_path, record=("contact", ids["ann"]))
    assert result.messages == 2
    box = mailbox.mbox(str(tmp_path / "mail.mbox"), create=False)
    try:
        subjects = sorted(str(m["Subject"]) for m in box)
    finally:
        box.close()
    assert subjects == ["Own", "Shared"]
    (record,) = json.loads((tmp_path / "export.json").read_text())["records"]
    emails = [t for t in record["timeline"] if t["kind"] == "email"]
    assert sorted(t["subject"] for t in emails) == ["Own", "Shared"]
