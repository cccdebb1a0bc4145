"""Mail-account tests run against the Google API emulator: settings point every Google endpoint
at it, and :class:`GmailConnector` walks the real OAuth flow (authorize → the emulator's consent
form → callback) through the HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import message_key
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import Member

from inboxcrm.adapters.db.tenant_tables import (
    ActivityRow,
    EmailAttachmentRow,
    EmailMessageRow,
    EmailThreadRow,
    MailAccountRow,
)
from inboxcrm.adapters.db.types import utcnow
from inboxcrm.adapters.token_vault import vault_for
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.emulator.control_client import shared_ssl_context
from inboxcrm.services.identity import create_session, verify_login
from inboxcrm.web.deps import SESSION_COOKIE


@pytest.fixture
def settings(settings: Settings, emulator: EmulatorHandle) -> Settings:
    """The runtime's settings with Google's endpoints on the emulator."""
    return settings.model_copy(update={"google_api_base": emulator.url})


@dataclass
class Consent:
    """Where the emulator sent the browser back, split for the TestClient."""

    callback: str  # path + query of /oauth/google/callback
    params: dict[str, str]


class GmailConnector:
    """Drives "Connect Gmail" for a member through the API and the emulator's consent form.

    The flow starts with the member's API token; the callback then arrives, like Google's
    redirect, in a browser: by default one signed in as the member who started the flow
    (``callback(..., signed_in_as=other)`` or ``browser_session=False`` for the other cases).
    """

    def __init__(self, client: TestClient, emulator: EmulatorHandle) -> None:
        self.client = client
        self.emulator = emulator
        self.http = httpx.Client(timeout=30, verify=shared_ssl_context())
        self._starters: dict[str, Member] = {}
        self._sessions: dict[tuple[str, str], str] = {}

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        return runtime

    def authorize(self, member: Member) -> str:
        response = self.client.post("/api/v1/mail-accounts/gmail/authorize", headers=member.headers)
        assert response.status_code == 200, response.text
        url: str = response.json()["authorization_url"]
        return self.started_by(url, member)

    def started_by(self, url: str, member: Member) -> str:
        """Note that ``member`` asked for consent URL ``url`` (its callback then comes from
        their signed-in browser, as the callback requires)."""
        self._starters[dict(parse_qsl(urlsplit(url).query))["state"]] = member
        return url

    def session_cookie(self, member: Member) -> dict[str, str]:
        """A ``Cookie`` header of a login session of ``member`` (signed in through the UI's
        own password check and session store)."""
        key = (member.tenant, member.email)
        if key not in self._sessions:
            user_id, tenant_id = verify_login(
                self.runtime, member.email, member.password, member.tenant
            )
            session_id, _ = create_session(
                self.runtime, user_id, tenant_id, ip="127.0.0.1", user_agent="test browser"
            )
            self._sessions[key] = session_id
        return {"Cookie": f"{SESSION_COOKIE}={self._sessions[key]}"}

    def consent(
        self, authorization_url: str, email: str, *, decision: str = "allow", **overrides: str
    ) -> Consent:
        """Fill in the emulator's consent form (optionally with tampered request parameters)."""
        page = self.http.get(authorization_url)
        assert page.status_code == 200 and "<form" in page.text
        params = dict(parse_qsl(urlsplit(authorization_url).query))
        params.update(overrides)
        form = {**params, "email": email, "decision": decision}
        answer = self.http.post(f"{self.emulator.url}/o/oauth2/approve", data=form)
        assert answer.status_code == 302, answer.text
        location = urlsplit(answer.headers["location"])
        assert location.path == "/oauth/google/callback"
        return Consent(
            callback=f"{location.path}?{location.query}", params=dict(parse_qsl(location.query))
        )

    def callback(
        self,
        consent: Consent,
        *,
        json: bool = True,
        signed_in_as: Member | None = None,
        browser_session: bool = True,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"} if json else {"Accept": "text/html"}
        member = signed_in_as or self._starters.get(consent.params.get("state", ""))
        if browser_session and member is not None:
            headers.update(self.session_cookie(member))
        return self.client.get(consent.callback, headers=headers, follow_redirects=False)

    def connect(self, member: Member, email: str) -> dict[str, Any]:
        """The whole flow; returns the callback's JSON (``tenant``, ``created``, ``account``)."""
        response = self.callback(self.consent(self.authorize(member), email))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def gmail(client: TestClient, emulator: EmulatorHandle) -> Iterator[GmailConnector]:
    connector = GmailConnector(client, emulator)
    try:
        yield connector
    finally:
        connector.close()


def account_row(runtime: Runtime, tenant: str, account_id: int) -> MailAccountRow:
    with runtime.tenant_uow(tenant) as uow:
        row = uow.session.get(MailAccountRow, account_id)
    assert row is not None
    return row


def plaintext_tokens(runtime: Runtime, row: MailAccountRow) -> tuple[str | None, str | None]:
    vault = vault_for(runtime.settings)
    return vault.decrypt_optional(row.access_token_enc), vault.decrypt_optional(
        row.refresh_token_enc
    )


def add_mail(runtime: Runtime, tenant: str, account_id: int, count: int) -> None:
    """Store ``count`` synced messages (with attachment and timeline entry) for an account."""
    now = utcnow()
    with runtime.tenant_uow(tenant) as uow:
        thread = EmailThreadRow(mail_account_id=account_id, provider_thread_id=f"t{account_id}")
        uow.session.add(thread)
        uow.session.flush()
        for i in range(count):
            values = {
                "mail_account_id": account_id,
                "thread_id": thread.id,
                "provider_message_id": f"m{account_id}-{i}",
                "message_id_header": f"<m{account_id}-{i}@example.org>",
                "sent_at": now,
                "direction": "inbound",
                "subject": f"hello {i}",
            }
            message = EmailMessageRow(**values, message_key_id=message_key(uow, values))
            uow.session.add(message)
            uow.session.flush()
            uow.session.add(EmailAttachmentRow(message_id=message.id, filename="a.pdf"))
            uow.session.add(
                ActivityRow(
                    record_kind="contact",
                    record_id=1,
                    kind="email",
                    ref_id=message.message_key_id,
                    occurred_at=now,
                )
            )
        uow.commit()


def mail_counts(runtime: Runtime, tenant: str) -> dict[str, int]:
    """Rows in the mail tables of a tenant."""
    with runtime.tenant_uow(tenant) as uow:
        return {
            table.__tablename__: int(
                uow.session.scalar(select(func.count()).select_from(table)) or 0
            )
            for table in (EmailThreadRow, EmailMessageRow, EmailAttachmentRow, ActivityRow)
        }
