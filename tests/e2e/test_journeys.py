"""The main journeys of a sales rep in Chromium, each checked at 1,366 and 390 px for sideways
scrolling and for console errors; they also take the screenshots of docs/screenshots/.

Journeys: sign in · connect Gmail through the emulator's consent page and watch the first sync
(a real one, against the emulator's generated mailbox) finish with the ledger's counts · read a
thread (and the account's chart) · move a deal by drag and drop, and by keyboard ·
search · disconnect a mailbox.

Screenshots are written to a temporary folder on every run; with ``INBOXCRM_SCREENSHOTS=1`` they
go to docs/screenshots/ (``<page>-desktop.png`` at 1366x768 and ``<page>-phone.png`` at 390x844,
the visible window only, so the files stay small).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import DealRow, MailLedgerRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from tests.e2e.browser_steps import errors_in, sign_in
from tests.e2e.layout_checks import DESKTOP, PHONE, assert_fits_both_widths
from tests.e2e.showcase_data import seed_showcase
from tests.e2e.sync_steps import BackgroundSync
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.sync.conftest import add_customer_contacts, emulator_mailbox

pytestmark = pytest.mark.browser

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where this run writes its screenshots."""
    if os.environ.get("INBOXCRM_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path


def check_page(page: Any, console: list[str], shots: Path, name: str | None = None) -> None:
    """No sideways scrolling at either width, no console errors; screenshots when named."""
    assert_fits_both_widths(page)
    if name is not None:
        for suffix, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(shots / f"{name}-{suffix}.png"))
        page.set_viewport_size(DESKTOP)
    assert errors_in(console) == [], page.url


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Google's endpoints on the emulator, which shows its consent page."""
    return settings.model_copy(
        update={
            "google_api_base": emulator.url,
            "quota_units_per_second": 0.0,
            "sync_lookback_days": 3650,
        }
    )


def test_sign_in_and_look_around(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
    shots: Path,
) -> None:
    rep = tenants.member("acme", "rep")
    seed_showcase(runtime)
    page = browser_page
    page.set_viewport_size(DESKTOP)
    page.goto(live_server + "/login")
    check_page(page, page_console, shots, "login")
    sign_in(page, live_server, rep)
    assert page.locator(".unread-count").first.inner_text().strip().startswith("1")
    check_page(page, page_console, shots, "home")
    for path, name in (
        ("/contacts", "contacts"),
        ("/accounts", "accounts"),
        ("/leads", "leads"),
        ("/notifications", "notifications"),
        ("/preferences", "preferences"),
        ("/api/docs", "api-docs"),
    ):
        page.goto(live_server + path)
        if path == "/api/docs":
            page.wait_for_selector(".swagger-ui .opblock", state="attached", timeout=30_000)
        check_page(page, page_console, shots, name)

    # the keyboard reaches the skip link first, and it jumps over the navigation
    page.goto(live_server + "/contacts")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link" and page.locator(".skip-link").is_visible()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.fill("#global-q", "wayne")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server + "/search?q=wayne")
    results = page.inner_text(".search-results")
    assert "Bruce Wayne" in results and "Wayne Enterprises" in results
    assert "Hank Scorpio" not in results
    check_page(page, page_console, shots, "search")


def test_connect_gmail_and_watch_the_first_sync_finish(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    page_console: list[str],
    shots: Path,
) -> None:
    runtime.settings.public_url = live_server
    rep = tenants.member("acme", "rep")
    mailbox = "rep.mailbox@example.com"
    emulator.create_user(mailbox, name="Rep Mailbox")
    emulator.generate(mailbox, count=150, seed=8, customer_fraction=0.5)
    add_customer_contacts(runtime, "acme", emulator, mailbox)
    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(live_server + "/setup/email")
    check_page(page, page_console, shots)
    page.click("#connect-gmail")
    page.wait_for_url(emulator.url + "/o/oauth2/auth?**")
    page.fill("#email", mailbox)
    page.click("#allow")
    page.wait_for_url(live_server + "/setup/email?connected=*")
    page_console.clear()  # the emulator's consent page is not ours to check (it has no favicon)
    row = page.locator("tr.account-row", has_text=mailbox)
    account_id = int((row.get_attribute("id") or "").removeprefix("account-"))
    assert "Waiting for the first sync" in row.inner_text()
    # The first sync, for real against the emulator (the queued job, run here).
    report = BackgroundSync(runtime, "acme", account_id, emulator_mailbox(emulator, mailbox))
    stored = report.finish().stored
    assert stored > 0
    page.wait_for_selector(f"#account-{account_id} >> text=Up to date", timeout=30_000)
    with runtime.tenant_uow("acme") as uow:
        in_ledger = uow.session.scalar(
            select(func.count())
            .select_from(MailLedgerRow)
            .where(MailLedgerRow.mail_account_id == account_id, MailLedgerRow.outcome == "stored")
        )
    assert in_ledger == stored
    cell = page.inner_text(f"#account-{account_id} .sync-cell")
    assert "stored · " in cell and f"In total: {stored} stored in " in cell, cell
    check_page(page, page_console, shots, "setup-email")
    page.click("nav.section-tabs >> text=Sharing")
    check_page(page, page_console, shots, "setup-email-sharing")


def test_read_a_thread_on_a_contact_and_see_the_accounts_mail_chart(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
    shots: Path,
) -> None:
    rep = tenants.member("acme", "rep")
    showcase = seed_showcase(runtime)
    page = browser_page
    sign_in(page, live_server, rep)
    page.click("nav.mainnav >> text=Contacts")
    page.wait_for_url(f"{live_server}/contacts")
    page.click("table.list >> text=Bruce Wayne")
    page.wait_for_url(f"{live_server}/contacts/{showcase.contact_id}")
    thread = page.locator("details.thread", has_text="Quote for 50 office chairs").first
    thread.locator("summary").first.click()
    messages = thread.locator("article.message")
    assert messages.count() == 4
    assert "Could you send us a quote" in messages.first.inner_text()
    assert "11,200 EUR for the chairs" in messages.last.inner_text()
    chart = page.locator("figure.chart svg rect.bar")
    assert chart.count() >= 24  # 12 weeks, received and sent
    check_page(page, page_console, shots, "contact")

    page.click(".record-side >> text=Wayne Enterprises")
    page.wait_for_url(f"{live_server}/accounts/{showcase.account_id}")
    legend = page.inner_text("figure.chart .chart-legend")
    assert "Received" in legend and "Sent" in legend
    check_page(page, page_console, shots, "account")


def test_move_a_deal_by_drag_and_drop_and_by_keyboard(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
    shots: Path,
) -> None:
    rep = tenants.member("acme", "rep")
    showcase = seed_showcase(runtime)
    page = browser_page
    sign_in(page, live_server, rep)
    page.click("nav.mainnav >> text=Deals")
    page.wait_for_url(f"{live_server}/deals")  # the click returns before the page is replaced
    assert page.locator("figure.chart svg rect.bar").count() >= 1  # pipeline value by stage
    check_page(page, page_console, shots, "deals")
    card = page.locator(f"#deal-{showcase.deal_id}")
    target = page.locator("section.column[data-stage=negotiation]")
    card.drag_to(target)
    target.locator(f"#deal-{showcase.deal_id}").wait_for()
    _wait_for_stage(runtime, showcase.deal_id, "negotiation")
    page.reload()
    assert page.locator(f"section.column[data-stage=negotiation] #deal-{showcase.deal_id}").count()

    # the keyboard alternative: the card's stage list
    page.locator(f"#deal-{showcase.deal_id} select[name=stage]").focus()
    page.locator(f"#deal-{showcase.deal_id} select[name=stage]").select_option("closing")
    page.locator(f"section.column[data-stage=closing] #deal-{showcase.deal_id}").wait_for()
    _wait_for_stage(runtime, showcase.deal_id, "closing")

    page.click(f"#deal-{showcase.deal_id} >> text=Office chairs for the new floor")
    page.wait_for_url(f"{live_server}/deals/{showcase.deal_id}")
    assert "Quote for 50 office chairs" in page.inner_text("#timeline")
    check_page(page, page_console, shots, "deal")


def _wait_for_stage(runtime: Runtime, deal_id: int, stage: str) -> None:
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with runtime.tenant_uow("acme") as uow:
            deal = uow.session.get(DealRow, deal_id)
            if deal is not None and deal.stage == stage:
                return
        time.sleep(0.1)
    pytest.fail(f"deal {deal_id} never reached stage {stage}")


def test_disconnect_a_mailbox(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
    shots: Path,
) -> None:
    rep = tenants.member("acme", "rep")
    showcase = seed_showcase(runtime)
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, rep)
    page.set_viewport_size(PHONE)  # on the phone layout, through the menu
    page.click("button.nav-toggle")
    page.click("summary:has-text('Setup')")
    page.click(".menu-items >> text=Email")
    page.wait_for_url(live_server + "/setup/email")
    page.click(f"#account-{showcase.mailbox_id} >> text=Disconnect")
    page.wait_for_url(live_server + "/setup/email?notice=disconnected*")
    row = page.locator(f"#account-{showcase.mailbox_id}")
    assert row.get_attribute("data-status") == "disconnected"
    assert "Mailbox disconnected" in page.inner_text(".notice")
    page.set_viewport_size(DESKTOP)
    check_page(page, page_console, shots)


def test_an_admin_looks_at_users_privacy_and_the_audit_log(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
    shots: Path,
) -> None:
    admin = tenants.member("acme", "admin")
    tenants.member("acme", "rep")
    seed_showcase(runtime)
    page = browser_page
    sign_in(page, live_server, admin)
    for path, name, heading in (
        ("/setup/users", "setup-users", "Users"),
        ("/setup/privacy", "setup-privacy", "Privacy"),
        ("/setup/audit-log", "audit-log", "Audit log"),
    ):
        page.goto(live_server + path)
        assert heading in page.inner_text("h1"), path
        check_page(page, page_console, shots, name)
