"""A record page shows an email held by two colleagues' mailboxes once, naming both."""

from __future__ import annotations

from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from tests.factories import BASE_TIME, make_contact, make_email_message, make_mail_account
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import sign_in


def test_one_email_in_two_mailboxes_is_one_message_on_the_record_page(
    client: TestClient, tenants: TenantFactory, runtime: Runtime
) -> None:
    member = tenants.member("acme")
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["buyer@customer.example"])
        common = {
            "message_id_header": "<quote-77@customer.example>",
            "from_address": "buyer@customer.example",
            "subject": "Quote 77e1",
            "sent_at": BASE_TIME,
            "to_addresses": ["alice@acme.example", "bob@acme.example"],
        }
        for n, address in enumerate(("alice@acme.example", "bob@acme.example")):
            mailbox = make_mail_account(uow, email=address, user_id=100 + n)
            make_email_message(
                uow,
                mail_account=mailbox,
                link_to=[("contact", contact.id)] if n == 0 else [],
                **common,
            )
    sign_in(client, member)
    page = client.get(f"/contacts/{contact.id}")
    assert page.status_code == 200
    assert page.text.count('<article class="message') == 1
    assert "In the mailboxes of alice@acme.example, bob@acme.example" in page.text
