"""With default settings every Google client targets that API's real root (its discovery
document's), not one shared base; pointed at an emulator, everything goes under its base.
Requests are built, never sent."""

from __future__ import annotations

import httplib2
from google.oauth2.credentials import Credentials

from inboxcrm.config import Settings
from inboxcrm.providers.gmail import endpoints, oauth
from inboxcrm.providers.gmail.client import GmailMailbox

EMU = "http://127.0.0.1:8765"


def _mailbox(api_base: str) -> GmailMailbox:
    credentials = Credentials(token="t")  # type: ignore[no-untyped-call]
    return GmailMailbox(credentials, api_base=api_base)


def test_default_settings_call_each_api_at_its_real_root() -> None:
    settings = Settings(environment="test")
    mailbox = _mailbox(settings.google_api_base)
    users = mailbox._users
    assert users.getProfile(userId="me").uri.startswith(
        "https://gmail.googleapis.com/gmail/v1/users/me/profile"
    )
    assert (
        users.messages()
        .list(userId="me", q="x")
        .uri.startswith("https://gmail.googleapis.com/gmail/v1/users/me/messages?")
    )
    assert (
        users.history()
        .list(userId="me", startHistoryId="1")
        .uri.startswith("https://gmail.googleapis.com/gmail/v1/users/me/history?")
    )
    assert users.watch(userId="me", body={}).uri.startswith(
        "https://gmail.googleapis.com/gmail/v1/users/me/watch"
    )
    batch = mailbox._batch_get
    assert batch.batch_uri == "https://www.googleapis.com/batch/gmail/v1"
    assert b"GET /gmail/v1/users/me/messages/abc?format=raw" in batch.body(["abc"], "raw", (), "b")

    http = httplib2.Http()
    people = endpoints.build_service("people", "v1", http=http, api_base=settings.google_api_base)
    request = people.people().connections().list(resourceName="people/me", personFields="names")
    assert request.uri.startswith("https://people.googleapis.com/v1/people/me/connections?")
    calendar = endpoints.build_service(
        "calendar", "v3", http=http, api_base=settings.google_api_base
    )
    events = calendar.events().list(calendarId="primary").uri
    assert events.startswith("https://www.googleapis.com/calendar/v3/calendars/primary/events")

    google = oauth.endpoints_for(settings)
    assert google.auth_uri == "https://accounts.google.com/o/oauth2/v2/auth"
    assert google.token_uri == "https://oauth2.googleapis.com/token"
    assert google.revoke_uri == "https://oauth2.googleapis.com/revoke"
    assert google.userinfo_uri == "https://openidconnect.googleapis.com/v1/userinfo"
    url, _ = oauth.authorization_request(settings, "https://crm.example/cb", "state")
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")


def test_an_emulator_base_serves_every_api() -> None:
    mailbox = _mailbox(EMU)
    assert mailbox._users.getProfile(userId="me").uri.startswith(EMU + "/gmail/v1/users/me/profile")
    assert mailbox._batch_get.batch_uri == EMU + "/batch/gmail/v1"
    http = httplib2.Http()
    people = endpoints.build_service("people", "v1", http=http, api_base=EMU)
    assert (
        people.people()
        .connections()
        .list(resourceName="people/me", personFields="names")
        .uri.startswith(EMU + "/v1/people/me/connections")
    )
    calendar = endpoints.build_service("calendar", "v3", http=http, api_base=EMU)
    assert (
        calendar.events()
        .list(calendarId="primary")
        .uri.startswith(EMU + "/calendar/v3/calendars/primary/events")
    )
    emulated = oauth.endpoints_for(Settings(environment="test", google_api_base=EMU))
    assert emulated.token_uri == EMU + "/token"
