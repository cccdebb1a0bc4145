"""Every emulated method answers bodies that conform to Google's discovery documents.

The recording Http in conftest validates each response as it arrives (in every test of this
package); this test drives every method once and checks that all of them were validated, and
checks the validator itself.
"""

from __future__ import annotations

import base64
from typing import Any

from googleapiclient.http import BatchHttpRequest

from tests.emulator import conftest
from tests.emulator.conftest import (
    USER,
    calendar_service,
    gmail_service,
    oauth2_service,
    people_service,
)
from tests.emulator.discovery_schema import validate
from tests.emulator.test_gmail_messages import MULTIPART, mime
from tests.fixtures.emulator import EmulatorHandle

ALL_SCOPES = [
    "https://mail.google.com/",
    "https://www.googleapis.com/auth/contacts.readonly",
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/userinfo.email",
    "openid",
]
EXPECTED = {
    "gmail.users.getProfile", "gmail.users.labels.list", "gmail.users.labels.get",
    "gmail.users.labels.create", "gmail.users.labels.patch", "gmail.users.labels.update",
    "gmail.users.labels.delete", "gmail.users.messages.list", "gmail.users.messages.get",
    "gmail.users.messages.attachments.get", "gmail.users.messages.send",
    "gmail.users.messages.insert", "gmail.users.messages.import", "gmail.users.messages.modify",
    "gmail.users.messages.batchModify", "gmail.users.messages.trash",
    "gmail.users.messages.untrash", "gmail.users.messages.delete", "gmail.users.threads.get",
    "gmail.users.threads.list", "gmail.users.history.list", "gmail.users.watch", "gmail.users.stop",
    "gmail.users.settings.sendAs.list", "people.people.connections.list", "calendar.events.list",
    "calendar.events.insert", "calendar.events.get", "calendar.events.patch",
    "calendar.events.update", "calendar.events.delete", "calendar.events.instances",
    "oauth2.userinfo.get",
}  # fmt: skip


def test_validator_catches_undeclared_fields_and_wrong_types() -> None:
    good = {
        "id": "1",
        "threadId": "1",
        "historyId": "12",
        "internalDate": "1700000000000",
        "sizeEstimate": 3,
    }
    assert validate("gmail.v1", "Message", good) == []
    assert validate("gmail.v1", "Message", {**good, "bogus": 1}) == [
        "Message.bogus: field not declared in the discovery document"
    ]
    assert validate("gmail.v1", "Message", {**good, "historyId": 12})
    assert validate("gmail.v1", "Message", {**good, "internalDate": "soon"})
    assert validate("gmail.v1", "Message", {**good, "sizeEstimate": "3"})
    assert validate(
        "gmail.v1", "Message", {**good, "payload": {"parts": [{"body": {"size": True}}]}}
    )


def test_every_method_conforms(emulator: EmulatorHandle) -> None:
    conftest.VALIDATED.clear()
    emu = emulator
    emu.create_user(USER, "Rita Rep", aliases=["sales@acme.example"])
    creds = emu.credentials(USER, ALL_SCOPES)
    gmail = gmail_service(emu, creds)
    users = gmail.users()
    emu.generate(USER, 60, seed=2)
    loaded = emu.deliver(USER, MULTIPART)
    start = users.getProfile(userId="me").execute()["historyId"]
    label = users.labels().create(userId="me", body={"name": "CRM"}).execute()
    users.labels().patch(userId="me", id=label["id"], body={"name": "CRM2"}).execute()
    users.labels().update(userId="me", id=label["id"], body={"name": "CRM3"}).execute()
    for item in users.labels().list(userId="me").execute()["labels"][:3]:
        users.labels().get(userId="me", id=item["id"]).execute()
    ids = [
        m["id"]
        for m in users.messages()
        .list(userId="me", maxResults=500, includeSpamTrash=True)
        .execute()["messages"]
    ]
    results: list[Any] = []
    batch = BatchHttpRequest(
        batch_uri=emu.url + "/batch/gmail/v1", callback=lambda *a: results.append(a)
    )
    for index, msg_id in enumerate(ids[:60]):
        batch.add(
            users.messages().get(
                userId="me", id=msg_id, format=("full", "metadata", "minimal", "raw")[index % 4]
            )
        )
    batch.execute()
    assert all(exc is None for _, _, exc in results)
    full = users.messages().get(userId="me", id=loaded["id"]).execute()
    attachment = full["payload"]["parts"][1]["body"]["attachmentId"]
    users.messages().attachments().get(userId="me", messageId=loaded["id"], id=attachment).execute()
    raw = base64.urlsafe_b64encode(mime("conformance", sender=USER, to="x@y.example")).decode()
    sent = users.messages().send(userId="me", body={"raw": raw}).execute()
    users.messages().insert(userId="me", body={"raw": raw, "labelIds": ["INBOX"]}).execute()
    imported = users.messages().import_(userId="me", body={"raw": raw}).execute()
    users.messages().modify(
        userId="me", id=sent["id"], body={"addLabelIds": [label["id"]]}
    ).execute()
    users.messages().batchModify(
        userId="me", body={"ids": ids[:5], "addLabelIds": ["STARRED"]}
    ).execute()
    users.messages().trash(userId="me", id=imported["id"]).execute()
    users.messages().untrash(userId="me", id=imported["id"]).execute()
    users.messages().delete(userId="me", id=imported["id"]).execute()
    users.labels().delete(userId="me", id=label["id"]).execute()
    for fmt in ("full", "metadata", "minimal"):
        users.threads().get(userId="me", id=full["threadId"], format=fmt).execute()
    users.threads().list(userId="me", maxResults=5).execute()
    users.history().list(userId="me", startHistoryId=start).execute()
    users.watch(userId="me", body={"topicName": "projects/p/topics/t"}).execute()
    users.stop(userId="me").execute()
    users.settings().sendAs().list(userId="me").execute()
    emu.add_contact(
        USER,
        name="Ann Buyer",
        emails=["ann@customer.example"],
        phones=["+90 555"],
        organization="Globex",
        title="CTO",
    )
    people_service(emu, creds).people().connections().list(
        resourceName="people/me",
        personFields="names,emailAddresses,phoneNumbers,organizations,metadata",
        requestSyncToken=True,
    ).execute()
    events = calendar_service(emu, creds).events()
    event = events.insert(
        calendarId="primary",
        body={
            "summary": "x",
            "start": {"dateTime": "2030-01-01T10:00:00Z"},
            "end": {"dateTime": "2030-01-01T11:00:00Z"},
            "attendees": [{"email": "ann@customer.example", "displayName": "Ann"}],
        },
    ).execute()
    events.get(calendarId="primary", eventId=event["id"]).execute()
    events.patch(calendarId="primary", eventId=event["id"], body={"location": "Room 1"}).execute()
    events.update(
        calendarId="primary",
        eventId=event["id"],
        body={"summary": "y", "start": {"date": "2030-01-02"}, "end": {"date": "2030-01-03"}},
    ).execute()
    listing = events.list(calendarId="primary").execute()
    series = events.insert(
        calendarId="primary",
        body={
            "summary": "weekly",
            "start": {"dateTime": "2030-01-07T09:00:00Z"},
            "end": {"dateTime": "2030-01-07T09:30:00Z"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"],
        },
    ).execute()
    events.instances(calendarId="primary", eventId=series["id"]).execute()
    events.list(calendarId="primary", singleEvents=True).execute()
    events.delete(calendarId="primary", eventId=event["id"]).execute()
    events.list(calendarId="primary", syncToken=listing["nextSyncToken"]).execute()
    oauth2_service(emu, creds).userinfo().get().execute()
    missing = EXPECTED - conftest.VALIDATED
    assert not missing, f"methods never validated: {sorted(missing)}"
