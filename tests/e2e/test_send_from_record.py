"""Writing from the CRM in Chromium: open a contact, reply to the last message with tracking on,
see the sent reply on the timeline (same thread), open the tracking pixel, see "Opened" appear."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.sending_tables import OutboundMessageRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.services.mail_sync import sync_account
from tests.e2e.browser_steps import csp_errors_in, sign_in
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sending.conftest import customer_mail

pytestmark = pytest.mark.browser

OWNER = "rep@acme-sales.example"
CUSTOMER = "carol@customer.example"
SCREENSHOT = "/tmp/inboxcrm-reply-tracked.png"


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    return settings.model_copy(
        update={"google_api_base": emulator.url, "quota_units_per_second": 0.0}
    )


@pytest.fixture
def gmail(client: TestClient, emulator: EmulatorHandle) -> Any:
    connector = GmailConnector(client, emulator)
    try:
        yield connector
    finally:
        connector.close()


def _wait_for(page: Any, url: str, selector: str, *, timeout: float = 60.0) -> None:
    """Reload ``url`` until ``selector`` is on it (a liveness bound, not a speed check)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if page.locator(selector).count():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{selector} did not appear on {url}")
        page.wait_for_timeout(250)


def _pixel_url(runtime: Runtime, emulator: EmulatorHandle) -> str:
    from tests.integration.sync.conftest import emulator_mailbox

    with runtime.tenant_uow("acme") as uow:
        row = uow.session.scalars(select(OutboundMessageRow).order_by(OutboundMessageRow.id)).one()
    assert row.status == "sent" and row.track
    mailbox = emulator_mailbox(emulator, OWNER)
    data = mailbox._users.messages().get(userId="me", id=row.provider_message_id, format="raw")
    raw = base64.urlsafe_b64decode(data.execute(http=mailbox._http)["raw"] + "==").decode()
    import email
    from email import policy

    message = email.message_from_string(raw, policy=policy.default)
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    found = re.findall(r'src="([^"]+/t/o/[^"]+)"', html.get_content())
    assert len(found) == 1
    return found[0]


def test_reply_with_tracking_then_see_it_opened(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    gmail: GmailConnector,
    page_console: list[str],
) -> None:
    runtime.settings.public_url = live_server
    rep = tenants.member("acme", "rep")
    emulator.create_user(OWNER, name="Rep Rüdiger")
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, first_name="Carol", last_name="Customer", emails=[CUSTOMER])
    inbound = emulator.deliver(
        OWNER, customer_mail(f"Carol Customer <{CUSTOMER}>", OWNER, "Pricing for next year")
    )
    assert sync_account(runtime, "acme", account_id).status == "ok"

    page = browser_page
    sign_in(page, live_server, rep)
    record_url = f"{live_server}/contacts/{contact.id}"
    page.goto(record_url)
    page.click(".tl-email summary")
    page.click(".message .reply")
    page.wait_for_selector("#composer-form")
    assert page.input_value("#composer-to") == CUSTOMER
    assert page.input_value("#composer-subject") == "Re: Pricing for next year"
    assert not page.is_checked("#composer-track")
    page.fill(
        "#composer-body", "Hi Carol, the prices are attached in spirit. https://docs.example/prices"
    )
    page.check("#composer-track")
    page.click("#composer-send")
    page.wait_for_url(record_url + "?sent=*")

    page.click(".tl-email summary")
    thread = page.locator(".tl-email").first
    assert thread.locator(".message").count() == 2
    assert "Hi Carol, the prices are attached" in thread.inner_text()
    assert "sent" in thread.locator(".message.direction-outbound .badge").inner_text()
    with runtime.tenant_uow("acme") as uow:
        sent = uow.session.scalars(select(OutboundMessageRow)).one()
    assert sent.provider_thread_id == inbound["threadId"]

    pixel = _pixel_url(runtime, emulator)
    assert pixel.startswith(live_server + "/t/o/")
    opened = page.request.get(pixel)
    assert opened.status == 200 and opened.headers["content-type"] == "image/gif"
    _wait_for(page, record_url, ".tl-tracking")
    assert "Opened by carol@customer.example" in page.inner_text(".tl-tracking")
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert csp_errors_in(page_console) == []


def test_draft_with_ai_edit_approve_and_send(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    gmail: GmailConnector,
    page_console: list[str],
) -> None:
    """With no Anthropic key the offline drafter answers, and the page says it is not AI."""
    runtime.settings.public_url = live_server
    rep = tenants.member("acme", "rep")
    emulator.create_user(OWNER, name="Rep Rüdiger")
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, first_name="Carol", last_name="Customer", emails=[CUSTOMER])
    inbound = emulator.deliver(
        OWNER,
        customer_mail(
            f"Carol Customer <{CUSTOMER}>", OWNER, "Meeting", body="When can we meet next week?"
        ),
    )
    assert sync_account(runtime, "acme", account_id).status == "ok"

    page = browser_page
    sign_in(page, live_server, rep)
    record_url = f"{live_server}/contacts/{contact.id}"
    page.goto(record_url)
    page.click(".tl-email summary")
    page.click(".message .draft-with-ai")
    page.wait_for_selector("#draft-editor")
    assert page.text_content("#draft-label") == "Offline drafter — not AI"
    assert page.input_value("#draft-subject") == "Re: Meeting"
    drafted = page.input_value("#draft-body")
    assert drafted.startswith("Hello Carol,") and "When can we meet next week?" in drafted
    page.fill("#draft-body", drafted.replace("Hello Carol,", "Hi Carol,"))
    page.goto(record_url)  # the pending draft is on the timeline
    assert "Draft awaiting approval: Re: Meeting" in page.inner_text(".tl-draft")
    page.click(".tl-email summary")
    page.click(".message .draft-with-ai")
    page.wait_for_selector("#draft-editor")
    page.fill("#draft-body", "Hi Carol,\n\nTuesday at 10 works for me.\n\nRep")
    page.click("#draft-approve")
    page.wait_for_url(record_url + "?sent=*")

    page.click(".tl-email summary")
    thread = page.locator(".tl-email").first
    assert thread.locator(".message").count() == 2
    assert "Tuesday at 10 works for me." in thread.inner_text()
    with runtime.tenant_uow("acme") as uow:
        sent = uow.session.scalars(select(OutboundMessageRow)).one()
    assert sent.provider_thread_id == inbound["threadId"] and sent.draft_id is not None
    assert csp_errors_in(page_console) == []
