"""Support staff read exactly the mail an owner flagged for support, while the flag lives.

Staff come in under a tenant admin's live support grant (their staff token and the tenant
header). Through ``/api/v1/support/...`` they read a flagged message (or a flagged thread), each
read audited as ``support_flag.read``; every other message of the same mailbox, a message whose
flag expired or was withdrawn, and any message after the grant ends answer 403 with a problem
document. The members' read paths (timeline, content) show staff no mail at all, and members
(even the owner and admins) cannot use the staff routes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from inboxcrm.adapters.db.staff_tables import SupportGrantRow
from inboxcrm.adapters.db.support_flag_tables import SupportFlagRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.support_access import create_staff
from tests.fixtures.web import Member, TenantFactory
from tests.integration.message_actions.helpers import email_by_gmail_id
from tests.integration.message_actions.test_archive_and_read_state import reply_mail
from tests.integration.privacy.audit_helpers import audit_entries
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, customer_mail

SUPPORT = "/api/v1/support"


def _staff(runtime: Runtime, client: TestClient, admin: Member) -> dict[str, str]:
    """A staff member's headers, under a live grant of tenant acme (made by ``admin``)."""
    _, token = create_staff(runtime, email="desk@inboxcrm.example", password="desk-password")
    grant = client.post(
        "/api/v1/support-grants", json={"hours": 4, "reason": "ticket 9"}, headers=admin.headers
    )
    assert grant.status_code == 201, grant.text
    return {"Authorization": f"Bearer {token}", "X-Inboxcrm-Tenant": "acme"}


def _refused(answer: Any, code: str = "not_flagged_for_support") -> None:
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


def _flag(client: TestClient, room: Mailroom, kind: str, item_id: int, reason: str) -> None:
    made = client.post(
        f"/api/v1/{kind}/{item_id}/support-flag",
        json={"reason": reason, "hours": 6},
        headers=room.member.headers,
    )
    assert made.status_code == 201, made.text


def test_staff_read_a_flagged_message_and_nothing_else_of_the_mailbox(
    mailroom: Mailroom, client: TestClient, runtime: Runtime, tenants: TenantFactory
) -> None:
    flagged_id = mailroom.deliver(
        customer_mail(CUSTOMER, OWNER, "Invoice renders blank", body="The PDF is empty")
    )["id"]
    other_id = mailroom.deliver(
        customer_mail(CUSTOMER, OWNER, "Salary talk", body="private-body-4471")
    )["id"]
    mailroom.sync()
    flagged = email_by_gmail_id(mailroom, flagged_id)["email_message_id"]
    other = email_by_gmail_id(mailroom, other_id)["email_message_id"]
    admin = tenants.member("acme", "admin")
    staff = _staff(runtime, client, admin)
    message_url = f"{SUPPORT}/email-messages"

    _refused(client.get(f"{message_url}/{flagged}", headers=staff))  # not flagged yet
    _flag(client, mailroom, "email-messages", flagged, "Customer's invoice renders blank")

    read = client.get(f"{message_url}/{flagged}", headers=staff)
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["id"], body["subject"], body["from_address"]) == (
        flagged,
        "Invoice renders blank",
        CUSTOMER,
    )
    assert "The PDF is empty" in (body["body_text"] or "")
    listed = client.get(f"{SUPPORT}/flagged-mail", headers=staff)
    assert listed.status_code == 200, listed.text
    assert [(i["target"], i["message_ids"]) for i in listed.json()["items"]] == [
        (f"email_message:{flagged}", [flagged])
    ]
    assert listed.json()["items"][0]["reason"] == "Customer's invoice renders blank"

    # The rest of the same mailbox stays closed, on the staff route and on the members' ones.
    refused_other = client.get(f"{message_url}/{other}", headers=staff)
    _refused(refused_other)
    assert "Salary talk" not in refused_other.text
    _refused(client.get(f"{message_url}/{other + flagged + 1000}", headers=staff))
    _refused(client.get(f"{SUPPORT}/email-threads/{body['thread_id']}", headers=staff))
    for message_id in (flagged, other):
        content = client.get(f"/api/v1/email-messages/{message_id}/content", headers=staff)
        assert content.status_code == 404, content.text
    timeline = client.get(
        f"/api/v1/contacts/{mailroom.contact_id}/timeline?limit=100", headers=staff
    )
    assert timeline.status_code == 200, timeline.text
    assert [i for i in timeline.json()["items"] if i["kind"] == "email"] == []
    assert "private-body-4471" not in timeline.text and "Salary talk" not in timeline.text

    # Members, even the owner and an admin, do not use the staff routes.
    for member_headers in (mailroom.member.headers, admin.headers):
        answer = client.get(f"{message_url}/{flagged}", headers=member_headers)
        _refused(answer, "permission_denied")
        _refused(client.get(f"{SUPPORT}/flagged-mail", headers=member_headers), "permission_denied")

    reads = audit_entries(runtime, "acme", "support_flag.read")
    assert all(e.actor_kind == "staff" for e in reads)
    allowed = [e for e in reads if e.outcome == "success"]
    denied = [e for e in reads if e.outcome == "denied"]
    assert [e.target for e in allowed] == [f"email_message:{flagged}"]
    assert allowed[0].details["mail_account_id"] == mailroom.account_id
    assert {f"email_message:{flagged}", f"email_message:{other}"} <= {e.target for e in denied}
    assert "Invoice renders blank" not in str([e.details for e in reads])

    # The flag expires: closed again.
    with runtime.tenant_uow("acme") as uow:
        uow.session.execute(
            update(SupportFlagRow).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        uow.commit()
    _refused(client.get(f"{message_url}/{flagged}", headers=staff))
    assert client.get(f"{SUPPORT}/flagged-mail", headers=staff).json()["items"] == []

    # Flagged again, then withdrawn by the owner: closed again.
    _flag(client, mailroom, "email-messages", flagged, "Once more")
    assert client.get(f"{message_url}/{flagged}", headers=staff).status_code == 200
    withdrawn = client.delete(
        f"/api/v1/email-messages/{flagged}/support-flag", headers=mailroom.member.headers
    )
    assert withdrawn.status_code == 204
    _refused(client.get(f"{message_url}/{flagged}", headers=staff))

    # A live flag without a live grant: staff are not let into the tenant at all.
    _flag(client, mailroom, "email-messages", flagged, "And again")
    assert client.get(f"{message_url}/{flagged}", headers=staff).status_code == 200
    with runtime.control_uow() as uow:
        uow.session.execute(update(SupportGrantRow).values(revoked_at=utcnow()))
        uow.commit()
    _refused(client.get(f"{message_url}/{flagged}", headers=staff), "permission_denied")
    allowed_after = [
        e for e in audit_entries(runtime, "acme", "support_flag.read") if e.outcome == "success"
    ]
    assert len(allowed_after) == 3


def test_staff_read_a_flagged_thread(
    mailroom: Mailroom, client: TestClient, runtime: Runtime, tenants: TenantFactory
) -> None:
    parent = "<support-thread-1@kunde.example>"
    first = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Sync looks wrong", message_id=parent))[
        "id"
    ]
    second = mailroom.deliver(reply_mail("Sync looks wrong", parent))["id"]
    elsewhere = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Another matter"))["id"]
    mailroom.sync()
    item = email_by_gmail_id(mailroom, first)
    thread = item["email_thread_id"]
    reply = email_by_gmail_id(mailroom, second)["email_message_id"]
    lone = email_by_gmail_id(mailroom, elsewhere)
    staff = _staff(runtime, client, tenants.member("acme", "admin"))

    _flag(client, mailroom, "email-threads", thread, "The thread is split")
    _flag(client, mailroom, "email-messages", lone["email_message_id"], "One message only")
    read = client.get(f"{SUPPORT}/email-threads/{thread}", headers=staff)
    assert read.status_code == 200, read.text
    messages = read.json()["messages"]
    assert sorted(m["id"] for m in messages) == sorted([item["email_message_id"], reply])
    assert sorted(m["subject"] for m in messages) == ["Re: Sync looks wrong", "Sync looks wrong"]
    assert client.get(f"{SUPPORT}/email-messages/{reply}", headers=staff).status_code == 200
    # A flag on one message opens that message, not its whole thread.
    assert (
        client.get(
            f"{SUPPORT}/email-messages/{lone['email_message_id']}", headers=staff
        ).status_code
        == 200
    )
    _refused(client.get(f"{SUPPORT}/email-threads/{lone['email_thread_id']}", headers=staff))

    allowed = [
        (e.target, e.details["messages"])
        for e in audit_entries(runtime, "acme", "support_flag.read")
        if e.outcome == "success"
    ]
    assert sorted(allowed) == sorted(
        [
            (f"email_thread:{thread}", 2),
            (f"email_message:{reply}", 1),
            (f"email_message:{lone['email_message_id']}", 1),
        ]
    )
    withdrawn = client.delete(
        f"/api/v1/email-threads/{thread}/support-flag", headers=mailroom.member.headers
    )
    assert withdrawn.status_code == 204
    _refused(client.get(f"{SUPPORT}/email-threads/{thread}", headers=staff))
    _refused(client.get(f"{SUPPORT}/email-messages/{reply}", headers=staff))
