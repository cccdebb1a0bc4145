"""Key rotation: tokens written under key A, rotated with "B,A", then readable with B alone."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.token_vault import TokenDecryptError, TokenVault
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_accounts import open_mailbox, rotate_stored_tokens


def _use_keys(runtime: Runtime, *keys: str) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"fernet_keys": SecretStr(",".join(keys))}
    )


def _stored(runtime: Runtime, tenant: str) -> list[bytes]:
    with runtime.tenant_uow(tenant) as uow:
        rows = list(uow.session.scalars(select(MailAccountRow).order_by(MailAccountRow.id)))
    return [v for r in rows for v in (r.access_token_enc, r.refresh_token_enc) if v is not None]


def test_rotate_moves_every_token_of_every_tenant_to_the_newest_key(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _use_keys(runtime, key_a)
    acme = tenants.member("acme", "rep")
    globex = tenants.member("globex", "rep")
    acme_account = gmail.connect(acme, "one@example.com")["account"]
    gmail.connect(acme, "two@example.com")
    gmail.connect(globex, "three@example.com")
    plain = {
        tenant: [TokenVault([key_a]).decrypt(v) for v in _stored(runtime, tenant)]
        for tenant in ("acme", "globex")
    }
    assert len(plain["acme"]) == 4 and len(plain["globex"]) == 2

    _use_keys(runtime, key_b, key_a)
    report = rotate_stored_tokens(runtime)
    assert (report.tenants, report.accounts, report.secrets) == (2, 3, 6)
    assert report.failures == []

    _use_keys(runtime, key_b)
    for tenant in ("acme", "globex"):
        stored = _stored(runtime, tenant)
        assert [TokenVault([key_b]).decrypt(v) for v in stored] == plain[tenant]
        for value in stored:
            with pytest.raises(TokenDecryptError):
                TokenVault([key_a]).decrypt(value)
    assert (
        open_mailbox(runtime, "acme", acme_account["id"]).get_profile().email == "one@example.com"
    )


def test_values_no_key_opens_are_reported_not_destroyed(
    gmail: GmailConnector, tenants: TenantFactory, runtime: Runtime
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _use_keys(runtime, key_a)
    gmail.connect(tenants.member("acme", "rep"), "kept@example.com")
    before = _stored(runtime, "acme")
    _use_keys(runtime, key_b)
    report = rotate_stored_tokens(runtime)
    assert report.accounts == 0 and len(report.failures) == 1
    assert _stored(runtime, "acme") == before
