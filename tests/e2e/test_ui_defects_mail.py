"""Issue 15's defects about mail, checked in Chromium on mail a real sync stored from the emulator.

3 the sync status tells the truth: while a run goes on, Setup → Email shows its counts moving;
  afterwards the last run's counts and the account's totals, which are the ledger's (also after
  an incremental run that found nothing new); a full resync shows as running; the first-sync
  notification counts the stored messages and conversations.
6 the home feed lists each email once, naming every record it is on.
12 the demo mailbox reads like correspondence on a record page: each subject is one thread, the
  replies answer the question, and no sentence repeats across the messages.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailMessageRow,
    EmailThreadRow,
    MailLedgerRow,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.emulator import conversation_text as talk
from tests.e2e.browser_steps import errors_in, sign_in
from tests.e2e.layout_checks import assert_fits_both_widths
from tests.e2e.sync_steps import BackgroundSync, HeldMailbox
from tests.factories import (
    make_account,
    make_contact,
    make_email_message,
    make_mail_account,
    make_thread,
)
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.sync.conftest import add_customer_contacts, emulator_mailbox

pytestmark = pytest.mark.browser

MAILBOX = "rep.mailbox@example.com"
RUN_COUNTS = re.compile(r"(This|Last) run: (\d+) scanned · (\d+) stored · (\d+) skipped")


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """Google's endpoints on the emulator, no local quota gate, the whole generated mailbox."""
    return settings.model_copy(
        update={
            "google_api_base": emulator.url,
            "quota_units_per_second": 0.0,
            "sync_lookback_days": 3650,
        }
    )


def _connect_in_browser(page: Any, base_url: str, emulator: EmulatorHandle) -> int:
    """Setup → Email → Connect Gmail → the emulator's consent page; the new account's id."""
    page.goto(base_url + "/setup/email")
    page.click("#connect-gmail")
    page.wait_for_url(emulator.url + "/o/oauth2/auth?**")
    page.fill("#email", MAILBOX)
    page.click("#allow")
    page.wait_for_url(base_url + "/setup/email?connected=*")
    row = page.locator("tr.account-row", has_text=MAILBOX)
    return int((row.get_attribute("id") or "").removeprefix("account-"))


def _run_counts(page: Any, account_id: int) -> tuple[str, int, int, int]:
    text = page.inner_text(f"#account-{account_id} .run-counts")
    found = RUN_COUNTS.search(text)
    assert found is not None, text
    return found[1], int(found[2]), int(found[3]), int(found[4])


def _wait_for_counts(page: Any, account_id: int, pattern: str) -> None:
    """Wait (the table polls itself every 2 s while a sync runs) until the run counts match."""
    page.wait_for_function(
        """([selector, pattern]) => {
          const el = document.querySelector(selector);
          return el !== null && new RegExp(pattern).test(el.textContent);
        }""",
        arg=[f"#account-{account_id} .run-counts", pattern],
        timeout=60_000,
    )


def _ledger_totals(runtime: Runtime, account_id: int) -> tuple[int, int, int]:
    """(stored in the ledger, stored messages, their threads) of the account."""
    with runtime.tenant_uow("acme") as uow:
        ledger_stored = uow.session.scalar(
            select(func.count())
            .select_from(MailLedgerRow)
            .where(MailLedgerRow.mail_account_id == account_id, MailLedgerRow.outcome == "stored")
        )
        messages = uow.session.scalar(
            select(func.count())
            .select_from(EmailMessageRow)
            .where(EmailMessageRow.mail_account_id == account_id)
        )
        threads = uow.session.scalar(
            select(func.count(func.distinct(EmailMessageRow.thread_id))).where(
                EmailMessageRow.mail_account_id == account_id
            )
        )
    return int(ledger_stored or 0), int(messages or 0), int(threads or 0)


def test_3_sync_status_progress_and_notification_show_the_true_counts(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    page_console: list[str],
) -> None:
    runtime.settings.public_url = live_server
    rep = tenants.member("acme", "rep")
    emulator.create_user(MAILBOX, name="Rep Mailbox")
    emulator.generate(MAILBOX, count=240, seed=15, customer_fraction=0.6)
    add_customer_contacts(runtime, "acme", emulator, MAILBOX)
    page = browser_page
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, rep)
    account_id = _connect_in_browser(page, live_server, emulator)
    page_console.clear()  # the emulator's consent page is not ours to check (it has no favicon)

    # The first sync, held after its first batch was stored: the page shows the run moving.
    held = HeldMailbox(emulator_mailbox(emulator, MAILBOX), "fetch_messages", open_calls=1)
    first = BackgroundSync(runtime, "acme", account_id, held)
    assert held.holding.wait(60), "the sync never asked for its second batch"
    _wait_for_counts(page, account_id, r"This run: \d+ scanned · [1-9]\d* stored")
    row = f"#account-{account_id}"
    assert "Fetching messages" in page.inner_text(f"{row} .phase")
    assert "(full sync)" in page.inner_text(f"{row} .sync-cell")
    _, scanned_mid, stored_mid, _ = _run_counts(page, account_id)
    percent = int(page.locator(f"{row} progress").get_attribute("value") or "0")
    assert 0 < percent < 100, percent
    ledger_mid, _, _ = _ledger_totals(runtime, account_id)
    assert stored_mid == ledger_mid
    assert page.inner_text(f"{row} .total-stored") == str(ledger_mid)
    held.go_on()
    report = first.finish()
    assert report.stored > stored_mid and report.listed > scanned_mid

    page.wait_for_selector(f"{row} >> text=Up to date", timeout=60_000)
    _wait_for_counts(page, account_id, "Last run")
    ledger_stored, messages, threads = _ledger_totals(runtime, account_id)
    assert ledger_stored == messages == report.stored
    kind, _, stored, skipped = _run_counts(page, account_id)
    assert (kind, stored, skipped) == ("Last", report.stored, report.skipped)
    totals = page.inner_text(f"{row} .account-totals")
    assert f"In total: {ledger_stored} stored in {threads} conversations" in totals
    assert page.locator(f"{row} progress").get_attribute("value") == "100"

    # An incremental run that finds nothing new: the run says 0, the totals stay the ledger's.
    quiet = BackgroundSync(runtime, "acme", account_id, emulator_mailbox(emulator, MAILBOX))
    assert quiet.finish().mode == "incremental"
    _wait_for_counts(page, account_id, "Last run: 0 scanned · 0 stored")
    assert page.inner_text(f"{row} .total-stored") == str(ledger_stored)
    assert "Up to date" in page.inner_text(f"{row} .phase")
    page.click(f"{row} >> text=Sync ledger")
    page.wait_for_url(f"{live_server}/setup/email/{account_id}/ledger*")
    stat = page.locator(".card.stat", has_text="stored").first.locator(".num")
    assert stat.inner_text() == str(ledger_stored)

    # A full resync shows as running while it runs, and ends with the same totals.
    page.goto(live_server + "/setup/email")
    page.click(f"{row} button:has-text('Full resync')")
    page.wait_for_url(live_server + "/setup/email?*")
    # Held at its listing (the search chunks' first pages come in one batch).
    resync_hold = HeldMailbox(emulator_mailbox(emulator, MAILBOX), "list_first_pages", open_calls=0)
    resync = BackgroundSync(runtime, "acme", account_id, resync_hold, full=True)
    assert resync_hold.holding.wait(60), "the full resync never listed the mailbox"
    _wait_for_counts(page, account_id, "This run")
    assert "(full sync)" in page.inner_text(f"{row} .sync-cell")
    assert "Up to date" not in page.inner_text(f"{row} .phase")
    resync_hold.go_on()
    assert resync.finish().mode == "full"
    _wait_for_counts(page, account_id, "Last run")
    page.wait_for_selector(f"{row} >> text=Up to date", timeout=60_000)
    assert page.inner_text(f"{row} .total-stored") == str(ledger_stored)
    assert_fits_both_widths(page)

    # The first-sync notification counts what the ledger holds.
    page.goto(live_server + "/notifications")
    text = page.inner_text("main")
    assert (
        f"The first sync finished: {ledger_stored} messages in {threads} conversations" in text
    ), text
    assert "0 conversations" not in text
    assert errors_in(page_console) == []


def test_6_the_home_feed_lists_each_email_once_naming_its_records(
    live_server: str, browser_page: Any, tenants: TenantFactory, runtime: Runtime
) -> None:
    rep = tenants.member("acme", "rep")
    subjects = ["Order 4711 confirmed", "Delivery date for order 4711", "Invoice 4711"]
    with runtime.tenant_uow("acme") as uow:
        account = make_account(uow, name="Wayne Enterprises", domain="wayne-enterprises.example")
        contact = make_contact(
            uow,
            first_name="Bruce",
            last_name="Wayne",
            account_id=account.id,
            emails=["bruce@wayne-enterprises.example"],
        )
        mailbox = make_mail_account(uow, user_id=1, email="rep@acme.example.com")
        for day, subject in enumerate(subjects, start=1):
            thread = make_thread(uow, mailbox, subject=subject)
            make_email_message(
                uow,
                thread=thread,
                link_to=[("contact", contact.id), ("account", account.id)],
                from_address="bruce@wayne-enterprises.example",
                subject=subject,
                sent_at=datetime(2025, 3, day, 9, 0, tzinfo=UTC),
            )
        entries = uow.session.scalar(
            select(func.count()).select_from(ActivityRow).where(ActivityRow.kind == "email")
        )
    assert entries == 2 * len(subjects)  # each email is on the contact's and the account's timeline
    page = browser_page
    sign_in(page, live_server, rep)
    items = page.locator("ul.activity li", has=page.locator(".badge.kind-email"))
    shown = [items.nth(i).locator(".summary").inner_text() for i in range(items.count())]
    assert sorted(shown) == sorted(subjects)
    for i in range(items.count()):
        names = items.nth(i).locator(".records a").all_inner_texts()
        assert sorted(names) == ["Bruce Wayne", "Wayne Enterprises"], names
    links = items.first.locator(".records a")
    hrefs = sorted(links.nth(i).get_attribute("href") or "" for i in range(links.count()))
    assert hrefs == [f"/accounts/{account.id}#timeline", f"/contacts/{contact.id}#timeline"]
    assert_fits_both_widths(page)


def _subject_script(subject: str) -> talk.Script | None:
    """The English script a generated subject was written from, if any."""
    bare = re.sub(r"^(Re|Fwd|AW|WG):\s*", "", subject, flags=re.IGNORECASE)
    for template, script in talk.EN_SCRIPTS.items():
        pattern = "^" + re.sub(r"\\\{[a-z_]+\\\}", ".+", re.escape(template)) + "$"
        if re.match(pattern, bare):
            return script
    return None


def _stems(lines: tuple[str, ...]) -> list[str]:
    return [max(re.split(r"\{[a-z_]+\}", line), key=len).strip() for line in lines]


def _busiest_contact(runtime: Runtime) -> int:
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.execute(
            select(ActivityRow.record_id, func.count(func.distinct(EmailThreadRow.id)))
            .join(EmailMessageRow, EmailMessageRow.message_key_id == ActivityRow.ref_id)
            .join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
            .where(ActivityRow.kind == "email", ActivityRow.record_kind == "contact")
            .group_by(ActivityRow.record_id)
            .order_by(func.count(func.distinct(EmailThreadRow.id)).desc(), ActivityRow.record_id)
        ).first()
    assert row is not None
    return int(row[0])


def test_12_demo_mail_on_a_record_page_reads_like_correspondence(
    live_server: str,
    browser_page: Any,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    page_console: list[str],
) -> None:
    rep = tenants.member("acme", "rep")
    emulator.create_user(MAILBOX, name="Rep Mailbox")
    emulator.generate(MAILBOX, count=400, seed=3, customer_fraction=0.5)
    add_customer_contacts(runtime, "acme", emulator, MAILBOX)
    with runtime.tenant_uow("acme") as uow:
        account_id = make_mail_account(uow, user_id=1, email=MAILBOX, status="connected").id
    BackgroundSync(runtime, "acme", account_id, emulator_mailbox(emulator, MAILBOX)).finish()
    contact_id = _busiest_contact(runtime)

    page = browser_page
    sign_in(page, live_server, rep)
    page.goto(f"{live_server}/contacts/{contact_id}")
    threads = page.locator("details.thread")
    assert threads.count() >= 3, "the busiest record should hold several conversations"
    subjects: list[str] = []
    bodies: list[str] = []
    checked_replies = 0
    for i in range(threads.count()):
        thread = threads.nth(i)
        thread.locator("summary").first.click()
        messages = thread.locator("article.message .mail-body")
        texts = [messages.nth(j).inner_text() for j in range(messages.count())]
        subject = thread.locator("summary .thread-subject").first.inner_text().strip()
        subjects.append(re.sub(r"^(Re|Fwd|AW|WG):\s*", "", subject, flags=re.IGNORECASE))
        bodies.extend(texts)
        script = _subject_script(subject)
        if script is None or len(texts) < 2:
            continue
        # Oldest first on the page: the opening asks, the next message answers it.
        assert any(stem in texts[0] for stem in _stems(script["open"])), (subject, texts[0])
        assert any(stem in texts[1] for stem in _stems(script["answer"])), (subject, texts[1])
        checked_replies += 1
    assert checked_replies >= 1
    repeated = [s for s, n in Counter(subjects).items() if n > 1]
    assert repeated == [], f"subjects split into several threads on one record: {repeated}"

    lines: Counter[str] = Counter()
    for text in bodies:
        lines.update({line.strip() for line in text.splitlines() if len(line.strip()) > 30})
    sentence, most = lines.most_common(1)[0]
    assert most <= 2, f"{sentence!r} is in {most} of the {len(bodies)} messages on one record"
    assert_fits_both_widths(page)
    assert errors_in(page_console) == []
