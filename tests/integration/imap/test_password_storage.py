"""IMAP and SMTP passwords are stored encrypted with the token vault (never in plain text, never
in the account view) and re-encrypted by ``inboxcrm keys rotate``; the rotated account still
logs in and syncs."""

from __future__ import annotations

import uuid

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from inboxcrm.adapters.db.tenant_tables import MailAccountRow
from inboxcrm.adapters.token_vault import TokenDecryptError, TokenVault
from inboxcrm.bootstrap import Runtime
from inboxcrm.services.mail_accounts import rotate_stored_tokens
from tests.integration.imap.conftest import CUSTOMER, MailServerRoom, mail
from tests.security.test_secrets_canaries import ProductionLog


def _use_keys(runtime: Runtime, *keys: str) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"fernet_keys": SecretStr(",".join(keys))}
    )


def _secrets(room: MailServerRoom) -> tuple[bytes, bytes]:
    with room.runtime.tenant_uow(room.tenant) as uow:
        row = uow.session.get(MailAccountRow, room.account_id)
        assert row is not None and row.access_token_enc and row.refresh_token_enc
        assert room.password not in repr(row.settings)
        return row.access_token_enc, row.refresh_token_enc


def test_passwords_are_encrypted_and_rotated_by_keys_rotate(smtp_room: MailServerRoom) -> None:
    room = smtp_room
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _use_keys(room.runtime, key_a)
    relay_user, relay_password = room.dovecot.add_user()  # SMTP may use its own login
    account = room.connect(smtp_username=relay_user, smtp_password=relay_password)
    assert room.password not in str(account)
    imap_secret, smtp_secret = _secrets(room)
    assert room.password.encode() not in imap_secret
    assert TokenVault([key_a]).decrypt(imap_secret) == room.password
    assert TokenVault([key_a]).decrypt(smtp_secret) == relay_password

    _use_keys(room.runtime, key_b, key_a)
    report = rotate_stored_tokens(room.runtime)
    assert report.failures == [] and report.secrets == 2

    _use_keys(room.runtime, key_b)
    imap_secret, smtp_secret = _secrets(room)
    assert TokenVault([key_b]).decrypt(imap_secret) == room.password
    assert TokenVault([key_b]).decrypt(smtp_secret) == relay_password
    with pytest.raises(TokenDecryptError):
        TokenVault([key_a]).decrypt(imap_secret)
    assert room.sync().status == "ok"  # the rotated password still logs in


def test_no_password_or_mail_body_reaches_the_log(
    smtp_room: MailServerRoom, production_log: ProductionLog
) -> None:
    room = smtp_room
    marker = f"body-canary-{uuid.uuid4().hex}"
    wrong = f"wrong-canary-{uuid.uuid4().hex}"
    room.append("INBOX", mail(CUSTOMER, room.address, "Canary", body=f"Inhalt {marker}"))
    refused = room.client.post(
        "/api/v1/mail-accounts/imap",
        json=room.connect_body(password=wrong),
        headers=room.member.headers,
    )
    assert refused.status_code == 422 and wrong not in refused.text
    room.connect()
    room.sync()
    (item,) = room.timeline()
    sent = room.client.post(
        "/api/v1/messages",
        json={
            "mail_account_id": room.account_id,
            "to": [CUSTOMER],
            "subject": "",
            "body_text": f"Antwort {marker}",
            "reply_to_message_id": item["provider_message_id"],
            "record": {"type": "contact", "id": room.contact_id},
        },
        headers=room.member.headers,
    )
    assert sent.status_code == 201 and sent.json()["status"] == "sent"

    text = production_log.text()
    assert "imap" in text.lower()  # the log did capture the work
    for secret in (room.password, wrong, marker):
        assert secret not in text


def test_disconnecting_deletes_the_passwords_at_once(smtp_room: MailServerRoom) -> None:
    room = smtp_room
    room.connect()
    response = room.client.delete(
        f"/api/v1/mail-accounts/{room.account_id}", headers=room.member.headers
    )
    assert response.status_code == 200 and response.json()["status"] == "disconnected"
    with room.runtime.tenant_uow(room.tenant) as uow:
        row = uow.session.get(MailAccountRow, room.account_id)
        assert row is not None
        assert row.access_token_enc is None and row.refresh_token_enc is None
