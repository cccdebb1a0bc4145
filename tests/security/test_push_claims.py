"""Defect 3: push JWT claims are checked even when no service account is pinned, and production
refuses to start with push enabled but no service account.

Before the fix, a Google-signed token with ``email_verified=false`` or any ``email`` passed
whenever ``INBOXCRM_PUSH_SERVICE_ACCOUNT`` was empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from inboxcrm.config import DEV_FERNET_KEY, Settings
from inboxcrm.providers.gmail.push import PushTokenError
from tests.integration.providers.test_push_tokens import ACCOUNT, JwksServer, verify


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    server.add_key("k1")
    try:
        yield server
    finally:
        server.close()


PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "secret_key": "a-real-secret-key-for-this-deployment",
    "fernet_keys": "c2VjdXJpdHktdGVzdC1rZXktMzItYnl0ZXMtbG9uZyE=",
}


@pytest.mark.parametrize(
    "overrides",
    [
        {"email_verified": False},
        {"email_verified": "false"},
        {"email_verified": None},  # claim absent
        {"email": None},  # no email at all
        {"email": "anyone@example.com", "email_verified": None},
    ],
)
def test_unverified_or_missing_email_is_refused_without_a_pinned_account(
    jwks: JwksServer, overrides: dict[str, Any]
) -> None:
    with pytest.raises(PushTokenError) as raised:
        verify(jwks, f"Bearer {jwks.token(**overrides)}")
    assert raised.value.reason == "unverified_email"
    assert raised.value.status == 401
    # The same token with a verified email passes: the refusal was that claim's.
    assert verify(jwks, f"Bearer {jwks.token()}")["email"] == ACCOUNT


def test_pinned_service_account_is_compared_exactly(jwks: JwksServer) -> None:
    with pytest.raises(PushTokenError) as raised:
        verify(jwks, f"Bearer {jwks.token(email='x@evil.example')}", service_account=ACCOUNT)
    assert raised.value.reason == "wrong_account"
    assert verify(jwks, f"Bearer {jwks.token()}", service_account=ACCOUNT.upper())


def test_production_with_push_and_no_service_account_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="INBOXCRM_PUSH_SERVICE_ACCOUNT"):
        Settings(**PRODUCTION, push_audience="https://crm.example.com/hooks/gmail/push")
    configured = Settings(
        **PRODUCTION,
        push_audience="https://crm.example.com/hooks/gmail/push",
        push_service_account=ACCOUNT,
    )
    assert configured.push_enabled
    assert not Settings(**PRODUCTION).push_enabled  # push off: nothing to pin
    assert DEV_FERNET_KEY not in configured.fernet_key_list
