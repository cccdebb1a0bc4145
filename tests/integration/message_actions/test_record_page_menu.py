"""The record page's menu on each message and thread: the owner gets archive, read/unread,
flag for support (and withdraw) and remove; an admin who does not own the mailbox only remove;
the form posts do what the API does."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.support_flag_tables import SupportFlagRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.audit import list_events
from inboxcrm.services.support_flags import staff_may_read
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


def test_owner_menu_flags_for_support_and_withdraws(
    mailroom: Mailroom,
    client: TestClient,
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
) -> None:
    gmail_id = mailroom.deliver(customer_mail(CUSTOMER, OWNER, "Flag from the page"))["id"]
    mailroom.sync()
    item = email_by_gmail_id(mailroom, gmail_id)
    message_id, thread_id = item["email_message_id"], item["email_thread_id"]
    record = f"/contacts/{mailroom.contact_id}"
    cookie = gmail.session_cookie(mailroom.member)
    page = client.get(record, headers=cookie)
    for kind, item_id in (("email-messages", message_id), ("email-threads", thread_id)):
        assert f'action="/{kind}/{item_id}/support-flag"' in page.text
        assert f'action="/{kind}/{item_id}/support-flag/withdraw"' not in page.text
    match = _META_CSRF.search(page.text)
    assert match is not None
    csrf = match.group(1)
    admin_page = client.get(record, headers=gmail.session_cookie(tenants.member("acme", "admin")))
    assert f'action="/email-messages/{message_id}/support-flag"' not in admin_page.text

    url = f"/email-messages/{message_id}/support-flag"
    form = {"csrf_token": csrf, "next": record + "#timeline"}
    empty = client.post(url, data={**form, "reason": " "}, headers=cookie, follow_redirects=False)
    assert empty.status_code == 303
    assert empty.headers["location"] == record + "?mail_action=flag_reason_missing#timeline"
    shown = client.get(empty.headers["location"], headers=cookie)
    assert "why support should read it; nothing was flagged" in shown.text
    with runtime.tenant_uow("acme") as uow:
        assert not staff_may_read(uow.session, message_id)

    made = client.post(
        url,
        data={**form, "reason": "Renders blank", "hours": "24"},
        headers=cookie,
        follow_redirects=False,
    )
    assert made.status_code == 303
    assert made.headers["location"] == record + "?mail_action=support_flagged#timeline"
    with runtime.tenant_uow("acme") as uow:
        assert staff_may_read(uow.session, message_id)
        flag = uow.session.scalars(select(SupportFlagRow)).one()
        hours = (flag.expires_at - flag.created_at).total_seconds() / 3600
        events = [e.action for e in list_events(uow, action="support_flag.*").items]
    assert (flag.reason, round(hours)) == ("Renders blank", 24)
    assert events == ["support_flag.create"]
    page = client.get(record, headers=cookie)
    assert f'action="/email-messages/{message_id}/support-flag/withdraw"' in page.text
    assert f'action="/email-messages/{message_id}/support-flag"' not in page.text
    assert f'action="/email-threads/{thread_id}/support-flag"' in page.text

    withdrawn = client.post(url + "/withdraw", data=form, headers=cookie, follow_redirects=False)
    assert withdrawn.status_code == 303
    with runtime.tenant_uow("acme") as uow:
        assert not staff_may_read(uow.session, message_id)
    no_csrf = client.post(
        url, data={"next": record, "reason": "x"}, headers=cookie, follow_redirects=False
    )
    assert no_csrf.status_code == 403
