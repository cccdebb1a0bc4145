"""A full sync of a generated 5,000-message mailbox through the real Gmail client and the
emulator: exactly the CRM mail is stored, once, threads intact, directions right, labelled, and
no body of other mail fetched. The expected set is computed from the emulator's own headers."""

from __future__ import annotations

import resource
import time
from typing import Any

import pytest
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.client import GmailProvider
from inboxcrm.services.mail_sync import sync_account
from inboxcrm.services.tenants import create_tenant
from inboxcrm.sync.engine import SYNC_LABEL
from tests.factories import make_contact, make_mail_account

OWNER = "owner@inboxcrm-test.example"
HEADERS = ("From", "To", "Cc", "Bcc")


def _addresses(value: str) -> set[str]:
    from email.utils import getaddresses

    return {a.lower() for _, a in getaddresses([value]) if a}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_full_sync_of_5000_generated_messages(runtime: Runtime, emulator: Any) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 5000, seed=11, customer_fraction=0.2)
    customers = {c["email"].lower() for c in emulator.correspondents(OWNER) if c["customer"]}
    assert customers
    create_tenant(runtime, "gen")
    with runtime.tenant_uow("gen") as uow:
        for address in sorted(customers):
            make_contact(uow, emails=[address])
        account = make_mail_account(
            uow, email=OWNER, settings={"lookback_days": 3650}, status="connected"
        )
    mailbox = GmailProvider(emulator.url).open_mailbox(emulator.credentials(OWNER))

    # Expected, from headers the emulator serves (not from the engine's queries or matcher).
    all_refs = list(mailbox.iter_message_ids(include_spam_trash=False))
    metas = mailbox.fetch_messages(
        [r.id for r in all_refs], fmt="metadata", metadata_headers=HEADERS
    )
    expected: dict[str, str] = {}
    threads: dict[str, str] = {}
    for meta in metas:
        if "DRAFT" in meta.label_ids:
            continue
        people: set[str] = set()
        sender: set[str] = set()
        for name, value in meta.headers:
            found = _addresses(value)
            people |= found
            if name.lower() == "from":
                sender = found
        if people & customers:
            expected[meta.id] = "outbound" if OWNER in sender else "inbound"
            threads[meta.id] = meta.thread_id
    assert 500 < len(expected) < 4000
    emulator.reset_counters(OWNER)

    started = time.perf_counter()
    report = sync_account(runtime, "gen", account.id, mailbox=mailbox)
    elapsed = time.perf_counter() - started
    assert report.status == "ok", report

    with runtime.tenant_uow("gen") as uow:
        rows = uow.session.execute(
            select(
                EmailMessageRow.provider_message_id,
                EmailMessageRow.direction,
                EmailThreadRow.provider_thread_id,
            ).join(EmailThreadRow, EmailThreadRow.id == EmailMessageRow.thread_id)
        ).all()
        activity_refs = list(uow.session.scalars(select(ActivityRow.ref_id)))
        refreshed = uow.session.get(MailAccountRow, account.id)
    stored = {r[0]: r for r in rows}
    assert set(stored) == set(expected)
    assert len(rows) == len(stored)
    assert {i: r[1] for i, r in stored.items()} == expected
    assert all(stored[i][2] == threads[i] for i in stored)
    assert len(set(activity_refs)) == len(stored)
    assert refreshed is not None and refreshed.history_id is not None

    # Bodies of other mail come only with a thread fetched whole (two or more of its messages
    # to store), and none of them is stored (above).
    fetched = emulator.fetched(OWNER)
    per_thread: dict[str, int] = {}
    for message_id in expected:
        per_thread[threads[message_id]] = per_thread.get(threads[message_id], 0) + 1
    whole = {t for t, n in per_thread.items() if n >= 2}
    thread_of = {r.id: r.thread_id for r in all_refs}
    others = set(fetched["body_fetched"]) - set(expected)
    assert all(thread_of.get(i) in whole for i in others if i in thread_of)
    labelled = {
        r.id for r in mailbox.iter_message_ids(query=f'label:"{SYNC_LABEL}"', page_size=500)
    }
    if not labelled:  # the label may be addressed by id only
        label_id = mailbox.ensure_label(SYNC_LABEL)
        labelled = {r.id for r in mailbox.iter_message_ids(label_ids=[label_id])}
    assert labelled == set(expected)

    stats = emulator.stats(OWNER)
    units = int(stats["total_units"])
    print(
        f"\nfull sync: {len(stored)} stored of 5000 in {elapsed:.2f}s "
        f"({len(stored) / elapsed:.0f} msg/s); quota units {units} "
        f"({units / len(stored):.2f} per stored message); calls {stats.get('calls')}; "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    assert units / len(stored) <= 6
