"""Refresh tokens die in the wild in several ways, each answered ``invalid_grant``: the emulator
produces each one, and the disconnected account names the likely cause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.services.mail_sync import sync_account

EMAIL = "mortal@acme-sales.example"
DAY = 86400


def _update(runtime: Runtime, account_id: int, **values: object) -> None:
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        uow.commit()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("cause", "named"),
    [
        ("testing_mode", "Testing mode"),
        ("unused", "unused for six months"),
        ("password_change", "password was changed"),
        ("token_limit", "more than 100 newer refresh tokens"),
    ],
)
def test_each_refresh_token_death_disconnects_and_names_its_likely_cause(
    cause: str,
    named: str,
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
    emulator: EmulatorHandle,
    settings: Settings,
) -> None:
    rep = tenants.member("acme", "rep")
    account_id = gmail.connect(rep, EMAIL)["account"]["id"]
    now = utcnow()
    if cause == "testing_mode":
        emulator.set_config(testing_mode=True)
        emulator.advance_clock(7 * DAY + 3600)
        _update(runtime, account_id, token_issued_at=now - timedelta(days=7, hours=1))
    elif cause == "unused":
        emulator.advance_clock(183 * DAY)
        _update(
            runtime,
            account_id,
            token_issued_at=now - timedelta(days=183),
            token_expiry=now - timedelta(days=183),
            last_sync_at=None,
        )
    elif cause == "password_change":
        assert emulator.change_password(EMAIL) >= 1
    else:
        secret = settings.google_client_secret.get_secret_value()
        for _ in range(100):  # 100 newer tokens for the same account and app
            emulator.authorize(EMAIL, client_id=settings.google_client_id, client_secret=secret)
    # The stored access token is stale: the next sync must refresh it.
    if cause != "unused":
        _update(runtime, account_id, token_expiry=now - timedelta(minutes=5))

    report = sync_account(runtime, "acme", account_id)

    assert report.status == "revoked", report
    with runtime.tenant_uow("acme") as uow:
        row = uow.session.get(MailAccountRow, account_id)
        assert row is not None
        assert row.status == "disconnected"
        assert row.last_error is not None and named in row.last_error
