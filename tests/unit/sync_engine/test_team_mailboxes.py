"""One email in several colleagues' mailboxes: one timeline entry per record (SQLite and PG).

Alice (user 7) and Bob (user 8) both hold a copy of the same customer email. Each mailbox is
synced by the real engine (against in-memory mailboxes); the record shows the email once,
listing the mailboxes that hold it, with each reader seeing their own copy's provider ids and
each owner's sharing applied to their copy. Carol (user 9) holds no copy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.dedup_tables import EmailMessageKeyRow
from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailMessageRow,
    MailAccountRow,
    RecordEmailRow,
    TenantSettingsRow,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.sharing import Detail
from inboxcrm.services.mail_accounts import purge_account_mail
from inboxcrm.services.mail_sharing import MailViewer
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.overview import recent_activity
from inboxcrm.services.tenants import create_tenant
from inboxcrm.services.timeline import EmailItem, timeline_page
from inboxcrm.web.ui.timeline_view import ThreadGroup, group_timeline
from tests.factories import make_account, make_contact, make_mail_account
from tests.unit.sync_engine.fake_mailbox import FakeMailbox

ALICE, BOB = "alice@acme-sales.com", "bob@acme-sales.com"
CUSTOMER = "carol@customer.example"


def customer_mail(
    subject: str = "Renewal",
    *,
    message_id: str | None = "<renewal-1@customer.example>",
    **more: str,
) -> bytes:
    lines = [
        f"From: Carol <{CUSTOMER}>",
        f"To: {ALICE}, {BOB}",
        f"Subject: {subject}",
        *([f"Message-ID: {message_id}"] if message_id else []),
        "Date: Mon, 3 Nov 2025 10:00:00 +0000",
        *(f"{k.replace('_', '-')}: {v}" for k, v in more.items()),
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Can we talk about the renewal?",
    ]
    return "\r\n".join(lines).encode()


@dataclass
class Team:
    runtime: Runtime
    contact_id: int
    company_id: int
    alice_id: int
    bob_id: int
    alice_box: FakeMailbox
    bob_box: FakeMailbox

    def sync(self, account_id: int) -> None:
        box = self.alice_box if account_id == self.alice_id else self.bob_box
        report = sync_account(self.runtime, "acme", account_id, mailbox=box)
        assert report.status == "ok", report  # type: ignore[attr-defined]

    def sync_both(self) -> None:
        self.sync(self.alice_id)
        self.sync(self.bob_id)

    def emails(self, user_id: int, record: tuple[str, int] | None = None) -> list[EmailItem]:
        kind, record_id = record or ("contact", self.contact_id)
        with self.runtime.tenant_uow("acme") as uow:
            page = timeline_page(uow, kind, record_id, viewer=MailViewer(user_id))
        return [i for i in page.items if isinstance(i, EmailItem)]

    def share(self, account_id: int, visibility: str | None, detail: str | None = None) -> None:
        with self.runtime.tenant_uow("acme") as uow:
            row = uow.session.get(MailAccountRow, account_id)
            assert row is not None
            row.sharing, row.sharing_detail = visibility, detail
            uow.commit()

    def entries(self) -> list[tuple[str, int, int]]:
        with self.runtime.tenant_uow("acme") as uow:
            return [
                (a.record_kind, a.record_id, a.ref_id)
                for a in uow.session.scalars(select(ActivityRow).where(ActivityRow.kind == "email"))
            ]


@pytest.fixture
def team(runtime: Runtime) -> Iterator[Team]:
    create_tenant(runtime, "acme")
    with runtime.tenant_uow("acme") as uow:
        company = make_account(uow, name="Customer Inc", domain="customer.example")
        contact = make_contact(uow, emails=[CUSTOMER], account_id=company.id)
        alice = make_mail_account(uow, email=ALICE, user_id=7)
        bob = make_mail_account(uow, email=BOB, user_id=8)
    yield Team(
        runtime,
        contact.id,
        company.id,
        alice.id,
        bob.id,
        FakeMailbox(ALICE, id_prefix="alice"),
        FakeMailbox(BOB, id_prefix="bob"),
    )


def test_the_same_email_in_two_mailboxes_is_one_entry_per_record(team: Team) -> None:
    alice_copy = team.alice_box.deliver(customer_mail())
    bob_copy = team.bob_box.deliver(customer_mail())
    team.sync_both()

    entries = team.entries()
    assert sorted((k, i) for k, i, _ in entries) == [
        ("account", team.company_id),
        ("contact", team.contact_id),
    ]
    with team.runtime.tenant_uow("acme") as uow:
        copies = uow.session.execute(
            select(EmailMessageRow.provider_message_id, EmailMessageRow.message_key_id)
        ).all()
        keys = uow.session.scalar(select(func.count()).select_from(EmailMessageKeyRow))
    assert {c.provider_message_id for c in copies} == {alice_copy, bob_copy}
    assert len({c.message_key_id for c in copies}) == 1 == keys
    assert {ref for _, _, ref in entries} == {copies[0].message_key_id}

    # Each reader gets their own copy's provider ids; the entry names both mailboxes.
    (seen_by_alice,) = team.emails(7)
    (seen_by_bob,) = team.emails(8)
    (seen_by_carol,) = team.emails(9)
    assert seen_by_alice.provider_message_id == alice_copy and seen_by_alice.own
    assert seen_by_alice.thread_id == alice_copy
    assert seen_by_bob.provider_message_id == bob_copy and seen_by_bob.own
    assert seen_by_bob.mail_account_id == team.bob_id
    assert seen_by_alice.id == seen_by_bob.id == seen_by_carol.id
    assert not seen_by_carol.own and seen_by_carol.provider_message_id == alice_copy
    for item in (seen_by_alice, seen_by_bob, seen_by_carol):
        assert [(m.mail_account_id, m.email) for m in item.mailboxes] == [
            (team.alice_id, ALICE),
            (team.bob_id, BOB),
        ]

    # Syncing again (full or incremental, either order) adds nothing.
    team.sync(team.bob_id)
    sync_account(team.runtime, "acme", team.alice_id, full=True, mailbox=team.alice_box)
    assert sorted(team.entries()) == sorted(entries)


def test_a_colleague_who_syncs_later_adds_no_entry_but_a_record_only_they_match(
    team: Team,
) -> None:
    team.alice_box.deliver(customer_mail())
    team.sync(team.alice_id)
    before = team.entries()
    with team.runtime.tenant_uow("acme") as uow:
        lead = make_contact(uow, emails=["bob-only@partner.example"])
    team.bob_box.deliver(customer_mail(Cc="bob-only@partner.example"))
    team.sync(team.bob_id)
    after = team.entries()
    assert set(before) < set(after)
    assert {(k, i) for k, i, _ in after} == {
        ("account", team.company_id),
        ("contact", team.contact_id),
        ("contact", lead.id),
    }
    assert len({ref for _, _, ref in after}) == 1


def test_each_owners_sharing_applies_to_their_own_copy(team: Team) -> None:
    """A reader sees the entry if any copy is visible to them, at the most detail among those."""
    alice_copy = team.alice_box.deliver(customer_mail())
    bob_copy = team.bob_box.deliver(customer_mail())
    team.sync_both()

    team.share(team.alice_id, "private")
    team.share(team.bob_id, "tenant", "metadata")
    (carol_view,) = team.emails(9)
    assert carol_view.provider_message_id == bob_copy
    assert carol_view.detail is Detail.METADATA and carol_view.subject is None
    assert [m.mail_account_id for m in carol_view.mailboxes] == [team.bob_id]
    # Bob's view lists only the mailboxes whose copy he may see: not Alice's private one.
    (bob_view,) = team.emails(8)
    assert [m.mail_account_id for m in bob_view.mailboxes] == [team.bob_id]

    # The most permissive of the visible copies wins.
    team.share(team.alice_id, "tenant", "everything")
    (carol_view,) = team.emails(9)
    assert carol_view.provider_message_id == alice_copy
    assert carol_view.detail is Detail.EVERYTHING and carol_view.subject == "Renewal"

    # No copy visible: no entry at all (and none on the home feed).
    team.share(team.alice_id, "private")
    team.share(team.bob_id, "private")
    assert team.emails(9) == []
    with team.runtime.tenant_uow("acme") as uow:
        assert recent_activity(uow, MailViewer(9)) == []
    # Owners keep seeing their own copy.
    (alice_view,) = team.emails(7)
    assert alice_view.provider_message_id == alice_copy and alice_view.detail is Detail.EVERYTHING


def test_purging_one_mailbox_keeps_the_entry_while_a_colleague_holds_a_copy(team: Team) -> None:
    team.alice_box.deliver(customer_mail())
    bob_copy = team.bob_box.deliver(customer_mail())
    team.sync_both()
    entries = team.entries()

    with team.runtime.tenant_uow("acme") as uow:
        purge_account_mail(uow, team.alice_id)
        uow.commit()
    assert team.entries() == entries
    (seen,) = team.emails(7)
    assert seen.provider_message_id == bob_copy and not seen.own

    with team.runtime.tenant_uow("acme") as uow:
        purge_account_mail(uow, team.bob_id)
        uow.commit()
        keys = uow.session.scalar(select(func.count()).select_from(EmailMessageKeyRow))
    assert team.entries() == [] and keys == 0


def test_without_a_message_id_copies_are_matched_by_content(team: Team) -> None:
    team.alice_box.deliver(customer_mail(message_id=None))
    team.bob_box.deliver(customer_mail(message_id=None))
    team.bob_box.deliver(customer_mail("Another subject", message_id=None))
    team.sync_both()
    assert len(team.emails(7)) == 2
    assert len({ref for _, _, ref in team.entries()}) == 2


def test_a_reused_message_id_from_another_sender_is_not_merged(team: Team) -> None:
    team.alice_box.deliver(customer_mail())
    forged = customer_mail().replace(
        f"From: Carol <{CUSTOMER}>".encode(), b"From: Mallory <mallory@customer.example>"
    )
    team.bob_box.deliver(forged)
    team.sync_both()
    assert len(team.emails(9, ("account", team.company_id))) == 2


def test_threads_group_across_mailboxes(team: Team) -> None:
    """A reply only Bob holds joins the conversation Alice sees through her own copy."""
    alice_copy = team.alice_box.deliver(customer_mail())
    bob_first = team.bob_box.deliver(customer_mail())
    team.bob_box.deliver(
        customer_mail(
            "Re: Renewal",
            message_id="<renewal-2@customer.example>",
            In_Reply_To="<renewal-1@customer.example>",
        ),
        thread_id=bob_first,
    )
    team.sync_both()
    emails = team.emails(7)
    assert len(emails) == 2
    assert {e.email_thread_id for e in emails} != {emails[0].email_thread_id}
    assert len({e.conversation_id for e in emails}) == 1
    (group,) = group_timeline(list(emails))
    assert isinstance(group, ThreadGroup) and len(group.emails) == 2
    assert alice_copy in {e.provider_message_id for e in emails}


def test_the_home_feed_lists_an_email_once_naming_its_records(team: Team) -> None:
    team.alice_box.deliver(customer_mail())
    team.bob_box.deliver(customer_mail())
    team.sync_both()
    with team.runtime.tenant_uow("acme") as uow:
        feed = recent_activity(uow, MailViewer(9))
    assert len(feed) == 1
    assert sorted((r.kind, r.id) for r in feed[0].records) == [
        ("account", team.company_id),
        ("contact", team.contact_id),
    ]
    assert {r.name for r in feed[0].records} >= {"Customer Inc"}
    assert feed[0].summary == "Renewal"


def test_two_mailboxes_syncing_at_once_make_one_entry(team: Team) -> None:
    for n in range(12):
        raw = customer_mail(f"Topic {n}", message_id=f"<topic-{n}@customer.example>")
        team.alice_box.deliver(raw)
        team.bob_box.deliver(raw)
    errors: list[BaseException] = []
    start = threading.Barrier(2, timeout=60)

    def run(account_id: int) -> None:
        try:
            start.wait()
            team.sync(account_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in (team.alice_id, team.bob_id)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=240)
    assert not errors and not any(w.is_alive() for w in workers)
    entries = team.entries()
    assert len(entries) == len(set(entries)) == 24  # 12 emails x (contact, account)
    assert len(team.emails(9)) == 12


def test_two_mailboxes_auto_creating_the_same_contacts_at_once_create_each_once(
    team: Team,
) -> None:
    with team.runtime.tenant_uow("acme") as uow:
        settings = uow.session.get(TenantSettingsRow, 1)
        if settings is None:
            settings = TenantSettingsRow(id=1)
            uow.session.add(settings)
        settings.contact_autocreate = "sent_and_received"
        uow.commit()
    newcomers = [f"person{n}@prospect{n}.example" for n in range(8)]
    for address in newcomers:
        raw = customer_mail(f"Hello from {address}", message_id=f"<{address}>").replace(
            f"From: Carol <{CUSTOMER}>".encode(), f"From: {address}".encode()
        )
        team.alice_box.deliver(raw)
        team.bob_box.deliver(raw)
    start = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def run(account_id: int) -> None:
        try:
            start.wait()
            team.sync(account_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in (team.alice_id, team.bob_id)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=240)
    assert not errors and not any(w.is_alive() for w in workers)
    with team.runtime.tenant_uow("acme") as uow:
        rows = uow.session.execute(
            select(RecordEmailRow.email, func.count())
            .where(RecordEmailRow.email.in_(newcomers))
            .group_by(RecordEmailRow.email)
        ).all()
    assert dict(rows) == dict.fromkeys(newcomers, 1)
