"""Calendar tests run against the emulator's Calendar v3 through the real client libraries.

:func:`calendar_room` connects a rep's Gmail through the real OAuth flow, with the consent
also granting ``calendar.events`` (as the incremental authorization would), enables Google
Calendar for the tenant as an admin through the API, and makes a contact for the customer.
``google`` is a Calendar service of the same user (the "other side": edits made in Google).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.calendar_client import CALENDAR_EVENTS_SCOPE
from inboxcrm.services import meetings
from tests.emulator.conftest import calendar_service
from tests.factories import make_contact
from tests.fixtures.emulator import EmulatorHandle
from tests.fixtures.web import Member, TenantFactory
from tests.integration.mail_accounts.conftest import GmailConnector
from tests.integration.sending.conftest import (  # noqa: F401  (fixtures)
    CUSTOMER,
    OWNER,
    anthropic_double,
    gmail,
    runtime,
    settings,
)

COLLEAGUE_CUSTOMER = "anna@kunde.example"


def connect_with_calendar(connector: GmailConnector, member: Member, email: str) -> int:
    """Connect Gmail with the five scopes plus calendar.events granted; the account id."""
    url = connector.authorize(member)
    scope = dict(parse_qsl(urlsplit(url).query))["scope"]
    consent = connector.consent(url, email, scope=f"{scope} {CALENDAR_EVENTS_SCOPE}")
    response = connector.callback(consent)
    assert response.status_code == 200, response.text
    account_id: int = response.json()["account"]["id"]
    return account_id


@dataclass
class CalendarRoom:
    runtime: Runtime
    client: TestClient
    emulator: EmulatorHandle
    member: Member
    admin: Member
    account_id: int
    contact_id: int
    tenant: str = "acme"

    @property
    def google(self) -> Any:
        """events() of the owner's calendar, as Google's own UI would change it."""
        creds = self.emulator.credentials(OWNER, ["https://www.googleapis.com/auth/calendar"])
        return calendar_service(self.emulator, creds).events()

    def sync(self, **kwargs: Any) -> meetings.CalendarSyncReport:
        report = meetings.sync_calendar(self.runtime, self.tenant, self.account_id, **kwargs)
        assert report.status == "ok", report
        return report

    def meetings_on(self, kind: str, record_id: int) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/v1/{kind}s/{record_id}/timeline?kind=meeting&limit=100",
            headers=self.member.headers,
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def create(self, **fields: Any) -> Any:
        body: dict[str, Any] = {
            "record": {"type": "contact", "id": self.contact_id},
            "mail_account_id": self.account_id,
            "title": "Angebot besprechen",
            "start": "2030-05-01T10:00:00Z",
            "end": "2030-05-01T11:00:00Z",
            "attendees": [CUSTOMER],
        }
        body.update(fields)
        return self.client.post("/api/v1/meetings", json=body, headers=self.member.headers)


@pytest.fixture
def calendar_room(
    runtime: Runtime,  # noqa: F811
    client: TestClient,
    emulator: EmulatorHandle,
    tenants: TenantFactory,
    gmail: GmailConnector,  # noqa: F811
) -> CalendarRoom:
    member = tenants.member("acme", "rep")
    admin = tenants.member("acme", "admin")
    emulator.create_user(OWNER, name="Rep Rüdiger")
    account_id = connect_with_calendar(gmail, member, OWNER)
    enabled = client.patch(
        "/api/v1/mail-settings", json={"google_calendar_enabled": True}, headers=admin.headers
    )
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["google_calendar_enabled"] is True
    with runtime.tenant_uow("acme") as uow:
        contact = make_contact(uow, first_name="Jörg", last_name="Müller", emails=[CUSTOMER])
    return CalendarRoom(runtime, client, emulator, member, admin, account_id, contact.id)
