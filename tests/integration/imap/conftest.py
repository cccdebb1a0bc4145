"""IMAP/POP3/SMTP tests run against a real Dovecot and a real SMTP server (aiosmtpd).

The session-wide ``dovecot`` and ``smtp_server`` fixtures (``tests/fixtures/mail_servers.py``)
start throwaway servers on free ports; every test gets mailboxes of its own
(:meth:`~tests.fixtures.mail_servers.Dovecot.add_user`), so tests never see each other's mail.
:class:`MailServerRoom` connects a rep's mailbox through ``POST /api/v1/mail-accounts/imap``
(trusting the fixture's CA) and gives the helpers a test needs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.services.mail_sync import SyncReport, sync_account
from tests.factories import make_contact
from tests.fixtures.mail_servers import Dovecot, SmtpServer
from tests.fixtures.web import Member, TenantFactory
from tests.security.test_secrets_canaries import production_log  # noqa: F401  (the log canary)

CUSTOMER = "kunde@customer.example"
TENANT = "acme"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sync_lookback_days": 3650})


@pytest.fixture
def runtime(runtime: Runtime) -> Runtime:
    runtime.extras["send_backoff_seconds"] = 0.01
    return runtime


def mail(
    sender: str,
    to: str,
    subject: str,
    *,
    body: str = "Hello",
    message_id: str | None = None,
    references: list[str] | None = None,
    minute: int = 0,
) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<m{uuid.uuid4().hex[:12]}@customer.example>"
    if references:
        msg["In-Reply-To"] = references[-1]
        msg["References"] = " ".join(references)
    msg["Date"] = f"Mon, 3 Nov 2025 10:{minute:02d}:00 +0000"
    msg.set_content(body)
    return msg.as_bytes()


def wait_for(check: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (generous deadline, no timing asserts)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class MailServerRoom:
    runtime: Runtime
    client: TestClient
    dovecot: Dovecot
    smtp: SmtpServer | None
    member: Member
    address: str
    password: str
    contact_id: int
    account_id: int = 0
    tenant: str = TENANT

    def connect_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "protocol": "imap",
            "host": "127.0.0.1",
            "port": self.dovecot.imaps_port,
            "security": "implicit_tls",
            "username": self.address,
            "password": self.password,
            "ca_pem": self.dovecot.ca_pem,
        }
        if self.smtp is not None:
            body.update(
                smtp_host="127.0.0.1",
                smtp_port=self.smtp.port,
                smtp_security="starttls",
            )
        body.update(overrides)
        return body

    def connect(self, **overrides: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/mail-accounts/imap",
            json=self.connect_body(**overrides),
            headers=self.member.headers,
        )
        assert response.status_code == 201, response.text
        account: dict[str, Any] = response.json()
        self.account_id = int(account["id"])
        return account

    def sync(self, *, full: bool = False) -> SyncReport:
        report = sync_account(self.runtime, self.tenant, self.account_id, full=full)
        assert report.status == "ok", report
        return report

    def append(self, folder: str, raw: bytes) -> None:
        self.dovecot.append(self.address, folder, raw)

    def timeline(self) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v1/contacts/{self.contact_id}/timeline?limit=100", headers=self.member.headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return [i for i in items if i["kind"] == "email"]

    def account(self) -> dict[str, Any]:
        response = self.client.get(
            f"/api/v1/mail-accounts/{self.account_id}", headers=self.member.headers
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


def make_room(
    runtime: Runtime,
    client: TestClient,
    dovecot: Dovecot,
    tenants: TenantFactory,
    smtp: SmtpServer | None,
    *,
    member_email: str | None = None,
    contact_id: int | None = None,
) -> MailServerRoom:
    """A rep (``member_email``) with a fresh mailbox, and a contact (a new one unless given)."""
    member = tenants.member(TENANT, "rep", email=member_email)
    address, password = dovecot.add_user()
    if contact_id is None:
        with runtime.tenant_uow(TENANT) as uow:
            contact_id = make_contact(
                uow, first_name="Karl", last_name="Kunde", emails=[CUSTOMER]
            ).id
    return MailServerRoom(runtime, client, dovecot, smtp, member, address, password, contact_id)


@pytest.fixture
def room(
    runtime: Runtime, client: TestClient, dovecot: Dovecot, tenants: TenantFactory
) -> MailServerRoom:
    """A rep with a fresh Dovecot mailbox and a contact (not yet connected)."""
    return make_room(runtime, client, dovecot, tenants, None)


@pytest.fixture
def smtp_room(
    runtime: Runtime,
    client: TestClient,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    tenants: TenantFactory,
) -> MailServerRoom:
    """:func:`room` with the SMTP server configured too."""
    return make_room(runtime, client, dovecot, tenants, smtp_server)
