"""Archive, mark read and mark unread change exactly the one label in the owner's Gmail
(emulator, real client), cost Gmail's modify quota, are the owner's alone, and are audited."""

from __future__ import annotations

import email

from fastapi.testclient import TestClient

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import list_events
from tests.fixtures.web import TenantFactory
from tests.integration.message_actions.helpers import email_by_gmail_id, mailbox_labels
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, customer_mail


def reply_mail(subject: str, parent: str) -> bytes:
    msg = email.message_from_bytes(customer_mail(CUSTOMER, OWNER, "Re: " + subject))
    msg["In-Reply-To"] = parent
    msg["References"] = parent
    return msg.as_bytes()


def _deliver_three(mailroom: Mailroom) -> tuple[str, str, str]:
    first = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Offer"))["id"]
    other = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Invoice"))["id"]
    starred = mailroom.emulator.deliver(
        OWNER, customer_mail(CUSTOMER, OWNER, "Starred"), ["INBOX", "UNREAD", "STARRED"]
    )["id"]
    mailroom.sync()
    return first, other, starred


def test_archive_removes_inbox_and_nothing_else(
    mailroom: Mailroom, client: TestClient, runtime: Runtime
) -> None:
    first, _, _ = _deliver_three(mailroom)
    before = mailbox_labels(mailroom)
    assert "INBOX" in before[first]
    item = email_by_gmail_id(mailroom, first)
    mailroom.emulator.reset_counters(OWNER)

    answer = client.post(
        f"/api/v1/email-messages/{item['email_message_id']}/archive",
        headers=mailroom.member.headers,
    )
    assert answer.status_code == 200, answer.text
    assert "INBOX" not in answer.json()["labels"]

    after = mailbox_labels(mailroom)
    expected = dict(before)
    expected[first] = [label for label in before[first] if label != "INBOX"]
    assert after == expected
    units = mailroom.emulator.stats(OWNER)["units"]
    assert units.get("gmail.users.messages.modify") == 5

    with runtime.tenant_uow("acme") as uow:
        stored = uow.session.get(EmailMessageRow, item["email_message_id"])
        assert stored is not None and "INBOX" not in stored.labels
    with runtime.tenant_uow("acme") as uow:
        events = list_events(uow, action="email_message.archive").items
    assert [(e.target, e.outcome) for e in events] == [
        (f"email_message:{item['email_message_id']}", "success")
    ]


def test_read_and_unread(mailroom: Mailroom, client: TestClient, runtime: Runtime) -> None:
    first, _, _ = _deliver_three(mailroom)
    before = mailbox_labels(mailroom)
    item = email_by_gmail_id(mailroom, first)
    url = f"/api/v1/email-messages/{item['email_message_id']}"
    read = client.post(url + "/mark-read", headers=mailroom.member.headers)
    assert read.status_code == 200, read.text
    after_read = mailbox_labels(mailroom)
    assert after_read[first] == [label for label in before[first] if label != "UNREAD"]
    assert {k: v for k, v in after_read.items() if k != first} == {
        k: v for k, v in before.items() if k != first
    }
    unread = client.post(url + "/mark-unread", headers=mailroom.member.headers)
    assert unread.status_code == 200, unread.text
    assert mailbox_labels(mailroom) == before
    with runtime.tenant_uow("acme") as uow:
        actions = [e.action for e in list_events(uow, action="email_message.*").items]
    assert actions == ["email_message.mark_unread", "email_message.mark_read"]


def test_archive_a_thread(mailroom: Mailroom, client: TestClient, runtime: Runtime) -> None:
    first = mailroom.deliver(
        customer_mail(CUSTOMER, OWNER, "Thread start", message_id="<start@kunde.example>")
    )
    second = mailroom.deliver(reply_mail("Thread start", "<start@kunde.example>"))
    assert second["threadId"] == first["threadId"]
    lone = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Elsewhere"))["id"]
    mailroom.sync()
    before = mailbox_labels(mailroom)
    item = email_by_gmail_id(mailroom, first["id"])
    mailroom.emulator.reset_counters(OWNER)
    answer = client.post(
        f"/api/v1/email-threads/{item['email_thread_id']}/archive",
        headers=mailroom.member.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["messages"] == 2
    after = mailbox_labels(mailroom)
    for gmail_id in (first["id"], second["id"]):
        assert after[gmail_id] == [label for label in before[gmail_id] if label != "INBOX"]
    assert after[lone] == before[lone]
    assert mailroom.emulator.stats(OWNER)["units"].get("gmail.users.threads.modify") == 10
    with runtime.tenant_uow("acme") as uow:
        assert [e.target for e in list_events(uow, action="email_thread.archive").items] == [
            f"email_thread:{item['email_thread_id']}"
        ]


def test_only_the_mailbox_owner_archives(
    mailroom: Mailroom, client: TestClient, tenants: TenantFactory
) -> None:
    first, _, _ = _deliver_three(mailroom)
    before = mailbox_labels(mailroom)
    item = email_by_gmail_id(mailroom, first)
    admin = tenants.member("acme", "admin")
    colleague = tenants.member("acme", "rep", email="other-rep@acme.example.com")
    outsider = tenants.member("globex", "owner")
    url = f"/api/v1/email-messages/{item['email_message_id']}/archive"
    assert client.post(url, headers=admin.headers).status_code == 403
    assert client.post(url, headers=colleague.headers).status_code == 403
    assert client.post(url, headers=outsider.headers).status_code == 404
    assert (
        client.post(
            "/api/v1/email-messages/999999/archive", headers=mailroom.member.headers
        ).status_code
        == 404
    )
    assert mailbox_labels(mailroom) == before
