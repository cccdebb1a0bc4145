"""Removing a message or a thread from the CRM: gone from the timeline and, right after the
removal, from every row of the tenant database (every column of every table) and from its files
(byte scan, SQLite and PostgreSQL), kept out by every later full and incremental sync, Gmail
untouched, owner or admin only, audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, EmailThreadRow, MailLedgerRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import list_events
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.message_removal import REMOVED_BY_USER
from tests.fixtures.web import TenantFactory
from tests.integration.message_actions.helpers import email_by_gmail_id, emails, mailbox_labels
from tests.integration.message_actions.test_archive_and_read_state import reply_mail
from tests.integration.privacy.residue import residue, rows_holding
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, customer_mail
from tests.integration.sync.conftest import emulator_mailbox

SECRET_SUBJECT = "Quarterly secret ZK4QW9"
SECRET_BODY = "body-marker-7731-confidential"
SECRET_MESSAGE_ID = "<removed-7731@kunde.example>"
MARKERS = [SECRET_SUBJECT, SECRET_BODY, SECRET_MESSAGE_ID.strip("<>")]


def _gmail_ids(room: Mailroom) -> set[str]:
    return {item["provider_message_id"] for item in emails(room)}


def _stored_ids(runtime: Runtime) -> set[str]:
    with runtime.tenant_uow("acme") as uow:
        return set(uow.session.scalars(select(EmailMessageRow.provider_message_id)))


def test_removed_message_leaves_no_residue_and_never_comes_back(
    mailroom: Mailroom, client: TestClient, runtime: Runtime
) -> None:
    secret = mailroom.deliver(
        customer_mail(
            CUSTOMER, OWNER, SECRET_SUBJECT, body=SECRET_BODY, message_id=SECRET_MESSAGE_ID
        )
    )["id"]
    kept = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Ordinary"))["id"]
    mailroom.sync()
    assert _gmail_ids(mailroom) == {secret, kept}
    item = email_by_gmail_id(mailroom, secret)
    headers = mailroom.member.headers
    message_url = f"/api/v1/email-messages/{item['email_message_id']}"
    flagged = client.post(
        f"{message_url}/support-flag", json={"reason": SECRET_SUBJECT}, headers=headers
    )
    assert flagged.status_code == 201, flagged.text
    assert client.post(f"{message_url}/mark-read", headers=headers).status_code == 200
    # The scans see every marker before, so an empty answer below means they went.
    assert sorted(rows_holding(runtime, "acme", MARKERS)) == sorted(MARKERS)
    assert sorted(residue(runtime, "acme", MARKERS)) == sorted(MARKERS)
    gmail_before = mailbox_labels(mailroom)

    answer = client.delete(
        f"/api/v1/email-messages/{item['email_message_id']}", headers=mailroom.member.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["messages"] == 1
    assert answer.json()["files_clean"] is True
    assert _gmail_ids(mailroom) == {kept}
    assert mailbox_labels(mailroom) == gmail_before  # Gmail is not touched

    with runtime.tenant_uow("acme") as uow:
        row = uow.session.scalar(
            select(MailLedgerRow).where(MailLedgerRow.provider_message_id == secret)
        )
        assert row is not None
        assert (row.outcome, row.reason, row.detail) == ("skipped", REMOVED_BY_USER, None)
        events = list_events(uow, action="email_message.remove").items
    assert [e.target for e in events] == [f"email_message:{item['email_message_id']}"]
    assert not any(marker in str(events[0].details) for marker in MARKERS)

    assert rows_holding(runtime, "acme", MARKERS) == {}
    assert residue(runtime, "acme", MARKERS) == {}

    # A full sync, then an incremental one after new mail and a change to the removed message.
    report = sync_account(runtime, "acme", mailroom.account_id, full=True)
    assert report.status == "ok", report
    assert secret not in _stored_ids(runtime)
    newer = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Newer"))["id"]
    mailroom.emulator.deliver(OWNER, customer_mail("stranger@elsewhere.example", OWNER, "Hi"))
    emulator_mailbox(mailroom.emulator, OWNER).modify_message(secret, add=["STARRED"])
    mailroom.sync()
    assert _gmail_ids(mailroom) == {kept, newer}
    assert secret not in _stored_ids(runtime)
    assert rows_holding(runtime, "acme", MARKERS) == {}


def test_remove_a_thread(mailroom: Mailroom, client: TestClient, runtime: Runtime) -> None:
    first = mailroom.deliver(
        customer_mail(CUSTOMER, OWNER, SECRET_SUBJECT, message_id=SECRET_MESSAGE_ID)
    )
    second = mailroom.deliver(reply_mail(SECRET_SUBJECT, SECRET_MESSAGE_ID))
    other = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Another thread"))["id"]
    mailroom.sync()
    item = email_by_gmail_id(mailroom, first["id"])
    answer = client.delete(
        f"/api/v1/email-threads/{item['email_thread_id']}", headers=mailroom.member.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["messages"] == 2
    assert _gmail_ids(mailroom) == {other}
    with runtime.tenant_uow("acme") as uow:
        assert uow.session.get(EmailThreadRow, item["email_thread_id"]) is None
        assert [e.target for e in list_events(uow, action="email_thread.remove").items] == [
            f"email_thread:{item['email_thread_id']}"
        ]
    report = sync_account(runtime, "acme", mailroom.account_id, full=True)
    assert report.status == "ok", report
    assert _stored_ids(runtime) == {other}
    assert {first["id"], second["id"]}.isdisjoint(_stored_ids(runtime))
    assert rows_holding(runtime, "acme", MARKERS) == {}
    assert residue(runtime, "acme", MARKERS) == {}


def test_owner_or_admin_only(
    mailroom: Mailroom, client: TestClient, tenants: TenantFactory
) -> None:
    gmail_id = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Keep me"))["id"]
    mailroom.sync()
    item = email_by_gmail_id(mailroom, gmail_id)
    url = f"/api/v1/email-messages/{item['email_message_id']}"
    colleague = tenants.member("acme", "manager")
    reader = tenants.member("acme", "read-only")
    outsider = tenants.member("globex", "owner")
    assert client.delete(url, headers=colleague.headers).status_code == 403
    assert client.delete(url, headers=reader.headers).status_code == 403
    assert client.delete(url, headers=outsider.headers).status_code == 404
    assert _gmail_ids(mailroom) == {gmail_id}
    admin = tenants.member("acme", "admin")
    assert client.delete(url, headers=admin.headers).status_code == 200
    assert _gmail_ids(mailroom) == set()
    assert client.delete(url, headers=admin.headers).status_code == 404
