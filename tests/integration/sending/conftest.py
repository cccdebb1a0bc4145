"""Sending tests run against the Google API emulator through the real client libraries.

- ``settings`` (overridden): Google's endpoints on the emulator, no local quota gate, a public
  URL for tracking links.
- :func:`connected` connects a rep's Gmail (the real OAuth flow through the API and the
  emulator's consent form) and returns a :class:`Mailroom` with what a test needs: the member,
  the account id, a contact, and helpers to deliver customer mail, sync, and read what the
  emulator holds (raw bytes of sent messages, by the Gmail API).
"""

from __future__ import annotations

import base64
import email
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.services.mail_sync import sync_account
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import Member, TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector

OWNER = "rep@acme-sales.example"
CUSTOMER = "joerg@kunde.example"


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    return settings.model_copy(
        update={
            "google_api_base": emulator.url,
            "quota_units_per_second": 0.0,
            "sync_lookback_days": 3650,
            "public_url": "http://crm.test.example",
        }
    )


@pytest.fixture
def runtime(runtime: Runtime) -> Runtime:
    runtime.extras["send_backoff_seconds"] = 0.01
    return runtime


@pytest.fixture
def gmail(client: TestClient, emulator: EmulatorHandle) -> Iterator[GmailConnector]:
    connector = GmailConnector(client, emulator)
    try:
        yield connector
    finally:
        connector.close()


def customer_mail(
    sender: str, to: str, subject: str, *, body: str = "Hello", message_id: str | None = None
) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or f"<c{uuid.uuid4().hex[:12]}@kunde.example>"
    msg["Date"] = "Mon, 3 Nov 2025 10:00:00 +0000"
    msg.set_content(body)
    return msg.as_bytes()


@dataclass
class Mailroom:
    runtime: Runtime
    client: TestClient
    emulator: EmulatorHandle
    member: Member
    account_id: int
    contact_id: int
    tenant: str = "acme"

    def deliver(self, raw: bytes) -> dict[str, Any]:
        return self.emulator.deliver(OWNER, raw)

    def sync(self) -> None:
        report = sync_account(self.runtime, self.tenant, self.account_id)
        assert report.status == "ok", report

    def send(self, **fields: Any) -> Any:
        body: dict[str, Any] = {
            "mail_account_id": self.account_id,
            "to": [CUSTOMER],
            "subject": "Hello",
            "body_text": "Hi there",
            "record": {"type": "contact", "id": self.contact_id},
        }
        body.update(fields)
        return self.client.post("/api/v1/messages", json=body, headers=self.member.headers)

    def timeline(self) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v1/contacts/{self.contact_id}/timeline?limit=100", headers=self.member.headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def gmail_message(self, message_id: str, fmt: str = "raw") -> dict[str, Any]:
        """messages.get through the real client (as the mailbox owner)."""
        from tests.integration.sync.conftest import emulator_mailbox

        mailbox = emulator_mailbox(self.emulator, OWNER)
        data: dict[str, Any] = (
            mailbox._users.messages()
            .get(userId="me", id=message_id, format=fmt)
            .execute(http=mailbox._http)
        )
        return data

    def raw_of(self, message_id: str) -> email.message.Message:
        data = self.gmail_message(message_id)
        raw = base64.urlsafe_b64decode(data["raw"] + "=" * (-len(data["raw"]) % 4))
        return email.message_from_bytes(raw, policy=policy.default)

    def sent_ids(self) -> list[str]:
        from tests.integration.sync.conftest import emulator_mailbox

        mailbox = emulator_mailbox(self.emulator, OWNER)
        return [ref.id for ref in mailbox.iter_message_ids(label_ids=["SENT"])]


@pytest.fixture
def mailroom(
    runtime: Runtime,
    client: TestClient,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,
) -> Mailroom:
    member = tenants.member("acme", "rep")
    emulator.create_user(OWNER, name="Rep Rüdiger", aliases=["sales@acme-sales.example"])
    account_id = gmail.connect(member, OWNER)["account"]["id"]
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, first_name="Jörg", last_name="Müller", emails=[CUSTOMER])
    return Mailroom(runtime, client, emulator, member, account_id, contact.id)


@pytest.fixture
def anthropic_double(runtime: Runtime) -> Iterator[Any]:
    """The Anthropic Messages API double, with the runtime's settings pointed at it."""
    from pydantic import SecretStr

    from tests.fixtures.anthropic_double import AnthropicDouble

    double = AnthropicDouble()
    runtime.settings.anthropic_api_key = SecretStr("test-anthropic-key")
    runtime.settings.anthropic_base_url = double.url
    runtime.settings.ai_max_retries = 2
    try:
        yield double
    finally:
        double.close()


def thread_mail(
    sender: str,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    references: list[str],
    *,
    minute: int = 0,
) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    if references:
        msg["In-Reply-To"] = references[-1]
        msg["References"] = " ".join(references)
    msg["Date"] = f"Mon, 3 Nov 2025 10:{minute:02d}:00 +0000"
    msg.set_content(body)
    return msg.as_bytes()
