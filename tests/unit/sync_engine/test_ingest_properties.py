"""Property: any interleaving of history events and retries yields the same timeline.

Hypothesis draws a set of emails (customer mail, replies in the same thread, mail with strangers;
each held by Alice's mailbox, Bob's or both) and a schedule of events on the two mailboxes:
deliveries, deletions, label changes, and sync runs that may crash part-way (a failed fetch)
and are then retried, incremental or full, in any order. Whatever the schedule, the records'
timelines must equal those of one clean sync of the mail the schedule let the sync see: every
email that was in a mailbox while a sync of that mailbox ran, each once per record, listing
the mailboxes whose copy was synced.

Rules of the game, as the product defines them: a message deleted in Gmail after it was synced
stays on the timeline (inboxcrm never deletes because the mailbox did), and label changes among
ordinary labels change nothing. Left out, as they are not ordering properties of ingest: moving
mail into Spam or Trash (a policy of its own), and a stranger's reply in a record's thread (it
is on the record only by the thread rule, and a full sync lists mail by the records' addresses,
so it finds such a reply only through incremental history).
Runs on SQLite and PostgreSQL; the number of examples is bounded.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from inboxcrm.adapters.db.dedup_tables import EmailMessageKeyRow
from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
    MailLedgerRow,
    MailSyncLeaseRow,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sharing import MailViewer
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from inboxcrm.services.timeline import EmailItem, timeline_page
from tests.factories import make_account, make_contact, make_mail_account
from tests.unit.sync_engine.fake_mailbox import FakeMailbox

MAILBOXES = {"alice": ("alice@acme-sales.com", 7), "bob": ("bob@acme-sales.com", 8)}
STRANGER = "eve@stranger.example"
SENDERS = ["carol@customer.example", "dave@partner.example", STRANGER]
ORDINARY_LABELS = ["STARRED", "IMPORTANT", "UNREAD", "CATEGORY_UPDATES"]
_slugs = itertools.count(1)


@dataclass(frozen=True)
class Email:
    n: int
    sender: str
    holders: tuple[str, ...]
    reply_to: int | None

    def raw(self, recipients: str) -> bytes:
        lines = [
            f"From: {self.sender}",
            f"To: {recipients}",
            f"Subject: {'Re: ' if self.reply_to is not None else ''}Topic {self.n}",
            f"Message-ID: <prop-{self.n}@mail.example>",
            *(
                [
                    f"In-Reply-To: <prop-{self.reply_to}@mail.example>",
                    f"References: <prop-{self.reply_to}@mail.example>",
                ]
                if self.reply_to is not None
                else []
            ),
            f"Date: Mon, 3 Nov 2025 10:{self.n:02d}:00 +0000",
            "Content-Type: text/plain; charset=utf-8",
            "",
            f"Body {self.n}",
        ]
        return "\r\n".join(lines).encode()


@st.composite
def emails(draw: st.DrawFn) -> list[Email]:
    count = draw(st.integers(min_value=1, max_value=6))
    out: list[Email] = []
    for n in range(count):
        holders = draw(st.sampled_from([("alice",), ("bob",), ("alice", "bob")]))
        sender = draw(st.sampled_from(SENDERS))
        # Strangers write only mail of their own (see the module docstring on replies).
        replies = n > 0 and sender != STRANGER
        reply_to = draw(st.none() | st.integers(min_value=0, max_value=n - 1)) if replies else None
        out.append(Email(n, sender, holders, reply_to))
    return out


Event = tuple[str, int, str, int]  # (kind, email index, mailbox, argument)
EVENTS = st.tuples(
    st.sampled_from(["deliver", "deliver", "delete", "relabel", "sync", "full_sync"]),
    st.integers(min_value=0, max_value=5),
    st.sampled_from(sorted(MAILBOXES)),
    st.integers(min_value=-1, max_value=3),  # relabel: which label; sync: crash after N fetches
)


@dataclass
class Run:
    """One tenant's mailboxes, driven through a schedule; remembers what each sync could see."""

    runtime: Runtime
    tenant: str
    mail: list[Email]
    accounts: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, FakeMailbox] = field(default_factory=dict)
    ids: dict[tuple[str, int], str] = field(default_factory=dict)  # (mailbox, email) -> id
    threads: dict[tuple[str, int], str] = field(default_factory=dict)
    order: list[tuple[str, int]] = field(default_factory=list)  # deliveries, in order
    seen: set[tuple[str, int]] = field(default_factory=set)  # copies a sync could see

    def open(self) -> Run:
        with self.runtime.tenant_uow(self.tenant) as uow:
            for name, (address, user_id) in MAILBOXES.items():
                self.accounts[name] = make_mail_account(uow, email=address, user_id=user_id).id
                self.boxes[name] = FakeMailbox(address, id_prefix=f"{name}-")
        return self

    def deliver(self, who: str, n: int, thread: str | None = None) -> None:
        email = self.mail[n]
        if who not in email.holders or (who, n) in self.ids:
            return
        if thread is None and email.reply_to is not None:
            thread = self.threads.get((who, email.reply_to))
        recipients = ", ".join(MAILBOXES[h][0] for h in email.holders)
        msg_id = self.boxes[who].deliver(email.raw(recipients), thread_id=thread)
        self.ids[who, n] = msg_id
        self.threads[who, n] = self.boxes[who].messages[msg_id].thread_id
        self.order.append((who, n))

    def sync(self, who: str, *, full: bool = False, crash_after: int | None = None) -> None:
        box = self.boxes[who]
        present = {(w, n) for (w, n), i in self.ids.items() if w == who and i in box.messages}
        if crash_after is not None:
            box.fail_after_fetches = crash_after
            sync_account(self.runtime, self.tenant, self.accounts[who], full=full, mailbox=box)
            box.fail_after_fetches = None
        report = sync_account(self.runtime, self.tenant, self.accounts[who], full=full, mailbox=box)
        assert report.status == "ok", report  # type: ignore[attr-defined]
        self.seen |= present

    def apply(self, event: Event) -> None:
        kind, index, who, arg = event
        if index >= len(self.mail):
            return
        msg_id = self.ids.get((who, index))
        box = self.boxes[who]
        if kind == "deliver":
            self.deliver(who, index)
        elif kind == "delete" and msg_id in box.messages:
            box.delete(msg_id)
        elif kind == "relabel" and msg_id in box.messages:
            label = ORDINARY_LABELS[arg % len(ORDINARY_LABELS)]
            if label in box.messages[msg_id].labels:
                box.relabel(msg_id, remove=[label])
            else:
                box.relabel(msg_id, add=[label])
        elif kind in ("sync", "full_sync"):
            self.sync(who, full=kind == "full_sync", crash_after=arg if arg >= 0 else None)


Snapshot = list[tuple[str, int, str, str, tuple[str, ...]]]


def timelines(runtime: Runtime, tenant: str, records: list[tuple[str, int]]) -> Snapshot:
    """Every record's emails as a colleague with no mailbox of their own sees them."""
    out: Snapshot = []
    with runtime.tenant_uow(tenant) as uow:
        for kind, record_id in records:
            page = timeline_page(uow, kind, record_id, limit=200, viewer=MailViewer(99))
            assert page.next_cursor is None
            for item in page.items:
                assert isinstance(item, EmailItem)
                mailboxes = tuple(sorted(m.email for m in item.mailboxes))
                out.append(
                    (kind, record_id, item.message_id_header or "", item.subject or "", mailboxes)
                )
    return sorted(out)


def wipe_mail(runtime: Runtime, tenant: str) -> None:
    with runtime.tenant_uow(tenant) as uow:
        tables = (ActivityRow, EmailAttachmentRow, EmailMessageRow, EmailThreadRow,
                  EmailMessageKeyRow, MailLedgerRow, MailSyncLeaseRow, MailAccountRow)  # fmt: skip
        for table in tables:
            uow.session.execute(delete(table))
        uow.commit()


@pytest.fixture
def tenant(runtime: Runtime) -> tuple[str, list[tuple[str, int]]]:
    slug = f"prop{next(_slugs)}"
    create_tenant(runtime, slug)
    with runtime.tenant_uow(slug) as uow:
        company = make_account(uow, name="Customer Inc", domain="customer.example")
        carol = make_contact(uow, emails=[SENDERS[0]], account_id=company.id)
        dave = make_contact(uow, emails=[SENDERS[1]])
    return slug, [("account", company.id), ("contact", carol.id), ("contact", dave.id)]


@pytest.mark.slow
@pytest.mark.timeout(900)
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mail=emails(), schedule=st.lists(EVENTS, max_size=14))
def test_any_schedule_of_events_and_retries_yields_the_clean_runs_timeline(
    runtime: Runtime, tenant: tuple[str, list[tuple[str, int]]], mail: list[Email],
    schedule: list[Event],
) -> None:  # fmt: skip
    slug, records = tenant
    wipe_mail(runtime, slug)
    run = Run(runtime, slug, mail).open()
    for event in schedule:
        run.apply(event)
    for who in MAILBOXES:  # whatever happened, the mailboxes are synced once more at the end
        run.sync(who)
    got = timelines(runtime, slug, records)
    assert len(got) == len(set(got)), "an email is on a record's timeline twice"

    # The clean run: the copies the schedule let a sync see, delivered in the same order into the
    # same threads, each mailbox synced once.
    wipe_mail(runtime, slug)
    clean = Run(runtime, slug, mail).open()
    for who, n in run.order:
        if (who, n) in run.seen:
            parent = mail[n].reply_to
            same_thread = parent is not None and run.threads[who, n] == run.threads.get(
                (who, parent)
            )
            clean.deliver(who, n, clean.threads.get((who, parent)) if same_thread else None)  # type: ignore[arg-type]
    for who in MAILBOXES:
        clean.sync(who)
    assert got == timelines(runtime, slug, records)


def test_a_reply_synced_before_its_threads_first_message_joins_the_threads_records(
    runtime: Runtime, tenant: tuple[str, list[tuple[str, int]]]
) -> None:
    """Found by the property above: a full sync lists the newest mail first, so a partner's
    reply was stored before the customer's message that puts the thread on the customer's
    record, and missed that record (an incremental sync, oldest first, linked it)."""
    slug, records = tenant
    mail = [
        Email(0, SENDERS[0], ("alice",), None),
        Email(1, SENDERS[1], ("alice",), 0),
        Email(2, SENDERS[1], ("alice",), 1),
    ]
    incremental = Run(runtime, slug, mail).open()
    for n in range(3):
        incremental.deliver("alice", n)
        incremental.sync("alice")
    stepwise = timelines(runtime, slug, records)
    wipe_mail(runtime, slug)
    full = Run(runtime, slug, mail).open()
    for n in range(3):
        full.deliver("alice", n)
    full.sync("alice")
    assert timelines(runtime, slug, records) == stepwise
    _, carol, _ = records
    on_carol = [s for k, i, _, s, _ in stepwise if (k, i) == carol]
    assert sorted(on_carol) == ["Re: Topic 1", "Re: Topic 2", "Topic 0"]
