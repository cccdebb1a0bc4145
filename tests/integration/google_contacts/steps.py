"""Steps of the Google Contacts and incremental-authorization tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fixtures.web import Member
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.mail_accounts.test_partial_consent import consent_ticking

__all__ = ["GmailConnector"]

G = "https://www.googleapis.com/auth/"
CONTACTS_SCOPE = G + "contacts.readonly"
CALENDAR_SCOPE = G + "calendar.events"


def enable_features(gmail: GmailConnector, admin: Member, **flags: bool) -> None:
    answer = gmail.client.patch("/api/v1/mail-settings", json=flags, headers=admin.headers)
    assert answer.status_code == 200, answer.text


def account_of(gmail: GmailConnector, member: Member, account_id: int) -> dict[str, Any]:
    answer = gmail.client.get(f"/api/v1/mail-accounts/{account_id}", headers=member.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def opt_in(
    gmail: GmailConnector, member: Member, account_id: int, email: str, features: list[str]
) -> set[str]:
    """Ask for ``features`` and consent to everything asked; returns the scopes asked for."""
    answer = gmail.client.post(
        f"/api/v1/mail-accounts/{account_id}/authorize-scopes",
        json={"features": features},
        headers=member.headers,
    )
    assert answer.status_code == 200, answer.text
    url = gmail.started_by(answer.json()["authorization_url"], member)
    query = parse_qs(urlsplit(url).query)
    assert query["include_granted_scopes"] == ["true"]
    asked = set(query["scope"][0].split())
    done = gmail.callback(consent_ticking(gmail, url, email, asked))
    assert done.status_code == 200, done.text
    return asked
