"""``inboxcrm keys rotate`` on the command line: counts reported, old key removable afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select
from tests.fixtures.web import TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from typer.testing import CliRunner

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.token_vault import TokenVault
from inboxcrm.bootstrap import Runtime
from inboxcrm.cli import _register, app
from inboxcrm.config import get_settings


@pytest.fixture
def fresh_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_keys_rotate_command(
    gmail: GmailConnector,
    tenants: TenantFactory,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    fresh_settings_cache: None,
) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    runtime.settings = runtime.settings.model_copy(update={"fernet_keys": SecretStr(key_a)})
    gmail.connect(tenants.member("acme", "rep"), "cli@example.com")

    monkeypatch.setenv("INBOXCRM_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("INBOXCRM_DATABASE_URL", runtime.settings.database_url)
    monkeypatch.setenv("INBOXCRM_TENANT_DATABASE_URL", runtime.settings.tenant_database_url)
    monkeypatch.setenv("INBOXCRM_FERNET_KEYS", f"{key_b},{key_a}")
    _register()
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 token(s) of 1 mail account(s) in 1 tenant(s)" in result.output

    with runtime.tenant_uow("acme") as uow:
        row = uow.session.scalar(select(MailAccountRow))
    assert row is not None and row.refresh_token_enc is not None
    assert TokenVault([key_b]).decrypt(row.refresh_token_enc)

    monkeypatch.setenv("INBOXCRM_FERNET_KEYS", Fernet.generate_key().decode())
    get_settings.cache_clear()
    failed = CliRunner().invoke(app, ["keys", "rotate"])
    assert failed.exit_code == 1
