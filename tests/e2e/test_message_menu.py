"""The record page's menu on a message in Chromium: the mailbox owner flags the message for
support and withdraws the flag; the open menu fits a phone's width."""

from __future__ import annotations

from typing import Any

import pytest

from inboxcrm.bootstrap import Runtime
from inboxcrm.services.support_flags import staff_may_read
from tests.e2e.browser_steps import errors_in, sign_in
from tests.e2e.layout_checks import PHONE, overflow_at
from tests.factories import make_contact, make_email_message, make_mail_account, make_thread
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser


def test_the_owner_flags_a_message_for_support_from_its_menu(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
) -> None:
    rep = tenants.member("acme", "rep")
    page = browser_page
    sign_in(page, live_server, rep)
    user_id = int(page.evaluate("fetch('/api/v1/me').then(r => r.json()).then(j => j.user_id)"))
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, first_name="Ada", last_name="Byron", emails=["ada@ex.example"])
        mailbox = make_mail_account(uow, user_id=user_id, email="rep@acme.example.com")
        thread = make_thread(uow, mailbox, subject="The invoice renders blank")
        message = make_email_message(
            uow, thread=thread, link_to=[("contact", contact.id)], subject=thread.subject
        )
        message_id = message.id
    page.goto(f"{live_server}/contacts/{contact.id}")
    page.locator("details.thread summary").first.click()
    menu = page.locator(f"details.mail-menu[data-mail-menu=email-messages-{message_id}]")
    menu.locator("summary").click()
    form = menu.locator("form.support-flag")
    assert form.is_visible()
    found = overflow_at(page, PHONE)
    assert found["scroll"] <= 0, found
    page.set_viewport_size({"width": 1366, "height": 768})
    form.locator("input[name=reason]").fill("The PDF attachment is empty")
    form.locator("label:has-text('1 day') input").check()
    form.locator("button:has-text('Flag for support')").click()
    page.wait_for_url(f"{live_server}/contacts/{contact.id}?mail_action=support_flagged*")
    assert "Flagged for support" in page.inner_text("#mail-action-notice")
    with runtime.tenant_uow("acme") as uow:
        assert staff_may_read(uow.session, message_id)

    page.locator("details.thread summary").first.click()
    menu.locator("summary").click()
    menu.locator("button:has-text('Withdraw support flag')").click()
    page.wait_for_url(f"{live_server}/contacts/{contact.id}?mail_action=support_flag_withdrawn*")
    with runtime.tenant_uow("acme") as uow:
        assert not staff_may_read(uow.session, message_id)
    assert errors_in(page_console) == []
