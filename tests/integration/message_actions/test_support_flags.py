"""Flag for support: the owner flags one message (or thread) with a reason for a limited time and
withdraws it; the staff read check sees exactly the flagged mail of the mailbox; audited."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.support_flag_tables import SupportFlagRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import list_events
from inboxcrm.services.support_flags import staff_may_read
from tests.fixtures.web import TenantFactory
from tests.integration.message_actions.helpers import email_by_gmail_id
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, customer_mail


def test_flag_and_withdraw(
    mailroom: Mailroom, client: TestClient, runtime: Runtime, tenants: TenantFactory
) -> None:
    flagged_id = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Broken invoice"))["id"]
    other_id = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Private"))["id"]
    mailroom.sync()
    flagged = email_by_gmail_id(mailroom, flagged_id)["email_message_id"]
    other = email_by_gmail_id(mailroom, other_id)["email_message_id"]
    url = f"/api/v1/email-messages/{flagged}/support-flag"
    headers = mailroom.member.headers

    assert client.post(url, json={"reason": "  "}, headers=headers).status_code == 422
    assert client.post(url, json={"reason": "x", "hours": 0}, headers=headers).status_code == 422
    admin = tenants.member("acme", "admin")
    assert client.post(url, json={"reason": "x"}, headers=admin.headers).status_code == 403

    made = client.post(url, json={"reason": "Invoice renders blank", "hours": 24}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["target"] == f"email_message:{flagged}"
    with runtime.tenant_uow("acme") as uow:
        assert staff_may_read(uow.session, flagged)
        assert not staff_may_read(uow.session, other)
        assert not staff_may_read(uow.session, flagged, now=utcnow() + timedelta(hours=25))

    assert client.delete(url, headers=admin.headers).status_code == 403
    assert client.delete(url, headers=headers).status_code == 204
    assert client.delete(url, headers=headers).status_code == 404
    with runtime.tenant_uow("acme") as uow:
        assert not staff_may_read(uow.session, flagged)
        actions = [(e.action, e.target) for e in list_events(uow, action="support_flag.*").items]
        details = [e.details for e in list_events(uow, action="support_flag.*").items]
    assert actions == [
        ("support_flag.withdraw", f"email_message:{flagged}"),
        ("support_flag.create", f"email_message:{flagged}"),
    ]
    assert "Invoice renders blank" not in str(details)


def test_flag_a_thread(mailroom: Mailroom, client: TestClient, runtime: Runtime) -> None:
    gmail_id = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Thread for support"))["id"]
    mailroom.sync()
    item = email_by_gmail_id(mailroom, gmail_id)
    made = client.post(
        f"/api/v1/email-threads/{item['email_thread_id']}/support-flag",
        json={"reason": "Thread looks wrong"},
        headers=mailroom.member.headers,
    )
    assert made.status_code == 201, made.text
    with runtime.tenant_uow("acme") as uow:
        assert staff_may_read(uow.session, item["email_message_id"])
    removed = client.delete(
        f"/api/v1/email-threads/{item['email_thread_id']}", headers=mailroom.member.headers
    )
    assert removed.status_code == 200, removed.text
    with runtime.tenant_uow("acme") as uow:
        assert uow.session.scalars(select(SupportFlagRow)).all() == []
