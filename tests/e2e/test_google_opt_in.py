"""Opting in to Google Contacts in Chromium: an admin enabled the feature; the rep's first
connect asks for the five Gmail scopes only; Setup → Email → Google shows what was granted and
an "Allow Google Contacts" button, which goes through the emulator's consent page (asking for
contacts.readonly alone, with include_granted_scopes) and back; then the import runs and its
outcome shows."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from inboxcrm.adapters.db.tenant_tables import TenantSettingsRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.services.contact_import import run_contacts_import
from tests.e2e.browser_steps import csp_errors_in, sign_in
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser

MAILBOX = "opt.in@example.com"
CONTACTS = "https://www.googleapis.com/auth/contacts.readonly"
SCREENSHOT = "/tmp/inboxcrm-setup-email-google.png"


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    return settings.model_copy(update={"google_api_base": emulator.url})


def _consent(page: Any, emulator: EmulatorHandle) -> list[str]:
    """On the emulator's consent page: the scopes asked for; then allow as MAILBOX."""
    page.wait_for_url(emulator.url + "/o/oauth2/auth?**")
    query = parse_qs(urlsplit(page.url).query)
    asked = query["scope"][0].split()
    if CONTACTS in asked:
        assert query["include_granted_scopes"] == ["true"]
    page.fill("#email", MAILBOX)
    page.click("#allow")
    return asked


def test_opt_in_to_google_contacts_through_the_consent_page_and_import(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    page_console: list[str],
) -> None:
    runtime.settings.public_url = live_server
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(TenantSettingsRow, 1)
        if row is None:
            row = TenantSettingsRow(id=1)
            uow.session.add(row)
        row.google_contacts_enabled = True
        uow.commit()
    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(live_server + "/setup/email")
    page.click("#connect-gmail")
    first = _consent(page, emulator)
    assert len(first) == 5 and CONTACTS not in first
    page.wait_for_url(live_server + "/setup/email?connected=*")

    page.goto(live_server + "/setup/email#section-google")
    grants = page.locator(".google-grants", has_text=MAILBOX)
    grants.wait_for()
    granted = grants.locator(".granted-scope").evaluate_all("els => els.map(e => e.dataset.scope)")
    assert CONTACTS not in granted and len(granted) == 5
    assert grants.locator("button.opt-in[data-feature=calendar]").count() == 0  # not enabled
    grants.locator("button.opt-in[data-feature=contacts]").click()

    second = _consent(page, emulator)
    assert set(second) == {CONTACTS, "openid", "https://www.googleapis.com/auth/userinfo.email"}
    page.wait_for_url(live_server + "/setup/email?connected=*")
    page.goto(live_server + "/setup/email#section-google")
    grants = page.locator(".google-grants", has_text=MAILBOX)
    grants.locator("button.contacts-import").wait_for()
    assert grants.locator(f'.granted-scope[data-scope="{CONTACTS}"]').count() == 1
    assert "Not imported yet" in grants.inner_text()

    emulator.add_contact(MAILBOX, name="Ada Lovelace", emails=["ada@analytical.example"])
    grants.locator("button.contacts-import").click()
    page.wait_for_url(live_server + "/setup/email?notice=contacts_import_queued*")
    assert "Google contacts import started" in page.inner_text(".notice")
    account_id = int(grants.get_attribute("data-account") or 0)
    assert run_contacts_import(runtime, "acme", account_id).status == "done"
    page.reload()
    status = page.locator(f"#google-grants-{account_id} .contacts-import-status")
    status.wait_for()
    assert "1 created" in status.inner_text()
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.goto(live_server + "/contacts")
    assert "Ada" in page.inner_text("main")
    assert csp_errors_in(page_console) == []
