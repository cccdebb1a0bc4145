"""The sync engine against an exactly controlled in-memory mailbox, on SQLite and PostgreSQL.

What is checked here: which messages are stored (and which bodies are never fetched), dedup and
threading, the ledger, checkpoints after failures, the lease, revocation, BCC, storage policy.
The same behaviour through the real Gmail client and the emulator is in tests/integration/sync.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
    NotificationRow,
    TenantSettingsRow,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.bcc import bcc_address
from inboxcrm.domain.errors import ProviderTransientError
from inboxcrm.providers.base import FetchFormat, ListQuery, RemoteMessage
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from inboxcrm.sync import ledger
from inboxcrm.sync.engine import SYNC_LABEL
from inboxcrm.sync.ingest import bcc_record_key
from inboxcrm.sync.lease import MailboxLease
from tests.factories import make_contact, make_mail_account
from tests.unit.sync_engine.fake_mailbox import FakeMailbox

OWNER = "rep@acme-sales.com"
_n = itertools.count(1)


def mail(sender: str, to: str, subject: str = "Hello", *, cc: str = "", extra: str = "") -> bytes:
    n = next(_n)
    lines = [
        f"From: {sender}",
        f"To: {to}",
        *([f"Cc: {cc}"] if cc else []),
        f"Subject: {subject}",
        f"Message-ID: <m{n}@test>",
        "Date: Mon, 3 Nov 2025 10:00:00 +0000",
        *([extra] if extra else []),
        "Content-Type: text/plain; charset=utf-8",
        "",
        f"Body number {n}",
    ]
    return "\r\n".join(lines).encode()


@dataclass
class World:
    runtime: Runtime
    tenant: str
    account_id: int
    contact_id: int
    box: FakeMailbox

    def sync(self, *, full: bool = False) -> object:
        return sync_account(self.runtime, self.tenant, self.account_id, full=full, mailbox=self.box)

    def count(self, model: type, *where: object) -> int:
        with self.runtime.tenant_uow(self.tenant) as uow:
            return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)))  # type: ignore[arg-type]

    def stored_ids(self) -> set[str]:
        with self.runtime.tenant_uow(self.tenant) as uow:
            return set(uow.session.scalars(select(EmailMessageRow.provider_message_id)))


@pytest.fixture
def world(runtime: Runtime) -> Iterator[World]:
    create_tenant(runtime, "acme")
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, emails=["carol@customer.example"])
        account = make_mail_account(uow, email=OWNER, user_id=7)
    yield World(
        runtime,
        "acme",
        account.id,
        contact.id,
        FakeMailbox(OWNER, aliases=["sales@acme-sales.com"]),
    )


def test_full_sync_stores_exactly_the_crm_mail_once(world: World) -> None:
    box = world.box
    inbound = box.deliver(mail("Carol <carol@customer.example>", OWNER))
    outbound = box.deliver(mail("sales@acme-sales.com", "carol@customer.example"), labels=["SENT"])
    stranger = box.deliver(mail("spam@else.example", OWNER))
    spam = box.deliver(mail("carol@customer.example", OWNER), labels=["SPAM"])
    colleague_only = box.deliver(mail("boss@acme-sales.com", OWNER))

    report = world.sync()
    assert report.status == "ok" and report.mode == "full"  # type: ignore[attr-defined]
    assert world.stored_ids() == {inbound, outbound}
    assert box.body_fetches.keys() == {inbound, outbound}
    assert stranger not in box.body_fetches and colleague_only not in box.body_fetches
    assert spam not in box.body_fetches
    assert box.labelled(SYNC_LABEL) == {inbound, outbound}
    with world.runtime.tenant_uow(world.tenant) as uow:
        directions = dict(
            uow.session.execute(
                select(EmailMessageRow.provider_message_id, EmailMessageRow.direction)
            ).all()
        )
        activity = uow.session.scalars(select(ActivityRow)).all()
        account = uow.session.get(MailAccountRow, world.account_id)
        summary = ledger.ledger_summary(uow.session, world.account_id)
    assert directions == {inbound: "inbound", outbound: "outbound"}
    assert {(a.record_kind, a.record_id, a.match_reason) for a in activity} == {
        ("contact", world.contact_id, "address")
    }
    assert {a.match_detail for a in activity} == {"carol@customer.example"}
    assert len(activity) == 2
    assert account is not None and account.history_id is not None
    assert account.sync_progress["phase"] == "done"
    assert summary.stored == 2 and summary.pending == 0

    # A second run (full or not) adds nothing and fetches no body again.
    assert world.sync(full=True).status == "ok"  # type: ignore[attr-defined]
    assert world.count(EmailMessageRow) == 2 and world.count(ActivityRow) == 2
    assert max(box.body_fetches.values()) == 1
    # The owner got exactly one "first sync finished" notification.
    assert world.count(NotificationRow, NotificationRow.kind == "mail_sync_completed") == 1


def test_incremental_fetches_only_matching_bodies_and_links_replies_by_thread(world: World) -> None:
    box = world.box
    first = box.deliver(mail("carol@customer.example", OWNER, "Quote"))
    world.sync()
    reply_in_thread = box.deliver(
        mail(OWNER, "boss@acme-sales.com", "Re: Quote"), thread_id=first, labels=["SENT"]
    )
    stranger = box.deliver(mail("news@else.example", OWNER))
    new_customer_mail = box.deliver(mail("carol@customer.example", OWNER, "Another"))
    report = world.sync()
    assert report.mode == "incremental"  # type: ignore[attr-defined]
    assert world.stored_ids() == {first, reply_in_thread, new_customer_mail}
    assert stranger not in box.body_fetches and box.metadata_fetches[stranger] == 1
    with world.runtime.tenant_uow(world.tenant) as uow:
        reasons = dict(
            uow.session.execute(
                select(EmailMessageRow.provider_message_id, ActivityRow.match_reason).join(
                    ActivityRow, ActivityRow.ref_id == EmailMessageRow.message_key_id
                )
            ).all()
        )
        threads = uow.session.scalar(select(func.count()).select_from(EmailThreadRow))
        entries = {
            e.provider_message_id: e.reason
            for _, e in ledger.ledger_entries(uow.session, world.account_id)
        }
    assert reasons[reply_in_thread] == "thread"
    assert threads == 2
    assert entries[stranger] == "no_match_headers"


def test_expired_history_turns_into_a_full_resync(world: World) -> None:
    box = world.box
    box.deliver(mail("carol@customer.example", OWNER))
    world.sync()
    later = box.deliver(mail("carol@customer.example", OWNER, "later"))
    box.oldest_history = box.history_id + 1
    report = world.sync()
    assert report.mode == "full" and report.resynced  # type: ignore[attr-defined]
    assert later in world.stored_ids() and world.count(EmailMessageRow) == 2


def test_failure_mid_sync_resumes_from_the_checkpoint(world: World) -> None:
    box = world.box
    ids = {box.deliver(mail("carol@customer.example", OWNER, f"n{i}")) for i in range(120)}
    box.fail_after_fetches = 60
    report = world.sync()
    assert report.status == "failed"  # type: ignore[attr-defined]
    partial = world.stored_ids()
    assert 0 < len(partial) < 120
    assert world.count(NotificationRow, NotificationRow.kind == "mail_sync_failed") == 1
    box.fail_after_fetches = None
    assert world.sync().status == "ok"  # type: ignore[attr-defined]
    assert world.stored_ids() == ids
    assert world.count(ActivityRow) == 120
    # Messages stored before the failure were not fetched again.
    assert all(box.body_fetches[i] == 1 for i in partial)


def test_second_concurrent_run_returns_at_once(world: World) -> None:
    world.box.deliver(mail("carol@customer.example", OWNER))
    other = MailboxLease(lambda: world.runtime.tenant_uow(world.tenant), world.account_id)
    assert other.acquire()
    assert world.sync().status == "already_running"  # type: ignore[attr-defined]
    assert world.count(EmailMessageRow) == 0
    other.release()
    assert world.sync().status == "ok"  # type: ignore[attr-defined]
    assert world.count(EmailMessageRow) == 1


def test_revoked_grant_disconnects_and_notifies_once(world: World) -> None:
    world.box.revoked = True
    assert world.sync().status == "revoked"  # type: ignore[attr-defined]
    assert world.sync().status == "not_connected"  # type: ignore[attr-defined]
    with world.runtime.tenant_uow(world.tenant) as uow:
        account = uow.session.get(MailAccountRow, world.account_id)
    assert account is not None and account.status == "disconnected"
    assert world.count(NotificationRow, NotificationRow.kind == "mail_account_revoked") == 1


def test_bcc_address_links_mail_without_any_other_match(world: World) -> None:
    secret = world.runtime.settings.secret_key.get_secret_value().encode()
    address = bcc_address(OWNER, bcc_record_key("acme", "contact", world.contact_id), secret)
    bcc_mail = world.box.deliver(
        mail(OWNER, "someone@else.example", extra=f"Bcc: {address}"), labels=["SENT"]
    )
    world.sync()
    assert world.stored_ids() == {bcc_mail}
    with world.runtime.tenant_uow(world.tenant) as uow:
        activity = uow.session.scalars(select(ActivityRow)).one()
    assert (activity.record_id, activity.match_reason, activity.match_detail) == (
        world.contact_id,
        "bcc",
        address,
    )


@pytest.mark.parametrize("policy", ["snippet", "metadata"])
def test_storage_policy_keeps_bodies_out(world: World, policy: str) -> None:
    with world.runtime.tenant_uow(world.tenant) as uow:
        uow.session.add(TenantSettingsRow(id=1, mail_storage_policy=policy))
        uow.commit()
    world.box.deliver(mail("carol@customer.example", OWNER))
    world.sync()
    with world.runtime.tenant_uow(world.tenant) as uow:
        row = uow.session.scalars(select(EmailMessageRow)).one()
    assert row.body_text is None and row.body_html is None
    assert (row.snippet == "") == (policy == "metadata")


def test_batches_are_fetched_ahead_and_a_failed_one_is_fetched_again_in_line(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = world.box
    ids = {box.deliver(mail("carol@customer.example", OWNER, f"n{i}")) for i in range(120)}
    threads: list[str] = []
    fetch = box.fetch_messages

    def flaky_fetch(
        message_ids: Sequence[str],
        *,
        fmt: FetchFormat = "raw",
        metadata_headers: Sequence[str] = (),
    ) -> list[RemoteMessage]:
        threads.append(threading.current_thread().name)
        if fmt == "raw" and len(threads) == 2:
            raise ProviderTransientError("rate limited")
        return fetch(message_ids, fmt=fmt, metadata_headers=metadata_headers)

    monkeypatch.setattr(box, "fetch_messages", flaky_fetch)
    assert world.sync().status == "ok"  # type: ignore[attr-defined]
    assert world.stored_ids() == ids
    assert max(box.body_fetches.values()) == 1
    # Three batches of 50: the first two on the fetch-ahead thread, the failed one again in
    # line on the sync thread, the last one ahead again.
    assert len(threads) == 4
    assert threads[0].startswith("mail-fetch") and threads[3].startswith("mail-fetch")
    assert threads[2] == threading.current_thread().name


class _LosingFirstPages(FakeMailbox):
    """A mailbox whose batched first pages lose every third query's page."""

    def list_first_pages(
        self,
        queries: Sequence[str | ListQuery],
        *,
        page_size: int = 500,
        include_spam_trash: bool = False,
    ) -> list[Any]:
        pages = super().list_first_pages(
            queries, page_size=page_size, include_spam_trash=include_spam_trash
        )
        return [None if n % 3 == 1 else page for n, page in enumerate(pages)]


@pytest.mark.parametrize("losing", [False, True])
def test_many_search_chunks_are_listed_a_batch_of_first_pages_at_a_time(
    world: World, losing: bool
) -> None:
    """A tenant with hundreds of customer addresses: their search chunks' first pages are asked
    for 20 at a time (one round trip each), and every chunk's mail is stored, also when some
    pages of a batch do not come (those chunks are listed on their own)."""
    box = _LosingFirstPages(OWNER) if losing else FakeMailbox(OWNER)
    world.box = box
    addresses = [f"buyer{n:03d}@customer{n:03d}.example" for n in range(400)]
    with world.runtime.tenant_uow(world.tenant) as uow:
        for address in addresses:
            make_contact(uow, emails=[address])
    wanted = {box.deliver(mail(a, OWNER)) for a in addresses[::37]}
    box.deliver(mail("stranger@else.example", OWNER))
    # Mail of the owner's own: the canary that tells a chunk that is really empty from one
    # Gmail answered wrongly, so no address is probed on its own.
    box.deliver(mail(OWNER, "friend@else.example"), labels=["SENT"])

    assert world.sync().status == "ok"  # type: ignore[attr-defined]
    assert world.stored_ids() == wanted
    with world.runtime.tenant_uow(world.tenant) as uow:
        account = uow.session.get(MailAccountRow, world.account_id)
        assert account is not None
        chunks = account.sync_progress["query_count"]
        assert account.sync_progress["query_probes"] == 0
        checks = account.sync_progress["query_checks"]
    # Canaries of the chunks that listed nothing: one batch per batch of chunks, with the
    # owner's own query in the first.
    canary_batches = [b for b in box.first_page_batches if all(OWNER in q for q in b)]
    batches = [b for b in box.first_page_batches if b not in canary_batches]
    assert canary_batches and len(canary_batches) <= len(batches)
    assert canary_batches[0][0].startswith(f"from:{OWNER}")
    canaries = [q for b in canary_batches for q in b if not q.startswith(f"from:{OWNER}")]
    if not losing:
        assert checks == len(canaries)  # every canary answered in its batch
    # The two size searches ("larger:") come with the last batch of chunks.
    sized = [q for b in batches for q in b if q.startswith("larger:")]
    assert len(sized) == 2 and all(q in batches[-1] for q in sized)
    batched = [q for batch in batches for q in batch if not q.startswith("larger:")]
    assert chunks > 20 and len(batches) == -(-chunks // 20)
    assert all(len(batch) <= 22 for batch in batches)
    assert len(batched) == len(set(batched)) == chunks  # each chunk asked for once
