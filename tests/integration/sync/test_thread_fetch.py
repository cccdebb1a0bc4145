"""Whole threads (threads.get, 10 units) where two or more of a thread's messages are to be
stored, single messages (messages.get, 5 units) otherwise: the same mail stored for fewer units,
and a thread that brings mail already stored or out of the sync's scope stores none of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    MailLedgerRow,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.base import ThreadFetcher
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from tests.factories import make_contact, make_mail_account
from tests.fixtures.emulator import EmulatorHandle
from tests.integration.sync.conftest import add_customer_contacts, customer_mail, emulator_mailbox

OWNER = "rep@thread-fetch.example"
CUSTOMER = "buyer@customer-thread.example"
COLLEAGUE = "colleague@thread-fetch.example"


class _MessageByMessage:
    """The real Gmail client without ``fetch_threads``: the sync fetches message by message."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "fetch_threads":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def fetch_messages(self, ids: Sequence[str], **options: Any) -> Any:
        return self._inner.fetch_messages(ids, **options)


def _stored(runtime: Runtime, tenant: str) -> dict[str, tuple[Any, ...]]:
    """What matters of each stored message (labels aside: the first sync adds its own)."""
    with runtime.tenant_uow(tenant) as uow:
        rows = uow.session.execute(
            select(
                EmailMessageRow.provider_message_id,
                EmailThreadRow.provider_thread_id,
                EmailMessageRow.message_id_header,
                EmailMessageRow.in_reply_to,
                EmailMessageRow.from_address,
                EmailMessageRow.to_addresses,
                EmailMessageRow.cc_addresses,
                EmailMessageRow.subject,
                EmailMessageRow.sent_at,
                EmailMessageRow.direction,
                EmailMessageRow.snippet,
                EmailMessageRow.body_text,
                EmailMessageRow.body_html,
                EmailMessageRow.id,
            ).join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
        ).all()
        attachments: dict[int, list[tuple[str, int]]] = {}
        for message_id, filename, size in uow.session.execute(
            select(
                EmailAttachmentRow.message_id, EmailAttachmentRow.filename, EmailAttachmentRow.size
            )
        ):
            attachments.setdefault(message_id, []).append((filename, size))
        links = uow.session.execute(
            select(EmailMessageRow.provider_message_id, func.count(ActivityRow.id))
            .join(ActivityRow, ActivityRow.ref_id == EmailMessageRow.message_key_id)
            .group_by(EmailMessageRow.provider_message_id)
        ).all()
    linked = dict(links)
    return {
        row[0]: (*row[1:-1], sorted(attachments.get(row[-1], [])), linked.get(row[0], 0))
        for row in rows
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_whole_threads_store_the_same_mail_as_message_by_message_for_fewer_units(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 800, seed=23, customer_fraction=0.25)
    usage: dict[str, dict[str, Any]] = {}
    for tenant, threaded in (("bythread", True), ("bymessage", False)):
        create_tenant(runtime, tenant)
        add_customer_contacts(runtime, tenant, emulator, OWNER)
        with runtime.tenant_uow(tenant) as uow:
            account = make_mail_account(
                uow, email=OWNER, settings={"lookback_days": 3650}, status="connected"
            )
        client = emulator_mailbox(emulator, OWNER)
        mailbox = client if threaded else _MessageByMessage(client)
        assert isinstance(mailbox, ThreadFetcher) is threaded
        emulator.reset_counters(OWNER)
        report = sync_account(runtime, tenant, account.id, mailbox=mailbox)
        assert report.status == "ok", report
        usage[tenant] = emulator.stats(OWNER)

    by_thread = _stored(runtime, "bythread")
    assert len(by_thread) > 100
    assert by_thread == _stored(runtime, "bymessage")
    calls = usage["bythread"]["calls"]
    assert calls.get("gmail.users.threads.get", 0) > 0
    assert "gmail.users.threads.get" not in usage["bymessage"]["calls"]
    assert usage["bythread"]["total_units"] < 0.8 * usage["bymessage"]["total_units"]

    # Fetching within 5 % of the thread-aware minimum: min(10, 5 x n) per thread (the rest of
    # the run is listing, sizes, profile and labels, the same either way).
    with runtime.tenant_uow("bythread") as uow:
        per_thread = uow.session.execute(
            select(MailLedgerRow.provider_thread_id, func.count()).group_by(
                MailLedgerRow.provider_thread_id
            )
        ).all()
    units = usage["bythread"]["units"]
    fetching = units.get("gmail.users.messages.get", 0) + units["gmail.users.threads.get"]
    assert fetching <= 1.05 * sum(min(10, 5 * int(n)) for _, n in per_thread)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_thread_brings_stored_and_out_of_scope_mail_without_storing_it(
    runtime: Runtime, emulator: EmulatorHandle
) -> None:
    emulator.create_user(OWNER)
    opening = customer_mail(CUSTOMER, OWNER, "Order")
    first = emulator.deliver(OWNER, opening)
    thread = first["threadId"]
    message_id = next(
        line.split(":", 1)[1].strip()
        for line in opening.decode().splitlines()
        if line.startswith("Message-ID:")
    )
    refs = (f"In-Reply-To: {message_id}", f"References: {message_id}")
    create_tenant(runtime, "thr")
    with runtime.tenant_uow("thr") as uow:
        make_contact(uow, emails=[CUSTOMER])
        account = make_mail_account(
            uow, email=OWNER, settings={"lookback_days": 3650}, status="connected"
        )
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "thr", account.id, mailbox=mailbox).status == "ok"

    # The thread grows: two more customer messages, and an internal one that names no record
    # (outside the sync's scope: never listed, never to be stored).
    replies = [
        emulator.deliver(
            OWNER, customer_mail(CUSTOMER, OWNER, "Re: Order", headers=refs), thread_id=thread
        )
        for _ in range(2)
    ]
    internal = emulator.deliver(
        OWNER, customer_mail(COLLEAGUE, OWNER, "Re: Order", headers=refs), thread_id=thread
    )
    assert {r["threadId"] for r in [*replies, internal]} == {thread}
    emulator.reset_counters(OWNER)
    report = sync_account(runtime, "thr", account.id, mailbox=mailbox, full=True)
    assert report.status == "ok", report

    calls = emulator.stats(OWNER)["calls"]
    assert calls.get("gmail.users.threads.get") == 1
    assert "gmail.users.messages.get" not in calls  # nothing fetched message by message
    fetched = emulator.fetched(OWNER)["messages"]
    assert internal["id"] in fetched and first["id"] in fetched  # the thread brought both
    with runtime.tenant_uow("thr") as uow:
        copies = dict(
            uow.session.execute(
                select(EmailMessageRow.provider_message_id, func.count()).group_by(
                    EmailMessageRow.provider_message_id
                )
            ).all()
        )
        ledger = dict(
            uow.session.execute(
                select(MailLedgerRow.provider_message_id, MailLedgerRow.outcome)
            ).all()
        )
        entries = uow.session.scalar(select(func.count(ActivityRow.id)))
    expected = {first["id"], *(r["id"] for r in replies)}
    assert copies == dict.fromkeys(expected, 1)  # stored once each, the internal one not at all
    assert ledger == dict.fromkeys(expected, "stored")  # out of scope: not in the ledger either
    assert entries == 3


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_without_whole_threads_only_mail_with_a_record_is_fetched(
    runtime: Runtime, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``INBOXCRM_SYNC_WHOLE_THREADS=false``: message by message, no other body is read."""
    monkeypatch.setattr(
        runtime, "settings", runtime.settings.model_copy(update={"sync_whole_threads": False})
    )
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 400, seed=29, customer_fraction=0.25)
    create_tenant(runtime, "strict")
    add_customer_contacts(runtime, "strict", emulator, OWNER)
    with runtime.tenant_uow("strict") as uow:
        account = make_mail_account(
            uow, email=OWNER, settings={"lookback_days": 3650}, status="connected"
        )
    emulator.reset_counters(OWNER)
    mailbox = emulator_mailbox(emulator, OWNER)
    assert sync_account(runtime, "strict", account.id, mailbox=mailbox).status == "ok"
    assert "gmail.users.threads.get" not in emulator.stats(OWNER)["calls"]
    stored = _stored(runtime, "strict")
    assert len(stored) > 30
    assert set(emulator.fetched(OWNER)["body_fetched"]) <= set(stored)
