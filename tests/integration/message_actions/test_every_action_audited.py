"""Every per-message action appears in the tenant's audit log, with its target and outcome, and
the chain stays intact: archive and read state (message and thread), flag for support and its
withdrawal, a staff read and a refused one, removal of a message and of a thread, and the Mail
Integration permission."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.support_access import create_staff
from tests.fixtures.web import TenantFactory
from tests.integration.message_actions.helpers import email_by_gmail_id
from tests.integration.message_actions.test_archive_and_read_state import reply_mail
from tests.integration.privacy.audit_helpers import audit_entries
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, customer_mail


def test_every_action_is_in_the_audit_log(
    mailroom: Mailroom, client: TestClient, runtime: Runtime, tenants: TenantFactory
) -> None:
    lone_id = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Lone message"))["id"]
    parent = "<audited-thread@kunde.example>"
    mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Audited thread", message_id=parent))
    mailroom.deliver(reply_mail("Audited thread", parent))
    mailroom.sync()
    lone = email_by_gmail_id(mailroom, lone_id)
    message = lone["email_message_id"]
    thread = next(
        i["email_thread_id"]
        for i in mailroom.timeline()
        if i["kind"] == "email" and i["email_thread_id"] != lone["email_thread_id"]
    )
    owner = mailroom.member.headers
    admin = tenants.member("acme", "admin")
    _, token = create_staff(runtime, email="desk@inboxcrm.example", password="desk-password")
    staff = {"Authorization": f"Bearer {token}", "X-Inboxcrm-Tenant": "acme"}
    grant = client.post(
        "/api/v1/support-grants", json={"hours": 2, "reason": "ticket 5"}, headers=admin.headers
    )
    assert grant.status_code == 201

    calls = [
        ("POST", f"/api/v1/email-messages/{message}/archive", owner, None, 200),
        ("POST", f"/api/v1/email-messages/{message}/mark-read", owner, None, 200),
        ("POST", f"/api/v1/email-messages/{message}/mark-unread", owner, None, 200),
        ("POST", f"/api/v1/email-threads/{thread}/archive", owner, None, 200),
        ("POST", f"/api/v1/email-threads/{thread}/mark-read", owner, None, 200),
        ("POST", f"/api/v1/email-threads/{thread}/mark-unread", owner, None, 200),
        ("POST", f"/api/v1/email-messages/{message}/support-flag", owner, {"reason": "a"}, 201),
        ("DELETE", f"/api/v1/email-messages/{message}/support-flag", owner, None, 204),
        ("POST", f"/api/v1/email-threads/{thread}/support-flag", owner, {"reason": "b"}, 201),
        ("GET", f"/api/v1/support/email-threads/{thread}", staff, None, 200),
        ("GET", f"/api/v1/support/email-messages/{message}", staff, None, 403),
        ("DELETE", f"/api/v1/email-messages/{message}", owner, None, 200),
        ("DELETE", f"/api/v1/email-threads/{thread}", admin.headers, None, 200),
    ]
    for method, url, headers, body, status in calls:
        answer = client.request(method, url, headers=headers, json=body)
        assert answer.status_code == status, (method, url, answer.text)
    me = client.get("/api/v1/me", headers=owner).json()["user_id"]
    changed = client.patch(
        f"/api/v1/users/{me}", json={"mail_integration": False}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text

    logged = {(e.action, e.target, e.outcome) for e in audit_entries(runtime, "acme")}
    m, t = f"email_message:{message}", f"email_thread:{thread}"
    expected = {
        ("email_message.archive", m, "success"),
        ("email_message.mark_read", m, "success"),
        ("email_message.mark_unread", m, "success"),
        ("email_thread.archive", t, "success"),
        ("email_thread.mark_read", t, "success"),
        ("email_thread.mark_unread", t, "success"),
        ("support_flag.create", m, "success"),
        ("support_flag.withdraw", m, "success"),
        ("support_flag.create", t, "success"),
        ("support_flag.read", t, "success"),
        ("support_flag.read", m, "denied"),
        ("email_message.remove", m, "success"),
        ("email_thread.remove", t, "success"),
        ("user.mail_integration", f"user:{me}", "success"),
    }
    assert expected - logged == set()
