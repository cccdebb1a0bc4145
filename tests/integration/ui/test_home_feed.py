"""The home page's recent activity lists every email once, naming the records it is on."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from tests.factories import BASE_TIME, make_account, make_contact, make_email_message, make_note
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import sign_in

_ITEM = re.compile(r"<li>\s*<span class=\"badge kind-(\w+)\">.*?</li>", re.S)


def test_an_email_on_a_contact_and_its_account_is_one_feed_entry(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    member = tenants.member("acme")
    with runtime.tenant_uow("acme") as uow:
        company = make_account(uow, name="Wayne Enterprises", domain="wayne.example")
        contact = make_contact(
            uow, first_name="Bruce", last_name="Wayne", emails=["bruce@wayne.example"],
            account_id=company.id,
        )  # fmt: skip
        make_email_message(
            uow,
            link_to=[("contact", contact.id), ("account", company.id)],
            subject="Quarterly renewal 4f1c",
            sent_at=BASE_TIME,
        )
        make_note(uow, ("contact", contact.id), body="Met at the expo", created_at=BASE_TIME)
    sign_in(client, member)
    page = client.get("/")
    assert page.status_code == 200
    items = [m.group(0) for m in _ITEM.finditer(page.text)]
    emails = [i for i in items if "Quarterly renewal 4f1c" in i]
    assert len(emails) == 1, items
    (entry,) = emails
    assert f'href="/contacts/{contact.id}#timeline"' in entry
    assert f'href="/accounts/{company.id}#timeline"' in entry
    assert "Bruce Wayne" in entry and "Wayne Enterprises" in entry
    assert len(items) == 2  # the email once, the note once
