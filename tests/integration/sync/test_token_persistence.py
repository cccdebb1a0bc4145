"""An access token refreshed in the middle of a session is stored at once (issue 7, defect 8):
the next session starts with the fresh token instead of paying a 401 and a refresh again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_sync import sync_account
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector, account_row, plaintext_tokens
from tests.integration.sync.conftest import add_customer_contacts

OWNER = "rep@acme-sales.example"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_token_refreshed_inside_a_sync_is_stored(
    runtime: Runtime, emulator: EmulatorHandle, tenants: TenantFactory, gmail: GmailConnector
) -> None:
    emulator.create_user(OWNER)
    emulator.generate(OWNER, 120, seed=3, customer_fraction=0.3)
    rep = tenants.member("acme", "rep")
    add_customer_contacts(runtime, "acme", emulator, OWNER)
    account_id = gmail.connect(rep, OWNER)["account"]["id"]
    before, _ = plaintext_tokens(runtime, account_row(runtime, "acme", account_id))
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None
        stored_expiry = row.token_expiry
    # Google's clock runs ahead: the token we hold (valid by our clock) is refused with 401,
    # and the client refreshes it in the middle of the sync, not when the mailbox is opened.
    emulator.advance_clock(2 * 3600)

    report = sync_account(runtime, "acme", account_id)
    assert report.status == "ok" and report.stored > 0, report

    after, _ = plaintext_tokens(runtime, account_row(runtime, "acme", account_id))
    changed = bool(after) and after != before  # (compared here: tokens never go to test output)
    assert changed, "the refreshed token was not stored"
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None and row.token_expiry is not None
        # The refreshed token's expiry replaced the first one. Both lie about an hour ahead of
        # our clock, and the refresh may come within a second of the connection (Google's
        # rounded expires_in), so the new one need not be later: it must differ.
        assert stored_expiry is None or row.token_expiry != stored_expiry
        assert stored_expiry is None or abs(row.token_expiry - stored_expiry) < timedelta(hours=1)
