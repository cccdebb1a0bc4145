"""Setup → Email → "Connect IMAP/POP3" in Chromium: a wrong password and an untrusted certificate
are shown clearly at "Test connection"; the working settings test fine and connect the mailbox,
which then shows on Setup → Email like a Gmail account."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser_steps import csp_errors_in, sign_in
from tests.integration.imap.conftest import MailServerRoom

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    """One SQLite run: the browser tests the UI, not the database backends."""
    return "sqlite"


def _fill(page: Any, room: MailServerRoom, *, password: str, ca: bool = True) -> None:
    page.select_option("#imap-protocol", "imap")
    page.fill("#imap-host", "127.0.0.1")
    page.fill("#imap-port", str(room.dovecot.imaps_port))
    page.select_option("#imap-security", "implicit_tls")
    page.fill("#imap-username", room.address)
    page.fill("#imap-password", password)
    page.fill("#imap-ca", room.dovecot.ca_pem if ca else "")


def test_the_connect_form_tests_shows_clear_errors_and_connects(
    live_server: str, browser_page: Any, room: MailServerRoom, page_console: list[str]
) -> None:
    page = browser_page
    sign_in(page, live_server, room.member)
    page.goto(live_server + "/setup/email")
    page.click("#connect-imap")
    page.wait_for_url(live_server + "/setup/email/imap")

    _fill(page, room, password="wrong-password")
    page.click("#imap-test")
    page.wait_for_selector("#imap-error")
    assert "refused the user name or password" in page.inner_text("#imap-error")
    assert page.get_attribute("#imap-password", "aria-invalid") == "true"
    assert page.input_value("#imap-host") == "127.0.0.1"  # the form keeps what was typed
    assert page.input_value("#imap-password") == ""  # but never a password

    _fill(page, room, password=room.password, ca=False)
    page.click("#imap-test")
    page.wait_for_selector("#imap-error")
    assert "not trusted" in page.inner_text("#imap-error")
    assert page.get_attribute("#imap-ca", "aria-invalid") == "true"

    _fill(page, room, password=room.password)
    page.click("#imap-test")
    page.wait_for_selector("#imap-tested")
    assert "Folders to sync: INBOX, Sent" in page.inner_text("#imap-tested")
    assert page.locator("#imap-error").count() == 0

    _fill(page, room, password=room.password)
    page.click("#imap-connect")
    page.wait_for_url(live_server + "/setup/email?connected=*")
    assert f"Connected {room.address}." in page.inner_text(".notice")
    row = page.locator("tr.account-row", has_text=room.address)
    assert row.get_attribute("data-status") == "connected"
    assert "IMAP" in row.inner_text()
    page.screenshot(path="/tmp/inboxcrm-setup-email-imap.png", full_page=True)
    assert csp_errors_in(page_console) == []
