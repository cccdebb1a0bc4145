"""Deletion on request: an address or a record is erased with its mail and every copy of the
address, the address goes on the never-log list, the answer says what went; audited."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import (
    AccountRow,
    EmailMessageRow,
    LeadRow,
    MailLedgerRow,
    NeverLogEntryRow,
    RecordEmailRow,
)
from inboxcrm.bootstrap import Runtime
from tests.factories import (
    make_account,
    make_contact,
    make_email_message,
    make_lead,
    make_mail_account,
)
from tests.fixtures.web import TenantFactory
from tests.integration.privacy.audit_helpers import audit_entries
from tests.integration.privacy.residue import residue


def test_erasing_an_address_and_then_a_record(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    rep = tenants.member("acme", "rep")
    tag = uuid.uuid4().hex[:10]
    with runtime.tenant_uow("acme") as uow:
        box = make_mail_account(uow, user_id=1)
        ann = make_contact(uow, emails=["ann@person.example"])
        globex = make_account(
            uow, name="Globex", emails=["info@globex.example", "ann@person.example"]
        )
        lee = make_lead(uow, emails=["lee@lead.example"])
        make_email_message(
            uow,
            mail_account=box,
            from_address="ann@person.example",
            subject=f"ANNMAIL{tag}",
            link_to=[("contact", ann.id), ("account", globex.id)],
        )
        make_email_message(
            uow,
            mail_account=box,
            from_address="lee@lead.example",
            cc_addresses=["ann@person.example"],
            subject=f"CCMAIL{tag}",
            link_to=[("lead", lee.id)],
        )
        kept = make_email_message(
            uow,
            mail_account=box,
            from_address="lee@lead.example",
            subject=f"LEEMAIL{tag}",
            link_to=[("lead", lee.id)],
        )
        uow.session.add(
            MailLedgerRow(
                mail_account_id=box.id,
                provider_message_id="skipped-1",
                outcome="skipped",
                reason="unmatched",
                detail="from ann@person.example",
            )
        )
        uow.commit()

    url = "/api/v1/erasure-requests"
    assert (
        client.post(url, json={"address": "ann@person.example"}, headers=rep.headers).status_code
        == 403
    )
    both = {"address": "ann@person.example", "record": {"type": "lead", "id": lee.id}}
    assert client.post(url, json=both, headers=admin.headers).status_code == 422
    assert (
        client.post(url, json={"address": "not an address"}, headers=admin.headers).status_code
        == 422
    )

    erased = client.post(url, json={"address": "Ann@Person.Example"}, headers=admin.headers)
    assert erased.status_code == 201, erased.text
    answer = erased.json()
    assert answer["deleted"]["records"] == 1
    assert answer["deleted"]["messages"] == 2
    assert answer["deleted"]["ledger_rows"] == 1
    assert answer["never_log_added"] == 1

    assert client.get(f"/api/v1/contacts/{ann.id}", headers=admin.headers).status_code == 404
    account = client.get(f"/api/v1/accounts/{globex.id}", headers=admin.headers).json()
    assert account["emails"] == ["info@globex.example"]
    with runtime.tenant_uow("acme") as uow:
        subjects = set(uow.session.scalars(select(EmailMessageRow.subject)))
        never_log = set(uow.session.scalars(select(NeverLogEntryRow.entry)))
        holders = uow.session.scalars(
            select(RecordEmailRow).where(RecordEmailRow.email == "ann@person.example")
        ).all()
        assert uow.session.get(AccountRow, globex.id) is not None
    assert subjects == {kept.subject}
    assert "ann@person.example" in never_log and holders == []
    assert residue(runtime, "acme", [f"ANNMAIL{tag}", f"CCMAIL{tag}"]) == {}

    by_record = client.post(
        url, json={"record": {"type": "lead", "id": lee.id}}, headers=admin.headers
    )
    assert by_record.status_code == 201, by_record.text
    assert by_record.json()["deleted"]["messages"] == 1
    with runtime.tenant_uow("acme") as uow:
        assert uow.session.get(LeadRow, lee.id) is None
        assert uow.session.scalar(select(EmailMessageRow.id)) is None
        assert "lee@lead.example" in set(uow.session.scalars(select(NeverLogEntryRow.entry)))

    listed = client.get(url, headers=admin.headers).json()["items"]
    assert [i["subject"] for i in listed] == [f"lead:{lee.id}", "address"]
    entries = audit_entries(runtime, "acme", "erasure.request")
    assert len(entries) == 2 and entries[1].details["messages"] == 2
    assert "person.example" not in str(entries)
