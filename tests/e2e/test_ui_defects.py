"""Issue 15's UI defects, each checked in Chromium the way a user met it.

1 record pages scrolling sideways · 2 the phone layout · 4 /api/docs · 5 the per-thread sharing
form · 7 partial domain filters · 8 silent duplicate contacts · 9 raw validation text ·
10 Setup → Email as one wall · 11 absolute UTC times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import ContactRow
from inboxcrm.bootstrap import Runtime
from tests.e2e.browser_steps import errors_in, sign_in
from tests.e2e.layout_checks import DESKTOP, PHONE, assert_fits_both_widths, overflow_at
from tests.factories import (
    make_account,
    make_contact,
    make_email_message,
    make_mail_account,
    make_thread,
)
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser

LONG_SNIPPET = (
    "We reviewed the proposal with the whole procurement team this morning and before we sign "
    "anything we would like to go through the delivery schedule, the support terms, the training "
    "plan for the new colleagues in Ankara and Berlin, and the price per seat once more in detail."
)


def _contact_with_mail(runtime: Runtime, *, user_id: int = 1) -> tuple[int, int]:
    """A contact with a two-message thread in a mailbox of ``user_id``; (contact id, thread id)."""
    with runtime.tenant_uow("acme") as uow:
        account = make_account(uow, name="Wayne Enterprises", domain="wayne-enterprises.example")
        contact = make_contact(
            uow,
            first_name="Bruce",
            last_name="Wayne",
            account_id=account.id,
            emails=["bruce@wayne-enterprises.example"],
        )
        mailbox = make_mail_account(uow, user_id=user_id, email="rep@acme.example.com")
        thread = make_thread(uow, mailbox, subject="Delivery schedule and support terms")
        key = ("contact", contact.id)
        make_email_message(
            uow,
            thread=thread,
            link_to=[key],
            from_address="bruce@wayne-enterprises.example",
            from_name="Bruce Wayne",
            subject=thread.subject,
            snippet=LONG_SNIPPET,
            body_text=LONG_SNIPPET,
            sent_at=datetime(2025, 3, 12, 11, 3, tzinfo=UTC),
        )
        make_email_message(
            uow,
            thread=thread,
            link_to=[key],
            from_address=mailbox.email,
            from_name="Rep",
            to_addresses=["bruce@wayne-enterprises.example"],
            direction="outbound",
            subject="Re: " + thread.subject,
            snippet="Thanks Bruce, " + LONG_SNIPPET,
            body_text="Thanks Bruce, happy to walk through it on Thursday.",
            sent_at=datetime(2025, 3, 12, 15, 40, tzinfo=UTC),
        )
        return contact.id, thread.id


def _live_contacts(runtime: Runtime) -> int:
    with runtime.tenant_uow("acme") as uow:
        query = select(func.count()).select_from(ContactRow).where(ContactRow.deleted_at.is_(None))
        return int(uow.session.scalar(query) or 0)


def test_1_a_record_page_with_long_snippets_fits_a_desktop_window(
    live_server: str, browser_page: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    contact_id, _ = _contact_with_mail(runtime)
    page = browser_page
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server, rep)
    page.goto(f"{live_server}/contacts/{contact_id}")
    found = overflow_at(page, DESKTOP)
    assert found["scroll"] <= 0, f"the record page is {found['scroll']} px too wide"
    topbar = page.locator("header.topbar").bounding_box()
    assert topbar is not None and topbar["width"] >= DESKTOP["width"] - 1
    assert_fits_both_widths(page)


def test_2_the_phone_layout_has_a_menu_button_and_nothing_scrolls_sideways(
    live_server: str, browser_page: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    contact_id, _ = _contact_with_mail(runtime)
    page = browser_page
    sign_in(page, live_server, rep)
    page.set_viewport_size(PHONE)
    page.goto(live_server + "/")
    contacts_link = page.locator("nav.mainnav a", has_text="Contacts")
    toggle = page.locator("button.nav-toggle")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not contacts_link.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    link_box = contacts_link.bounding_box()
    assert link_box is not None and link_box["width"] >= 200  # a full-width entry, not a strip
    contacts_link.click()
    page.wait_for_url(live_server + "/contacts")

    for path in (f"/contacts/{contact_id}", "/setup/email", "/contacts", "/deals"):
        page.goto(live_server + path)
        found = overflow_at(page, PHONE)
        assert found["scroll"] <= 0 and not found["wide"], f"{path}: {found}"
    page.goto(live_server + "/setup/email")
    disconnect = page.locator("tr.account-row button:has-text('Disconnect')")
    box = disconnect.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_4_api_docs_render_from_this_server_only_under_the_strict_csp(
    live_server: str, browser_page: Any, page_console: list[str]
) -> None:
    page = browser_page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto(live_server + "/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self';" in (response.headers.get("content-security-policy") or "")
    try:
        page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    except Exception:  # say why the page stayed blank
        pytest.fail(f"Swagger UI did not render: {page.inner_text('body')[:300]!r} {page_console}")
    assert page.locator(".opblock-summary-path", has_text="/api/v1/contacts").count() >= 1
    assert [url for url in requested if not url.startswith(live_server)] == []
    assert live_server + "/openapi.json" in requested
    assert errors_in(page_console) == []


def test_5_the_thread_sharing_choice_sits_in_a_small_thread_menu(
    live_server: str, browser_page: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    contact_id, thread_id = _contact_with_mail(runtime)
    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(f"{live_server}/contacts/{contact_id}")
    thread = page.locator("details.thread").first
    thread.locator("summary").first.click()
    messages = thread.locator(".messages")
    first_child = messages.evaluate("el => el.firstElementChild.tagName.toLowerCase()")
    assert first_child == "article"  # the first message comes first, no form above it
    assert messages.locator("select").count() == 0
    menu = thread.locator("details.thread-menu")
    assert menu.count() == 1 and not menu.locator("select").first.is_visible()
    menu.locator("summary").click()
    menu.locator("select[name=visibility]").select_option("private")
    menu.locator("button:has-text('Save')").click()
    page.wait_for_url(f"{live_server}/contacts/{contact_id}*")
    page.locator("details.thread summary").first.click()
    page.locator("details.thread-menu summary").first.click()
    chosen = page.locator("details.thread-menu select[name=visibility]").input_value()
    assert chosen == "private", thread_id


def test_7_a_partial_domain_filters_the_accounts_list(
    live_server: str, browser_page: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        make_account(uow, name="Wayne Enterprises", domain="wayne-enterprises.example")
        make_account(uow, name="Stark Industries", domain="stark.example")
    page = browser_page
    sign_in(page, live_server, rep)
    for typed in ("wayne", "enterprises.exa", "WAYNE-ENT", "%_\\"):
        page.goto(f"{live_server}/accounts")
        page.fill("input[name=domain]", typed)
        page.click("form.filters button:has-text('Search')")
        page.wait_for_url(f"{live_server}/accounts?*")
        assert page.locator(".error-page").count() == 0, typed
        names = page.locator("table.list tbody tr").all_inner_texts()
        if typed == "%_\\":
            assert names == [] and "No accounts match" in page.inner_text("main")
        else:
            assert len(names) == 1 and "Wayne Enterprises" in names[0], (typed, names)


def test_8_a_second_contact_with_a_known_address_is_flagged_and_can_still_be_created(
    live_server: str, browser_page: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        existing = make_contact(
            uow, first_name="Grace", last_name="Hopper", emails=["grace@navy.example"]
        )
    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(live_server + "/contacts/new")
    page.fill("input[name=first_name]", "G.")
    page.fill("input[name=last_name]", "Hopper")
    page.locator("input[name=emails]").first.fill("Grace@Navy.example")
    page.click("button:has-text('Create contact')")
    warning = page.locator(".duplicate-warning")
    warning.wait_for()
    assert "grace@navy.example" in warning.inner_text()
    link = warning.locator(f"a[href='/contacts/{existing.id}']")
    assert link.count() == 1 and "Grace Hopper" in link.inner_text()
    assert page.url == live_server + "/contacts"  # nothing was created yet
    assert _live_contacts(runtime) == 1
    page.click("button:has-text('Create anyway')")
    page.wait_for_url(f"{live_server}/contacts/*")
    assert "G. Hopper" in page.inner_text("h1")
    assert _live_contacts(runtime) == 2


def test_9_validation_messages_say_what_to_fix_next_to_the_field(
    live_server: str, browser_page: Any, tenants: TenantFactory
) -> None:
    rep = tenants.member("acme", "rep")
    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(live_server + "/accounts/new")
    page.fill("input[name=phone]", "1" * 60)
    page.click("button:has-text('Create account')")
    name_field = page.locator("label.field.has-error", has=page.locator("input[name=name]"))
    name_field.wait_for()
    assert "Enter the company name." in name_field.inner_text()
    phone_field = page.locator("label.field.has-error", has=page.locator("input[name=phone]"))
    assert "at most 50 characters" in phone_field.inner_text()
    text = page.inner_text("main")
    assert "String should" not in text and "at least 1 character" not in text

    page.goto(live_server + "/contacts/new")
    page.locator("input[name=emails]").first.fill("not-an-address")
    page.click("button:has-text('Create contact')")
    emails = page.locator("fieldset.has-error")
    emails.wait_for()
    assert "Enter an email address like name@example.com" in emails.inner_text()


def test_10_setup_email_is_split_into_sections_with_tabs(
    live_server: str, browser_page: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    admin = tenants.member("acme", "admin")
    with runtime.tenant_uow("acme") as uow:
        make_mail_account(uow, user_id=1, email="admin@acme.example.com")
    page = browser_page
    sign_in(page, live_server, admin)
    page.goto(live_server + "/setup/email")
    tabs = page.locator("nav.section-tabs a")
    labels = [t.strip() for t in tabs.all_inner_texts()]
    assert labels == [
        "Mailboxes",
        "Sync",
        "Sharing",
        "Privacy & storage",
        "Never log",
        "Tracking",
        "Google",
        "Calendar & labels",
    ]
    assert page.locator("#section-mailboxes").is_visible()
    assert not page.locator("#section-never-log").is_visible()
    page.click("nav.section-tabs a:has-text('Never log')")
    assert page.locator("#section-never-log").is_visible()
    assert not page.locator("#section-mailboxes").is_visible()
    assert page.locator("nav.section-tabs a[aria-current=page]").inner_text() == "Never log"
    page.fill("#section-never-log input[name=entry]", "not a domain")
    page.click("#section-never-log button:has-text('Add')")
    page.locator("#section-never-log .alert.error").wait_for()
    assert page.locator("#section-never-log").is_visible()  # the error's section is shown


def test_11_times_are_shown_in_the_users_zone_with_relative_recent_times(
    live_server: str, chromium_browser: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    contact_id, _ = _contact_with_mail(runtime)
    context = chromium_browser.new_context(viewport=DESKTOP, timezone_id="Europe/Istanbul")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, live_server, rep)
        page.goto(f"{live_server}/contacts/{contact_id}")
        page.locator("details.thread summary").first.click()
        first = page.locator("article.message time").first
        assert "12 Mar 2025, 14:03" in first.inner_text()  # 11:03 UTC in Istanbul
        page.fill("textarea[name=body]", "Called him back.")
        page.click("button:has-text('Add note')")
        note_time = page.locator(".tl-note time").first
        assert note_time.inner_text().strip() in {"just now", "1 min ago"}
        assert "GMT+3" in (note_time.get_attribute("title") or "")

        page.goto(live_server + "/preferences")
        page.select_option("select[name=time_zone]", "America/New_York")
        page.click("button:has-text('Save preferences')")
        page.wait_for_url(live_server + "/preferences?*")
        page.goto(f"{live_server}/contacts/{contact_id}")
        page.locator("details.thread summary").first.click()
        assert "12 Mar 2025, 07:03" in page.locator("article.message time").first.inner_text()
    finally:
        context.close()
