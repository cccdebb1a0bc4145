"""The record page's menu on each message and thread: the owner gets archive, read/unread and
remove; an admin who does not own the mailbox only remove; the form posts do what the API does."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.message_actions.helpers import email_by_gmail_id, emails, mailbox_labels
from tests.integration.sending.conftest import CUSTOMER, OWNER, Mailroom, customer_mail

_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def test_owner_menu_archives_and_removes(
    mailroom: Mailroom, client: TestClient, gmail: GmailConnector, tenants: TenantFactory
) -> None:
    gmail_id = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Menu test"))["id"]
    mailroom.sync()
    item = email_by_gmail_id(mailroom, gmail_id)
    message_id, thread_id = item["email_message_id"], item["email_thread_id"]
    record = f"/contacts/{mailroom.contact_id}"
    cookie = gmail.session_cookie(mailroom.member)
    page = client.get(record, headers=cookie)
    assert page.status_code == 200
    for action in ("archive", "mark-read", "mark-unread", "remove"):
        assert f'action="/email-messages/{message_id}/{action}"' in page.text
        assert f'action="/email-threads/{thread_id}/{action}"' in page.text
    match = _META_CSRF.search(page.text)
    assert match is not None
    csrf = match.group(1)

    admin = tenants.member("acme", "admin")
    admin_page = client.get(record, headers=gmail.session_cookie(admin))
    assert f'action="/email-messages/{message_id}/remove"' in admin_page.text
    assert f'action="/email-messages/{message_id}/archive"' not in admin_page.text

    archived = client.post(
        f"/email-messages/{message_id}/archive",
        data={"csrf_token": csrf, "next": record + "#timeline"},
        headers=cookie,
        follow_redirects=False,
    )
    assert archived.status_code == 303
    assert archived.headers["location"] == record + "#timeline"
    assert "INBOX" not in mailbox_labels(mailroom)[gmail_id]

    removed = client.post(
        f"/email-threads/{thread_id}/remove",
        data={"csrf_token": csrf, "next": record},
        headers=cookie,
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert emails(mailroom) == []
    assert gmail_id in mailbox_labels(mailroom)  # still in Gmail
