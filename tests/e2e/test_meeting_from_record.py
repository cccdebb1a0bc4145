"""Scheduling a meeting from a contact page in Chromium: the form puts it on the timeline and
into the organiser's Google Calendar (the emulator's) with the contact invited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from tests.e2e.browser_steps import csp_errors_in, sign_in
from tests.emulator.conftest import calendar_service
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.calendar.conftest import connect_with_calendar
from tests.integration.mail_accounts.conftest import GmailConnector

pytestmark = pytest.mark.browser

OWNER = "rep@acme-sales.example"
CUSTOMER = "carol@customer.example"
SCREENSHOT = "/tmp/inboxcrm-meeting-form.png"


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


def test_schedule_a_meeting_from_the_contact_page(
    live_server: str,
    browser_page: Any,
    client: TestClient,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    gmail: GmailConnector,
    page_console: list[str],
) -> None:
    rep = tenants.member("acme", "rep")
    admin = tenants.member("acme", "admin")
    emulator.create_user(OWNER, name="Rep Rüdiger")
    connect_with_calendar(gmail, rep, OWNER)
    enabled = client.patch(
        "/api/v1/mail-settings", json={"google_calendar_enabled": True}, headers=admin.headers
    )
    assert enabled.status_code == 200
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, first_name="Carol", last_name="Customer", emails=[CUSTOMER])

    page = browser_page
    sign_in(page, live_server, rep)
    record_url = f"{live_server}/contacts/{contact.id}"
    page.goto(record_url)
    page.click("#meeting-form summary")
    assert page.input_value("#meeting-attendees") == CUSTOMER
    page.fill("#meeting-title", "Quarterly review")
    page.fill("#meeting-start", "2030-05-01T10:00")
    page.fill("#meeting-minutes", "45")
    page.click("#meeting-submit")
    page.wait_for_url(record_url + "#timeline")

    entry = page.locator(".tl-meeting").first
    assert "Quarterly review" in entry.inner_text()
    assert "Carol" in entry.locator(".meeting-attendees").inner_text() or CUSTOMER in (
        entry.inner_text()
    )
    page.screenshot(path=SCREENSHOT, full_page=True)

    creds = emulator.credentials(OWNER, ["https://www.googleapis.com/auth/calendar"])
    events = calendar_service(emulator, creds).events()
    listed = events.list(calendarId="primary").execute()["items"]
    assert [e["summary"] for e in listed] == ["Quarterly review"]
    assert listed[0]["start"]["dateTime"].startswith("2030-05-01T10:00:00")
    assert listed[0]["end"]["dateTime"].startswith("2030-05-01T10:45:00")
    assert [a["email"] for a in listed[0]["attendees"]] == [CUSTOMER]

    # A refused request comes back to the form with the problem shown.
    page.goto(record_url)
    page.click("#meeting-form summary")
    page.fill("#meeting-title", "Broken")
    page.fill("#meeting-start", "2030-05-01T10:00")
    page.fill("#meeting-attendees", "not an address")
    page.click("#meeting-submit")
    page.wait_for_selector("#meeting-problem")
    assert "not an email address" in page.inner_text("#meeting-problem")
    assert csp_errors_in(page_console) == []
