"""Working with records in Chromium: create, find, open, note, pipeline, hostile mail bodies."""

from __future__ import annotations

from typing import Any

import pytest

from inboxcrm.bootstrap import Runtime
from tests.e2e.browser_steps import errors_in, sign_in
from tests.factories import (
    make_account,
    make_contact,
    make_deal,
    make_email_message,
    make_mail_account,
    make_thread,
)
from tests.fixtures.web import TenantFactory

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/inboxcrm-record.png"

XSS_HTML = """
<p>Hello <b>there</b>, see <a href="https://example.org/offer">our offer</a>.</p>
<script>window.__xss = "script"</script>
<img src="x" onerror="window.__xss = 'onerror'">
<img src="https://tracker.example.net/pixel.gif" alt="tracker">
<a href="javascript:window.__xss='link'" id="js-link">click me</a>
<svg onload="window.__xss = 'svg'"><circle r="4"></circle></svg>
<iframe src="javascript:parent.__xss='iframe'"></iframe>
<div style="background:url(javascript:window.__xss='css')"
     onclick="window.__xss='click'">Regards</div>
<form action="https://evil.example.com"><button id="evil">Win</button></form>
"""


def test_create_contact_with_two_emails_find_it_and_add_a_note(
    live_server: str, browser_page: Any, tenants: TenantFactory, page_console: list[str]
) -> None:
    rep = tenants.member("acme", "rep")
    page = browser_page
    sign_in(page, live_server, rep)

    page.click("nav.mainnav >> text=Contacts")
    page.click("text=New contact")
    page.fill("input[name=first_name]", "Ada")
    page.fill("input[name=last_name]", "Lovelace")
    page.fill("input[name=title]", "Head of Engineering")
    page.locator("input[name=emails]").nth(0).fill("ada@analytical.example.com")
    page.click("text=+ Add another address")
    page.locator("input[name=emails]").nth(1).fill("ada.l@personal.example.org")
    page.click("button:has-text('Create contact')")
    page.wait_for_url(f"{live_server}/contacts/*")
    record_url = page.url
    details = page.inner_text("dl.facts")
    assert "ada@analytical.example.com" in details
    assert "ada.l@personal.example.org" in details

    page.click("nav.mainnav >> text=Contacts")
    page.fill("input[name=q]", "personal.example")
    page.click("button:has-text('Search')")
    row = page.locator("table.list tbody tr")
    assert row.count() == 1
    assert "Ada Lovelace" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(record_url)

    page.fill("textarea[name=body]", "Met at the conference; wants a demo next week.")
    page.click("button:has-text('Add note')")
    page.wait_for_url(record_url + "#timeline")
    note = page.locator("ol.timeline .tl-note").first
    assert "wants a demo next week" in note.inner_text()
    assert "by you" in note.inner_text()
    assert errors_in(page_console) == []


def test_hostile_mail_body_does_not_run_and_the_page_has_no_csp_errors(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
) -> None:
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        account = make_account(uow, name="Globex", domain="globex.example.com")
        contact = make_contact(
            uow,
            first_name="Grace",
            last_name="Hopper",
            title="CTO",
            account_id=account.id,
            emails=["grace@globex.example.com", "g.hopper@mail.example.org"],
        )
        make_deal(uow, name="Globex platform licence", account_id=account.id, contact_id=contact.id)
        mailbox = make_mail_account(uow, email="rep@acme.example.com", display_name="Rep")
        thread = make_thread(uow, mailbox, subject="Pricing for next year")
        key = ("contact", contact.id)
        make_email_message(
            uow,
            thread=thread,
            link_to=[key],
            from_address="grace@globex.example.com",
            from_name="Grace Hopper",
            subject="Pricing for next year",
            snippet="Hello there, see our offer.",
            body_html=XSS_HTML,
            match_detail="grace@globex.example.com",
            attachments=[{"filename": "quote.pdf", "mime_type": "application/pdf", "size": 48213}],
        )
        make_email_message(
            uow,
            thread=thread,
            link_to=[key],
            from_address=mailbox.email,
            from_name="Rep",
            to_addresses=["grace@globex.example.com"],
            direction="outbound",
            subject="Re: Pricing for next year",
            snippet="Thanks Grace, the numbers are attached.",
            body_text="Thanks Grace,\n\nthe numbers are attached.\n\nBest",
        )
    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(f"{live_server}/contacts/{contact.id}")
    page.fill("textarea[name=body]", "Asked for a volume discount.")
    page.click("button:has-text('Add note')")
    page.wait_for_url(f"{live_server}/contacts/{contact.id}#timeline")

    thread_box = page.locator("details.thread").first
    thread_box.locator("summary").first.click()
    body = thread_box.locator(".mail-body").first
    assert "our offer" in body.inner_text()
    assert "grace@globex.example.com is one of this record" in thread_box.inner_text()
    assert "quote.pdf" in thread_box.inner_text()
    assert body.locator("script, iframe, svg, form, [onerror], [onclick], [style]").count() == 0
    assert body.locator("img[src^='http']").count() == 0
    link = body.locator("a[href='https://example.org/offer']")
    assert link.get_attribute("rel") == "noopener noreferrer"
    body.locator("#js-link, a:has-text('click me')").first.click()
    page.mouse.move(5, 5)
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert errors_in(page_console) == []


def test_pipeline_board_moves_a_deal_with_htmx(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    page_console: list[str],
) -> None:
    rep = tenants.member("acme", "rep")
    with runtime.tenant_uow("acme") as uow:
        account = make_account(uow, name="Initech")
        make_deal(uow, name="Initech renewal", account_id=account.id, stage="qualification")
    page = browser_page
    sign_in(page, live_server, rep)
    page.click("nav.mainnav >> text=Deals")
    page.wait_for_url(f"{live_server}/deals")  # the click returns before the page is replaced
    column = page.locator("section.column[aria-label=proposal]")
    assert column.locator(".deal-card").count() == 0
    page.select_option("article.deal-card select[name=stage]", "proposal")
    column.locator(".deal-card:has-text('Initech renewal')").wait_for()
    assert page.locator("section.column[aria-label=qualification] .deal-card").count() == 0
    page.reload()
    assert "Initech renewal" in page.inner_text("section.column[aria-label=proposal]")
    assert errors_in(page_console) == []
