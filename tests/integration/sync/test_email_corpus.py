"""Every file of CPython's email test corpus, delivered into an emulated mailbox, syncs without a
crash: each one is stored or skipped with a reason in the ledger (stored + skipped = delivered).

A CRM contact is created for the addresses each file carries (read with the standard library's
parser, independently of the sync code), so most files are stored and the rest are skipped for
a reason the ledger gives (no CRM address, unparseable, ...).
"""

from __future__ import annotations

import email
import email.policy
from email.utils import getaddresses
from pathlib import Path

import pytest
import test as cpython_tests
from fastapi.testclient import TestClient
from sqlalchemy import select

from inboxcrm.adapters.db.tenant_tables import EmailMessageRow, MailLedgerRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.addresses import try_normalize_email
from inboxcrm.services.mail_sync import sync_account
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector

OWNER = "corpus@inboxcrm-test.example"
CORPUS = Path(cpython_tests.__file__).parent / "test_email" / "data"
ADDRESS_HEADERS = ("from", "to", "cc", "bcc", "sender", "reply-to")


def _addresses(raw: bytes) -> set[str]:
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    found: set[str] = set()
    for name in ADDRESS_HEADERS:
        values = [str(v) for v in message.get_all(name) or []]
        for _, address in getaddresses(values):
            canonical = try_normalize_email(address)
            if canonical is not None and canonical != OWNER:
                found.add(canonical)
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_every_file_of_the_cpython_email_corpus_is_stored_or_skipped_with_a_reason(
    runtime: Runtime,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
    client: TestClient,
) -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    assert len(files) > 40, f"the corpus at {CORPUS} is missing"
    rep = tenants.member("acme", "rep")
    emulator.create_user(OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    assert sync_account(runtime, "acme", account_id).status == "ok"  # empty mailbox: cursor set

    addresses: set[str] = set()
    delivered: dict[str, str] = {}
    for path in files:
        raw = path.read_bytes()
        addresses |= _addresses(raw)
        delivered[emulator.deliver(OWNER, raw)["id"]] = path.name
    with runtime.tenant_uow("acme") as uow:
        for address in sorted(addresses):
            make_contact(uow, emails=[address])

    report = sync_account(runtime, "acme", account_id)
    assert report.status == "ok" and report.mode == "incremental", report
    with runtime.tenant_uow("acme") as uow:
        ledger = {
            row.provider_message_id: row
            for row in uow.session.scalars(
                select(MailLedgerRow).where(MailLedgerRow.mail_account_id == account_id)
            )
        }
        stored_ids = set(uow.session.scalars(select(EmailMessageRow.provider_message_id)))
    stored = {i for i, row in ledger.items() if row.outcome == "stored"}
    skipped = {i for i, row in ledger.items() if row.outcome == "skipped"}
    assert stored | skipped == set(delivered), {
        delivered[i]: ledger[i].outcome if i in ledger else "absent" for i in delivered
    }
    assert len(stored) + len(skipped) == len(delivered)
    assert stored == stored_ids
    assert all(ledger[i].reason for i in skipped)
    # Most of the corpus is mail with addresses, all of which are CRM contacts now.
    assert len(stored) >= len(files) // 2, sorted(delivered[i] for i in skipped)

    answer = client.get(f"/api/v1/mail-accounts/{account_id}/ledger", headers=rep.headers).json()
    assert answer["stored"] == len(stored) and answer["skipped"] == len(skipped)
    assert answer["pending"] == 0
    assert sum(answer["skipped_by_reason"].values()) == len(skipped)
