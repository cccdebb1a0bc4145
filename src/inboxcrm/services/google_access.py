"""Google credentials of a connected mailbox for APIs beyond Gmail (People, Calendar).

:func:`account_credentials` decrypts the account's tokens and returns google-auth credentials
carrying the account's granted scopes; every refresh is stored at once (as for the Gmail
client, :func:`inboxcrm.services.mail_accounts.open_mailbox`). No token is ever logged.
"""

from __future__ import annotations

from google.oauth2.credentials import Credentials

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.token_vault import TokenDecryptError, vault_for
from inboxcrm.bootstrap import Runtime
from inboxcrm.domain.errors import NotFound, ProviderAuthError, ProviderError
from inboxcrm.providers.gmail import oauth
from inboxcrm.services.mail_accounts import GMAIL, _refresh, _store_refreshed

__all__ = ["account_credentials"]

_REFRESH_MARGIN_SECONDS = 120


def account_credentials(runtime: Runtime, tenant: str, account_id: int) -> Credentials:
    """Credentials of a connected Gmail account (refreshed first when about to expire).

    Raises NotFound, ProviderAuthError (disconnected or revoked), ProviderTransientError,
    ProviderError (tokens cannot be decrypted with the configured keys).
    """
    settings = runtime.settings
    vault = vault_for(settings)
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
        if row is None:
            raise NotFound(f"no mail account {account_id} in tenant {tenant}")
        if row.status == "disconnected" or row.provider != GMAIL:
            raise ProviderAuthError(f"mail account {account_id} is not a connected Gmail account")
        try:
            access_token = vault.decrypt_optional(row.access_token_enc)
            refresh_token = vault.decrypt_optional(row.refresh_token_enc)
        except TokenDecryptError as exc:
            raise ProviderError(
                f"the tokens of mail account {account_id} cannot be decrypted; "
                "check INBOXCRM_FERNET_KEYS"
            ) from exc
        scopes, expiry = list(row.scopes or ()), row.token_expiry
    credentials = oauth.credentials_from_tokens(
        settings,
        access_token=access_token,
        refresh_token=refresh_token,
        expiry=expiry,
        scopes=scopes or oauth.SCOPES,
        on_refresh=lambda fresh: _store_refreshed(runtime, tenant, account_id, vault, fresh),
    )
    soon = utcnow().timestamp() + _REFRESH_MARGIN_SECONDS
    if refresh_token and (access_token is None or expiry is None or expiry.timestamp() <= soon):
        _refresh(credentials)
    return credentials
