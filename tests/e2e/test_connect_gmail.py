"""Connecting Gmail in Chromium: Setup → Email → "Connect Gmail" → the emulator's consent page →
back on Setup → Email with the mailbox connected, its status refreshing itself as a sync runs."""

from __future__ import annotations

from typing import Any

import pytest

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from tests.e2e.browser_steps import csp_errors_in, sign_in
from tests.factories import make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/inboxcrm-setup-email.png"
ADMIN_SCREENSHOT = "/tmp/inboxcrm-setup-email-admin.png"
MAILBOX = "rep.mailbox@example.com"


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Google's endpoints on the emulator (which shows its consent form: no auto-consent)."""
    return settings.model_copy(update={"google_api_base": emulator.url})


def _set_progress(runtime: Runtime, account_id: int, phase: str, progress: dict[str, Any]) -> None:
    """What a sync run on a worker writes: its progress, and its lease while it runs."""
    from datetime import timedelta

    from inboxcrm.adapters.db.tenant_tables import MailSyncLeaseRow

    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None
        row.sync_phase = phase
        row.sync_progress = {**progress, "phase": phase}
        lease = uow.session.get(MailSyncLeaseRow, account_id)
        if lease is None:
            lease = MailSyncLeaseRow(mail_account_id=account_id, holder="", expires_at=utcnow())
            uow.session.add(lease)
        if phase == "done":
            row.last_sync_at = row.last_full_sync_at = utcnow()
            lease.holder, lease.expires_at = "", utcnow()
        else:
            lease.holder = "worker-host-b:4242:abcdef"
            lease.expires_at = utcnow() + timedelta(seconds=120)
        uow.commit()


def _open_setup_email(page: Any, base_url: str) -> None:
    page.click("summary:has-text('Setup')")
    page.click(".menu-items >> text=Email")
    page.wait_for_url(base_url + "/setup/email")


def test_connect_gmail_through_the_consent_page_and_watch_the_sync_progress(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    page_console: list[str],
) -> None:
    runtime.settings.public_url = live_server  # Google sends the browser back to this server
    rep = tenants.member("acme", "rep")
    page = browser_page
    sign_in(page, live_server, rep)
    _open_setup_email(page, live_server)
    assert "No mailbox connected yet" in page.inner_text("#mail-accounts")

    page.click("#connect-gmail")
    page.wait_for_url(emulator.url + "/o/oauth2/auth?**")
    assert "wants to access your Google Account" in page.inner_text("body")
    scopes = page.locator("li").all_inner_texts()
    assert len(scopes) == 5 and "openid" in scopes
    page.fill("#email", "Rep.Mailbox@Example.com")
    page.click("#allow")

    page.wait_for_url(live_server + "/setup/email?connected=*")
    assert f"Connected {MAILBOX}. The first sync has started." in page.inner_text(".notice")
    row = page.locator("tr.account-row", has_text=MAILBOX)
    assert row.get_attribute("data-status") == "connected"
    assert "Waiting for the first sync" in row.inner_text()
    account_id = int((row.get_attribute("id") or "").removeprefix("account-"))

    # The table polls itself: progress written by a sync shows up without a reload.
    _set_progress(
        runtime,
        account_id,
        "fetching",
        {"mode": "full", "scanned": 120, "stored": 90, "skipped": 30, "total_estimate": 400},
    )
    page.wait_for_selector(f"#account-{account_id} >> text=Fetching messages")
    progress = page.locator(f"#account-{account_id} progress")
    assert progress.get_attribute("value") == "30"
    assert "This run: 120 scanned · 90 stored · 30 skipped of 400" in page.inner_text(
        f"#account-{account_id}"
    )
    _set_progress(
        runtime,
        account_id,
        "done",
        {"mode": "full", "scanned": 400, "stored": 352, "skipped": 48, "total_estimate": 400},
    )
    page.wait_for_selector(f"#account-{account_id} >> text=Up to date")
    assert page.url.startswith(live_server + "/setup/email")

    page.screenshot(path=SCREENSHOT, full_page=True)
    assert csp_errors_in(page_console) == []


def test_declining_at_the_consent_page_connects_nothing(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
) -> None:
    runtime.settings.public_url = live_server
    rep = tenants.member("acme", "rep")
    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(live_server + "/setup/email")
    page.click("#connect-gmail")
    page.wait_for_url(emulator.url + "/o/oauth2/auth?**")
    page.click("#deny")
    page.wait_for_url(live_server + "/oauth/google/callback?**")
    assert "you declined access at Google" in page.inner_text("body")
    page.click("text=Back to Setup → Email")
    page.wait_for_url(live_server + "/setup/email")
    assert "No mailbox connected yet" in page.inner_text("#mail-accounts")


def test_an_admin_changes_mail_settings_the_never_log_list_and_disconnects(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
) -> None:
    admin = tenants.member("acme", "admin")
    with runtime.tenant_uow("acme") as uow:
        account = make_mail_account(uow, email="sales@acme.example", sync_phase="done")
        account_id = account.id
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, admin)
    _open_setup_email(page, live_server)

    page.click("nav.section-tabs >> text=Privacy & storage")
    page.check("input[name=storage_policy][value=snippet]")
    page.check("input[name=contact_autocreate][value=sent_and_received]")
    page.click("text=Save mail settings")
    page.wait_for_url(live_server + "/setup/email?notice=settings_saved#section-privacy")
    assert page.is_checked("input[name=storage_policy][value=snippet]")  # back on its tab

    page.click("nav.section-tabs >> text=Never log")
    page.fill(".never-log-add input[name=entry]", "Newsletter.Example.org")
    page.click(".never-log-add button")
    page.wait_for_url(live_server + "/setup/email?notice=never_log_added*#section-never-log")
    assert "newsletter.example.org" in page.inner_text(".never-log-list")
    page.fill(".never-log-add input[name=entry]", "billing@vendor.example")
    page.click(".never-log-add button")
    page.wait_for_selector(".never-log-list >> text=billing@vendor.example")
    page.click(".never-log-list li:has-text('newsletter.example.org') >> text=Remove")
    page.wait_for_url(live_server + "/setup/email?notice=never_log_removed#section-never-log")
    assert "newsletter.example.org" not in page.inner_text(".never-log-list")
    page.screenshot(path=ADMIN_SCREENSHOT, full_page=True)

    page.click("nav.section-tabs >> text=Mailboxes")
    page.click(f"#account-{account_id} >> text=Disconnect")  # confirmed in the dialog
    page.wait_for_url(live_server + "/setup/email?notice=disconnected*")
    row = page.locator(f"#account-{account_id}")
    assert row.get_attribute("data-status") == "disconnected"
    assert "Synced mail will be deleted on" in row.inner_text()
    assert csp_errors_in(page_console) == []
